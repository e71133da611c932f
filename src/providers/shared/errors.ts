// Upstream errors → the gateway's: every adapter builds its GatewayError through these, so each one carries
// the upstream's scrubbed summary (domain/upstream-errors.ts) and nothing the upstream wrote verbatim.
import { GatewayError, type ErrorCode } from '../../domain/errors.ts';
import { describeUpstream, scrubUpstreamMessage, upstreamCode, type UpstreamSummary } from '../../domain/upstream-errors.ts';
import type { UpstreamFailure } from './types.ts';
import { isObject } from './usage.ts';

/** The summary of an upstream error body (`{error: {code|type, message}}` or the error object itself). */
export function summarizeUpstreamError(body: unknown, status: number | undefined): UpstreamSummary {
  const err = isObject(body) && isObject(body.error) ? body.error : isObject(body) ? body : undefined;
  const message = err && typeof err.message === 'string' ? scrubUpstreamMessage(err.message) : '';
  return {
    status: status ?? null,
    code: err ? (upstreamCode(err.code) ?? upstreamCode(err.type) ?? upstreamCode(err.status)) : null,
    message: message || null,
  };
}

/** A transport failure's summary: its kind and the network error's message, scrubbed (no hosts, no addresses). */
export function transportSummary(failure: UpstreamFailure): UpstreamSummary {
  return { status: null, code: failure.kind, message: scrubUpstreamMessage(failure.message) || null };
}

type ErrorOptions = NonNullable<ConstructorParameters<typeof GatewayError>[2]>;

/**
 * The gateway's error for what the upstream said: the message is the one-line summary (what the caller reads
 * of an upstream_rejected; the other classes get a fixed message when encoded, domain/upstream-errors.ts).
 */
export function upstreamError(code: ErrorCode, summary: UpstreamSummary, options: Omit<ErrorOptions, 'upstream'> = {}): GatewayError {
  return new GatewayError(code, describeUpstream(summary), { ...options, upstream: summary });
}
