// Sends one request along the plan: the first channel that answers 2xx wins; a failure the catalogue
// marks as failover-able (connection refused/reset, timeout, 429, 5xx, upstream auth failure) moves on to
// the next channel before the client has seen a byte. The request's own faults (400/404/422) are returned.
// Every attempt's outcome goes to the channel's breaker (health.ts): synchronous, in memory, no I/O.
import { GatewayError } from '../domain/errors.ts';
import type { Encoded } from '../providers/shared/types.ts';
import { isObject } from '../providers/shared/usage.ts';
import { ClientAbortError, toFailure, UpstreamFailureError, type UpstreamClient, type UpstreamResponse } from '../upstream/client.ts';
import type { Channel } from './channels.ts';
import { SKIP, type HealthOutcome } from './health.ts';

const ERROR_BODY_LIMIT = 64 * 1024;

export interface Attempt {
  channel: string;
  outcome: 'ok' | string;
  ms: number;
}

export interface Dispatched {
  channel: Channel;
  response: UpstreamResponse;
  warnings: Encoded['warnings'];
  attempts: Attempt[];
  /** Milliseconds from the start of dispatch until the winning upstream's response headers. */
  headersMs: number;
}

/** Reads at most `limit` bytes of an error body and parses it as JSON when it is JSON. */
async function readErrorBody(response: UpstreamResponse): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    const buf = chunk as Buffer;
    if (size + buf.length > ERROR_BODY_LIMIT) break;
    chunks.push(buf);
    size += buf.length;
  }
  response.body.destroy();
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** What an attempt's classified error tells the channel's breaker. */
export function healthOutcome(error: GatewayError, midStream = false): HealthOutcome {
  return {
    ok: false,
    blame: error.blameChannel,
    code: error.code,
    retryAfterS: error.code === 'upstream_rate_limited' ? error.retryAfter : undefined,
    authFailure: error.code === 'upstream_auth_failed',
    midStream,
  };
}

/** Nothing better is left after `index`: an unavailable channel is then tried anyway (see plan.ts). */
function nothingLater(channels: readonly Channel[], index: number): boolean {
  for (let i = index + 1; i < channels.length; i++) if (channels[i]?.breaker.available()) return false;
  return true;
}

/**
 * After the winner's headers: its total latency when the body has been read to the end, or a failure when the
 * body breaks (reset, idle timeout) — not when the client left or the gateway stopped reading (no error then).
 */
function watchBody(channel: Channel, response: UpstreamResponse, started: number, signal: AbortSignal): void {
  response.body.once('end', () => channel.breaker.recordLatency(performance.now() - started));
  response.body.once('error', (error: unknown) => {
    const failure = toFailure(error, signal);
    if (failure instanceof UpstreamFailureError) channel.breaker.record(healthOutcome(channel.adapter.classifyError(failure.failure), true));
  });
}

export interface DispatchOptions<T> {
  encode: (channel: Channel) => Encoded;
  /**
   * Runs on a 2xx response before anything is committed to the client (reads a JSON body, or a stream up to
   * its first content). A failover-able GatewayError thrown here counts as this channel's failure and the next
   * channel is tried: a malformed body or a stream that ends before its first token never reaches the client.
   */
  accept: (candidate: Dispatched) => Promise<T>;
  signal: AbortSignal;
  /** The caller's list, filled with every attempt (kept when all of them fail). */
  attempts?: Attempt[];
  /** Channels tried at most. */
  maxAttempts: number;
  /** performance.now() after which no further channel is tried. */
  deadlineAt: number;
  /**
   * Hedging (opt-in per model): when a channel has not been accepted after this many milliseconds, the next
   * channel starts too; the first accepted wins and the other is cancelled (never billed to the user).
   */
  hedgeDelayMs?: (channel: Channel) => number | undefined;
}

/** The adaptive first-byte deadline: 1.5 × the channel's observed p95, at least 250 ms, at most the ceiling. */
function firstByteDeadline(channel: Channel): number | undefined {
  const timeouts = channel.provider.timeouts;
  if (!timeouts.adaptiveFirstByte) return undefined;
  const p95 = channel.breaker.ttfbP95();
  return p95 === null ? undefined : Math.min(timeouts.firstByteMs, Math.max(250, Math.round(p95 * 1.5)));
}

type AttemptResult<T> = { ok: true; value: T; candidate: Dispatched } | { ok: false; error: GatewayError } | { ok: false; cancelled: true };

/** One channel, start to accepted (or failed): records the outcome on the channel's breaker. */
async function attemptOn<T>(upstream: UpstreamClient, channel: Channel, options: DispatchOptions<T>, attempts: Attempt[], dispatchStarted: number, ticket: number, own: AbortSignal): Promise<AttemptResult<T>> {
  const started = performance.now();
  let settled = false;
  let error: GatewayError;
  try {
    const encoded = options.encode(channel);
    try {
      const response = await upstream.send(channel.provider.id, encoded.upstream, own, firstByteDeadline(channel));
      if (response.status >= 200 && response.status < 300) {
        const ttfbMs = performance.now() - started;
        const candidate: Dispatched = { channel, response, warnings: encoded.warnings, attempts, headersMs: Math.round(performance.now() - dispatchStarted) };
        const verdict = await acceptOrFail(options.accept, candidate, own);
        if (verdict.ok) {
          channel.breaker.record({ ok: true, ttfbMs }, ticket);
          settled = true;
          // A JSON body was read whole by accept; a stream is still arriving.
          if (response.body.readableEnded) channel.breaker.recordLatency(performance.now() - started);
          else watchBody(channel, response, started, options.signal);
          attempts.push({ channel: channel.id, outcome: 'ok', ms: Math.round(performance.now() - started) });
          channel.breaker.countAttempt('ok');
          return { ok: true, value: verdict.value, candidate };
        }
        error = verdict.error;
      } else {
        const body = await readErrorBody(response);
        error = channel.adapter.classifyError({ kind: 'status', status: response.status, headers: response.headers, body, message: `HTTP ${response.status}` });
      }
    } catch (failure) {
      if (failure instanceof ClientAbortError) {
        if (options.signal.aborted) throw failure;
        // Cancelled by the dispatcher (a hedge lost the race): not the channel's fault.
        attempts.push({ channel: channel.id, outcome: 'hedge_cancelled', ms: Math.round(performance.now() - started) });
        channel.breaker.countAttempt('hedge_cancelled');
        return { ok: false, cancelled: true };
      }
      if (!(failure instanceof UpstreamFailureError)) throw failure;
      error = channel.adapter.classifyError(failure.failure);
    }
    channel.breaker.record(healthOutcome(error), ticket);
    settled = true;
  } finally {
    // The client left, or something other than the upstream failed: nothing learnt, the probe is free again.
    if (!settled) channel.breaker.release(ticket);
  }
  attempts.push({ channel: channel.id, outcome: error.code, ms: Math.round(performance.now() - started) });
  channel.breaker.countAttempt(error.code);
  return { ok: false, error };
}

export async function dispatch<T>(upstream: UpstreamClient, channels: readonly Channel[], options: DispatchOptions<T>): Promise<Dispatched & { value: T }> {
  const { signal } = options;
  const attempts: Attempt[] = options.attempts ?? [];
  const dispatchStarted = performance.now();
  let lastError: GatewayError | undefined;
  let next = 0;
  let started = 0;
  /** The id of the attempt started as a hedge (-1: none). */
  let hedgeId = -1;
  type Running = { promise: Promise<AttemptResult<T> & { id: number }>; controller: AbortController; channel: Channel };
  const running = new Map<number, Running>();

  /** The next channel that may be tried now, admitted by its breaker (or undefined: none left). */
  const admitNext = (): { channel: Channel; ticket: number } | undefined => {
    while (next < channels.length) {
      if (started >= options.maxAttempts || (started > 0 && performance.now() > options.deadlineAt)) return undefined;
      const i = next++;
      const channel = channels[i];
      if (!channel) continue;
      // Its breaker opened (or a Retry-After began) since the plan, or another request holds the half-open probe.
      let ticket = channel.breaker.admit(false);
      if (ticket === SKIP) {
        if (!nothingLater(channels, i)) continue;
        ticket = channel.breaker.admit(true);
      }
      return { channel, ticket };
    }
    return undefined;
  };
  const start = (): boolean => {
    const admitted = admitNext();
    if (!admitted) return false;
    const id = started++;
    const controller = new AbortController();
    // Only a hedged request ever cancels one of its own attempts; otherwise the client's signal is enough.
    const own = options.hedgeDelayMs ? AbortSignal.any([signal, controller.signal]) : signal;
    const promise = attemptOn(upstream, admitted.channel, options, attempts, dispatchStarted, admitted.ticket, own).then((r) => ({ ...r, id }));
    running.set(id, { promise, controller, channel: admitted.channel });
    return true;
  };
  const cancelOthers = (winner: number): void => {
    for (const [id, r] of running) if (id !== winner) r.controller.abort();
  };

  try {
    while (running.size > 0 || start()) {
      if (running.size === 0) continue;
      // With one attempt in flight and a hedge delay for its channel, race it against the delay.
      const only = running.size === 1 ? [...running.values()][0] : undefined;
      const delay = only ? options.hedgeDelayMs?.(only.channel) : undefined;
      let timer: NodeJS.Timeout | undefined;
      const hedge = delay === undefined ? undefined : new Promise<'hedge'>((resolve) => (timer = setTimeout(() => resolve('hedge'), delay)));
      const result = await Promise.race([...[...running.values()].map((r) => r.promise), ...(hedge ? [hedge] : [])]);
      if (timer) clearTimeout(timer);
      if (result === 'hedge') {
        if (only && start()) {
          only.channel.breaker.hedges += 1;
          hedgeId = started - 1;
        }
        continue;
      }
      running.delete(result.id);
      if (result.ok) {
        if (result.id === hedgeId) result.candidate.channel.breaker.hedgeWins += 1;
        cancelOthers(result.id);
        return { ...result.candidate, value: result.value };
      }
      if ('cancelled' in result) continue;
      lastError = result.error;
      if (!result.error.failover || signal.aborted) {
        cancelOthers(-1);
        break;
      }
    }
  } finally {
    // Losers finish on their own (their bodies are dropped by accept's failure path); nothing is awaited here.
    for (const r of running.values()) void r.promise.catch(() => undefined);
  }
  throw lastError ?? new GatewayError('no_channel_available', 'No upstream channel is available for this model.');
}

/** The accept step's verdict: its value, or the gateway error that fails this channel over (body dropped). */
async function acceptOrFail<T>(accept: (candidate: Dispatched) => Promise<T>, candidate: Dispatched, signal: AbortSignal): Promise<{ ok: true; value: T } | { ok: false; error: GatewayError }> {
  try {
    return { ok: true, value: await accept(candidate) };
  } catch (error) {
    if (!candidate.response.body.destroyed) candidate.response.body.destroy();
    if (signal.aborted || error instanceof ClientAbortError) throw new ClientAbortError('client closed the request');
    if (error instanceof GatewayError) return { ok: false, error };
    if (error instanceof UpstreamFailureError) return { ok: false, error: candidate.channel.adapter.classifyError(error.failure) };
    // A transport error while reading the body (undici and system errors carry a code): the upstream's fault.
    // Anything else is a bug of ours and is not passed off as an upstream failure.
    if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
      const failure = toFailure(error, signal);
      if (failure instanceof UpstreamFailureError) return { ok: false, error: candidate.channel.adapter.classifyError(failure.failure) };
      throw failure;
    }
    throw error;
  }
}

/** Reads a successful upstream's JSON body; a broken body becomes the channel's classified error. */
export async function readUpstreamJson(sent: Dispatched, signal: AbortSignal): Promise<unknown> {
  try {
    return await sent.response.body.json();
  } catch (error) {
    if (signal.aborted) throw new ClientAbortError('client closed the request');
    const failure = error instanceof SyntaxError ? new UpstreamFailureError({ kind: 'bad_response', message: 'invalid JSON' }) : toFailure(error, signal);
    throw failure instanceof UpstreamFailureError ? sent.channel.adapter.classifyError(failure.failure) : failure;
  }
}
