// The only code that talks to providers. One undici Agent per provider (its own connect timeout and
// keep-alive pool); every call has a connect timeout, a first-byte (headers) deadline, an idle timeout
// between body chunks, and the caller's AbortSignal (the client went away).
import { Agent, errors, request, type Dispatcher } from 'undici';
import type { ProviderConfig, Timeouts } from '../config/index.ts';
import type { UpstreamFailure, UpstreamRequest } from '../providers/shared/types.ts';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

/** Thrown for transport-level failures; the adapter classifies it. */
export class UpstreamFailureError extends Error {
  override name = 'UpstreamFailureError';
  constructor(readonly failure: UpstreamFailure) {
    super(failure.message);
  }
}

/** The client went away: not the upstream's fault, nothing to classify. */
export class ClientAbortError extends Error {
  override name = 'ClientAbortError';
}

function codeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    current = current.cause;
  }
  return error instanceof Error ? ((error as { code?: unknown }).code as string | undefined) : undefined;
}

/** Maps an undici/system error to a transport failure. */
export function toFailure(error: unknown, signal: AbortSignal): Error {
  if (signal.aborted) return new ClientAbortError('client closed the request');
  if (error instanceof errors.ConnectTimeoutError) return new UpstreamFailureError({ kind: 'connect_timeout', message: 'connect timeout' });
  if (error instanceof errors.HeadersTimeoutError) return new UpstreamFailureError({ kind: 'first_byte_timeout', message: 'first-byte deadline passed' });
  if (error instanceof errors.BodyTimeoutError) return new UpstreamFailureError({ kind: 'idle_timeout', message: 'idle timeout' });
  const code = codeOf(error) ?? 'unknown';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new UpstreamFailureError({ kind: 'connect', message: code });
  }
  if (code.startsWith('ERR_TLS') || code.includes('CERT')) return new UpstreamFailureError({ kind: 'connect', message: code });
  return new UpstreamFailureError({ kind: 'reset', message: code });
}

export class UpstreamClient {
  private readonly agents = new Map<string, { agent: Agent; timeouts: Timeouts }>();

  constructor(providers: readonly ProviderConfig[]) {
    for (const p of providers) {
      const agent = new Agent({
        connect: { timeout: p.timeouts.connectMs },
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        pipelining: 1,
        connections: null,
      });
      this.agents.set(p.id, { agent, timeouts: p.timeouts });
    }
  }

  /** `firstByteMs` overrides the provider's first-byte deadline for this call (adaptive deadlines). */
  async send(providerId: string, upstream: UpstreamRequest, signal: AbortSignal, firstByteMs?: number): Promise<UpstreamResponse> {
    const entry = this.agents.get(providerId);
    if (!entry) throw new Error(`no upstream agent for provider ${providerId}`);
    const deadline = firstByteMs ?? entry.timeouts.firstByteMs;
    // undici arms its headers timeout on a coarse timer (a ~0.5 s tick): the first-byte deadline is enforced
    // with a native timer instead, so a 250 ms deadline means 250 ms. undici's own stays as a backstop.
    const firstByte = new AbortController();
    const timer = setTimeout(() => firstByte.abort(), deadline);
    try {
      const res = await request(upstream.url, {
        method: upstream.method,
        headers: upstream.headers,
        body: upstream.body,
        signal: AbortSignal.any([signal, firstByte.signal]),
        dispatcher: entry.agent,
        headersTimeout: deadline + 1_000,
        bodyTimeout: entry.timeouts.idleMs,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (error) {
      if (firstByte.signal.aborted && !signal.aborted) throw new UpstreamFailureError({ kind: 'first_byte_timeout', message: 'first-byte deadline passed' });
      throw toFailure(error, signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map(({ agent }) => agent.close()));
  }
}
