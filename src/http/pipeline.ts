// The chat request path (ARCHITECTURE §1), shared by every client dialect:
// decode → (authenticated by the preHandler) → quote + hold → plan → dispatch → respond (JSON or SSE) → settle.
// Same protocol on both sides → the upstream's own body and frames pass through (with the receipt added);
// otherwise the canonical OpenAI chat shape sits in between.
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { BillingSession, Outcome } from '../billing/session.ts';
import { countChatInput, quoteChat, type Quote } from '../billing/quote.ts';
import { TokenCounter } from '../billing/tokens.ts';
import { GatewayError } from '../domain/errors.ts';
import { formatCredits } from '../domain/money.ts';
import type { Usage } from '../domain/usage.ts';
import type { ChatDialect, ChatStreamEncoder, DecodedChat, DialectContext, Receipt } from '../protocol/dialect.ts';
import { SSE_HEADERS } from '../protocol/openai/sse.ts';
import { sseFrames } from '../providers/shared/sse.ts';
import type { CallContext, ChatResult, SseFrame } from '../providers/shared/types.ts';
import type { Channel } from '../routing/channels.ts';
import { dispatch, readUpstreamJson, type Attempt, type Dispatched } from '../routing/dispatch.ts';
import { plan } from '../routing/plan.ts';
import { ClientAbortError, toFailure, UpstreamFailureError } from '../upstream/client.ts';
import type { AuthContext } from '../accounts/authenticator.ts';
import type { PricedModel } from '../billing/catalogue.ts';
import { admitAndHold } from './admission.ts';
import { requireAuth, resolveModel, type AppDeps } from './context.ts';
import { attemptsHeader, cancelOnClientClose } from './routes/v1/common.ts';
import { StreamWriter } from './sse-writer.ts';

interface Run {
  deps: AppDeps;
  reply: FastifyReply;
  dialect: ChatDialect;
  decoded: DecodedChat;
  session: BillingSession;
  sent: Dispatched;
  call: CallContext;
  quote: Quote;
  signal: AbortSignal;
  native: boolean;
  /** When the request arrived, in Unix seconds. */
  createdAt: number;
}

function dialectContext(run: Run, wantsStreamUsage: boolean): DialectContext {
  return {
    requestId: run.session.info.requestId,
    model: run.session.info.model.config.id,
    wantsStreamUsage,
    countedInputTokens: run.quote.countedInputTokens,
    original: run.decoded.original,
    createdAt: run.createdAt,
  };
}

/** Same protocol on both sides, and both sides able to pass through: no translation at all. */
function isNative(channel: Channel, dialect: ChatDialect): boolean {
  return dialect.passThrough !== undefined && channel.adapter.native?.protocol === dialect.protocol;
}

/** Text of the canonical chunk's output, counted only to bill a stream that ends without usage. */
function deliveredText(chunk: ChatCompletionChunk): string {
  const into: string[] = [];
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta as (typeof choice.delta & { reasoning_content?: unknown }) | undefined;
    if (!delta) continue;
    if (typeof delta.content === 'string' && delta.content) into.push(delta.content);
    if (typeof delta.refusal === 'string' && delta.refusal) into.push(delta.refusal);
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) into.push(delta.reasoning_content);
    for (const call of delta.tool_calls ?? []) {
      if (call.function?.name) into.push(call.function.name);
      if (call.function?.arguments) into.push(call.function.arguments);
    }
  }
  return into.join('');
}

function deliveredFromCompletion(result: ChatResult): string[] {
  const out: string[] = [];
  for (const choice of result.response.choices ?? []) {
    const m = choice.message;
    if (typeof m?.content === 'string' && m.content) out.push(m.content);
    for (const call of m?.tool_calls ?? []) if (call.type === 'function') out.push(call.function.name, call.function.arguments);
  }
  return out;
}

/**
 * The output the client received, counted as it leaves the process (billing/tokens.ts: bounded work, never
 * re-counted at the end): the bill when the upstream reported no usage (docs/billing.md).
 */
class DeliveredOutput {
  private readonly counter = new TokenCounter();
  private any = false;

  add(text: string): void {
    if (!text) return;
    this.any = true;
    this.counter.push(text);
  }

  /** Counted prompt + counted delivered output; nothing when nothing was delivered. */
  async usage(quote: Quote): Promise<Usage | undefined> {
    if (!this.any) return undefined;
    const output = await this.counter.count();
    return { input: quote.countedInputTokens, cachedInput: 0, cacheWrite: 0, output: output.tokens, reasoning: 0 };
  }
}

function countedUsage(quote: Quote, delivered: string[]): Promise<Usage | undefined> {
  const output = new DeliveredOutput();
  output.add(delivered.join(''));
  return output.usage(quote);
}

function outcome(run: Run, usage: Usage | undefined, status: Outcome['status'], httpStatus: number, errorCode: string | null, ttfbMs: number | null): Outcome {
  return { usage, status, httpStatus, errorCode, provider: run.sent.channel.provider.id, channel: run.sent.channel.id, ttfbMs, attempts: attemptsHeader(run.sent.attempts) };
}

/** A JSON answer read and decoded, not yet settled: usage for billing and how to encode it for the client. */
interface PreparedJson {
  usage: Usage | undefined;
  encode: (receipt: Receipt) => unknown;
}

/** Runs inside dispatch's accept step: a body that cannot be decoded fails over to the next channel. */
async function prepareJson(run: Run): Promise<PreparedJson> {
  const { sent, dialect } = run;
  const body = await readUpstreamJson(sent, run.signal);
  const native = sent.channel.adapter.native;
  if (run.native && native && dialect.passThrough) {
    const passThrough = dialect.passThrough;
    return { usage: native.usageFromBody(body) ?? (await countedUsage(run.quote, native.deliveredFromBody(body))), encode: (receipt) => passThrough.encodeResponse(body, receipt) };
  }
  const chat = sent.channel.adapter.chat;
  if (!chat) throw new GatewayError('internal_error', 'channel cannot serve chat');
  const result = chat.decodeResponse(body, run.call);
  const context = dialectContext(run, false);
  return { usage: result.usage ?? (await countedUsage(run.quote, deliveredFromCompletion(result))), encode: (receipt) => dialect.encodeResponse(result.response, receipt, context) };
}

async function respondJson(run: Run, prepared: PreparedJson): Promise<unknown> {
  const cost = await run.session.settle(outcome(run, prepared.usage, 'ok', 200, null, run.sent.headersMs));
  void run.reply.header('x-switchyard-credits-charged', formatCredits(cost));
  return prepared.encode({ usage: prepared.usage, cost });
}

/** The frames of a stream, each already encoded for the client, with what billing needs to know. */
interface StreamStep {
  text: string;
  usage?: Usage;
  done?: boolean;
  error?: GatewayError;
  /** Output text this step carries to the client (billed by counting when no usage is reported). */
  delivered?: string;
}

async function* nativeSteps(run: Run, frames: AsyncIterable<SseFrame>): AsyncGenerator<StreamStep> {
  const native = run.sent.channel.adapter.native;
  const passThrough = run.dialect.passThrough;
  if (!native || !passThrough) throw new GatewayError('internal_error', 'no pass-through codec');
  for await (const item of native.tap(frames)) {
    const receipt = item.usage ? { usage: item.usage, cost: run.session.chargeFor(item.usage) } : undefined;
    // An upstream error event is not forwarded (it may name the operator's organization or hosts): the stream
    // ends with the gateway's own error event instead (respondStream → passThrough.error).
    yield item.error ? { text: '', error: item.error } : { text: passThrough.frame(item.frame, receipt), usage: item.usage, done: item.done, delivered: item.delivered };
  }
}

async function* translatedSteps(run: Run, frames: AsyncIterable<SseFrame>, encoder: ChatStreamEncoder): AsyncGenerator<StreamStep> {
  const chat = run.sent.channel.adapter.chat;
  if (!chat) throw new GatewayError('internal_error', 'channel cannot serve chat');
  for await (const event of chat.decodeStream(frames, run.call)) {
    if (event.type === 'done') {
      yield { text: '', done: true };
    } else if (event.type === 'error') {
      yield { text: '', error: event.error };
    } else {
      const receipt = event.usage ? { usage: event.usage, cost: run.session.chargeFor(event.usage) } : undefined;
      yield { text: encoder.chunk(event.chunk, event.raw, receipt), usage: event.usage, delivered: deliveredText(event.chunk) };
    }
  }
}

/** A stream read up to its first content: what was read so far (not yet sent) and the rest to come. */
interface OpenedStream {
  encoder: ChatStreamEncoder;
  early: StreamStep[];
  rest: AsyncIterator<StreamStep>;
}

/**
 * Runs inside dispatch's accept step: reads the upstream's stream until its first content (or its normal end)
 * without sending anything. A stream that fails or ends before that fails over to the next channel; the
 * client sees only the channel that answered.
 */
async function openStream(run: Run): Promise<OpenedStream> {
  const encoder = run.dialect.streamEncoder(dialectContext(run, run.decoded.wantsStreamUsage));
  const frames = sseFrames(run.sent.response.body);
  const steps = run.native ? nativeSteps(run, frames) : translatedSteps(run, frames, encoder);
  const early: StreamStep[] = [];
  for (;;) {
    const next = await steps.next();
    if (next.done) throw new GatewayError('upstream_bad_response', 'The upstream ended the stream before its first token.');
    const step = next.value;
    if (step.error) throw step.error;
    early.push(step);
    if (step.delivered || step.done) return { encoder, early, rest: steps };
  }
}

async function respondStream(run: Run, opened: OpenedStream): Promise<void> {
  const { reply, session, sent, signal } = run;
  const { encoder } = opened;
  reply.hijack();
  const headers: OutgoingHttpHeaders = { ...SSE_HEADERS };
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
  reply.raw.writeHead(200, headers);
  const writer = new StreamWriter(reply.raw, run.deps.config.server.streamStallTimeoutMs);
  // Output is counted once it has left the process, and only until the upstream reports usage.
  const output = new DeliveredOutput();
  let usage: Usage | undefined;
  let completed = false;
  let failure: GatewayError | undefined;
  let ttfbMs: number | null = null;
  const steps: AsyncIterable<StreamStep> = {
    [Symbol.asyncIterator]: () => opened.rest,
  };
  try {
    for await (const step of (async function* () {
      yield* opened.early;
      yield* steps;
    })()) {
      if (step.error) {
        failure = step.error;
        break;
      }
      if (step.usage) usage = step.usage;
      if (step.done) completed = true;
      if (step.text) {
        ttfbMs ??= Math.round(performance.now() - session.info.startedAt);
        const delivered = step.delivered;
        await writer.write(
          step.text,
          delivered
            ? () => {
                if (!usage) output.add(delivered);
              }
            : undefined,
        );
        // A client that left costs nothing further: the upstream is cancelled (finally) and nothing more is read.
        if (writer.closed) break;
      }
      // After the end, read on to the end of the body so the upstream connection is reused.
    }
  } catch (error) {
    const mapped = toFailure(error, signal);
    if (!(mapped instanceof ClientAbortError)) {
      failure = mapped instanceof UpstreamFailureError ? sent.channel.adapter.classifyError(mapped.failure) : new GatewayError('internal_error', 'The stream failed.');
    }
  } finally {
    if (!sent.response.body.destroyed && !completed) sent.response.body.destroy();
  }
  const clientGone = signal.aborted || writer.closed;
  // Still connected: what is buffered toward the client goes out after the settle, so it was delivered.
  if (!clientGone) writer.deliverBuffered();
  if (!completed && !failure && !clientGone) {
    failure = new GatewayError('upstream_bad_response', 'The upstream ended the stream before it was complete.');
  }
  const billed = usage ?? (await output.usage(run.quote));
  if (clientGone) {
    await session.settle(outcome(run, billed, 'client_closed', 499, 'client_closed', ttfbMs));
    return;
  }
  // The stream's last bytes go out once the request is settled: a client that has read the end of its stream
  // finds its receipt (GET /v1/generation) and ledger lines already there, as a JSON answer does.
  const settleThenEnd = async (status: Outcome['status'], httpStatus: number, code: string | null, last: () => string): Promise<void> => {
    try {
      await session.settle({ ...outcome(run, billed, status, httpStatus, code, ttfbMs), upstream: failure?.upstream ?? null });
    } finally {
      writer.end(last());
    }
  };
  if (failure) {
    const passThrough = run.native ? run.dialect.passThrough : undefined;
    const error = failure;
    await settleThenEnd('error', error.status, error.code, () => (passThrough ? passThrough.error(error, session.info.requestId) : encoder.error(error)));
    return;
  }
  // A passed-through stream already carried the upstream's own end; a translated one gets the dialect's.
  await settleThenEnd('ok', 200, null, () => (run.native ? '' : encoder.end(billed ? { usage: billed, cost: session.chargeFor(billed) } : undefined)));
}

/** The hedge delay for a channel: the model's fixed delay, or the channel's observed time-to-first-byte p95. */
function hedgeDelay(model: PricedModel, channel: Channel): number | undefined {
  const delay = model.config.hedgeDelayMs;
  if (delay !== 'adaptive') return delay;
  const p95 = channel.breaker.ttfbP95();
  return Math.min(10_000, Math.max(50, p95 === null ? 1_000 : Math.round(p95)));
}

/** A fallback model named in the request: it must exist and the key must be allowed to use it. */
function resolveFallback(deps: AppDeps, auth: AuthContext, id: string): PricedModel {
  try {
    return resolveModel(deps, auth, id, 'chat');
  } catch (error) {
    if (error instanceof GatewayError) throw new GatewayError(error.code, error.message, { param: 'models' });
    throw error;
  }
}

export async function runChat(deps: AppDeps, request: FastifyRequest, reply: FastifyReply, dialect: ChatDialect): Promise<unknown> {
  const startedAt = performance.now();
  const createdAt = Math.floor(Date.now() / 1000);
  const decoded = dialect.decode(request.body);
  const auth = requireAuth(request.auth);
  const model = resolveModel(deps, auth, decoded.canonical.model, 'chat');
  // Fallback models (request `models`): tried after every channel of the requested one, billed at the model
  // that answered; the hold covers the dearest of them.
  const candidates = [model, ...(decoded.fallbackModels ?? []).map((id) => resolveFallback(deps, auth, id))];
  const byId = new Map(candidates.map((m) => [m.config.id, m]));
  const input = await countChatInput(decoded.canonical);
  const quotes = candidates.map((m) => quoteChat(decoded.canonical, m, input.tokens));
  const quote = quotes.reduce((a, b) => (b.hold > a.hold ? b : a));
  const session = await admitAndHold(deps, request, reply, { auth, model, endpoint: dialect.endpoint, stream: decoded.stream, startedAt, quote });
  const signal = cancelOnClientClose(reply);
  const modelOf = (ch: Channel): PricedModel => byId.get(ch.model) ?? model;
  const callFor = (ch: Channel): CallContext => ({ settings: ch.settings, upstreamModel: ch.upstreamModel, stream: decoded.stream, maxOutputTokens: modelOf(ch).config.maxOutputTokens });
  const runFor = (sent: Dispatched): Run => ({ deps, reply, dialect, decoded, session, sent, call: callFor(sent.channel), quote, signal, native: isNative(sent.channel, dialect), createdAt });
  const attempts: Attempt[] = [];
  try {
    const channels = candidates.flatMap((m) => plan(deps.channels.get(m.config.id) ?? []));
    const won = await dispatch(deps.upstream, channels, {
      encode: (ch) => {
        if (isNative(ch, dialect) && ch.adapter.native) return ch.adapter.native.encodeRequest(decoded.original, callFor(ch));
        if (!ch.adapter.chat) throw new GatewayError('internal_error', 'channel cannot serve chat');
        return ch.adapter.chat.encodeRequest(decoded.canonical, callFor(ch));
      },
      accept: (candidate): Promise<PreparedJson | OpenedStream> => (decoded.stream ? openStream(runFor(candidate)) : prepareJson(runFor(candidate))),
      signal,
      attempts,
      maxAttempts: deps.config.routing.maxAttempts,
      deadlineAt: startedAt + deps.config.routing.deadlineMs,
      ...(candidates.some((m) => m.config.hedgeDelayMs !== undefined) ? { hedgeDelayMs: (ch: Channel) => hedgeDelay(modelOf(ch), ch) } : {}),
    });
    void reply.header('x-switchyard-attempts', attemptsHeader(attempts));
    if (modelOf(won.channel) !== model) session.useModel(modelOf(won.channel));
    const run = runFor(won);
    const warnings = run.native ? won.warnings : [...decoded.warnings, ...won.warnings];
    if (warnings.length > 0) void reply.header('x-switchyard-warnings', JSON.stringify(warnings));
    if ('early' in won.value) {
      await respondStream(run, won.value);
      return reply;
    }
    return await respondJson(run, won.value);
  } catch (error) {
    if (attempts.length > 0 && !reply.sent) void reply.header('x-switchyard-attempts', attemptsHeader(attempts));
    await session.release(signal.aborted ? new ClientAbortError('client closed') : error, { channel: attempts.at(-1)?.channel ?? null, attempts: attemptsHeader(attempts) || null });
    throw error;
  }
}
