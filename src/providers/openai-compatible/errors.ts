// OpenAI error responses: {"error": {"message", "type", "param", "code"}}.
// https://platform.openai.com/docs/guides/error-codes
// Every error carries the upstream's scrubbed summary (../shared/errors.ts); the client sees a fixed message for
// all but upstream_rejected (domain/upstream-errors.ts).
import { GatewayError } from '../../domain/errors.ts';
import { summarizeUpstreamError, transportSummary, upstreamError } from '../shared/errors.ts';
import type { UpstreamFailure } from '../shared/types.ts';

function retryAfterSeconds(headers: UpstreamFailure['headers']): number | undefined {
  const raw = headers?.['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

export function classifyOpenAIError(failure: UpstreamFailure): GatewayError {
  const transport = { upstream: transportSummary(failure) };
  switch (failure.kind) {
    case 'connect':
      return new GatewayError('upstream_error', 'the upstream could not be reached', transport);
    case 'reset':
      return new GatewayError('upstream_error', 'the upstream closed the connection unexpectedly', transport);
    case 'connect_timeout':
      return new GatewayError('upstream_timeout', 'the upstream did not accept the connection in time', transport);
    case 'first_byte_timeout':
      return new GatewayError('upstream_timeout', 'the upstream did not start answering in time', transport);
    case 'idle_timeout':
      return new GatewayError('upstream_timeout', 'the upstream stopped sending in the middle of its answer', transport);
    case 'bad_response':
      return new GatewayError('upstream_bad_response', 'the upstream sent an invalid response', transport);
    case 'status':
      break;
  }
  const status = failure.status ?? 502;
  const summary = summarizeUpstreamError(failure.body, status);
  if (status === 401 || status === 403) return upstreamError('upstream_auth_failed', summary);
  if (status === 429) {
    const retryAfter = retryAfterSeconds(failure.headers);
    return upstreamError('upstream_rate_limited', summary, retryAfter === undefined ? {} : { retryAfter });
  }
  if (status === 408 || status === 409 || status >= 500) return upstreamError('upstream_error', summary);
  return upstreamError('upstream_rejected', summary, { status });
}
