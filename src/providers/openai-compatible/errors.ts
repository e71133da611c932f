// OpenAI error responses: {"error": {"message", "type", "param", "code"}}.
// https://platform.openai.com/docs/guides/error-codes
import { GatewayError } from '../../domain/errors.ts';
import type { UpstreamFailure } from '../shared/types.ts';
import { summarizeUpstreamError } from '../shared/usage.ts';

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
  switch (failure.kind) {
    case 'connect':
      return new GatewayError('upstream_error', `the upstream could not be reached (${failure.message})`);
    case 'reset':
      return new GatewayError('upstream_error', `the upstream closed the connection unexpectedly (${failure.message})`);
    case 'connect_timeout':
      return new GatewayError('upstream_timeout', 'the upstream did not accept the connection in time');
    case 'first_byte_timeout':
      return new GatewayError('upstream_timeout', 'the upstream did not start answering in time');
    case 'idle_timeout':
      return new GatewayError('upstream_timeout', 'the upstream stopped sending in the middle of its answer');
    case 'bad_response':
      return new GatewayError('upstream_bad_response', `the upstream sent an invalid response (${failure.message})`);
    case 'status':
      break;
  }
  const status = failure.status ?? 502;
  const summary = summarizeUpstreamError(failure.body, status);
  if (status === 401 || status === 403) {
    return new GatewayError('upstream_auth_failed', `the upstream refused the gateway's credentials (${status})`);
  }
  if (status === 429) {
    const retryAfter = retryAfterSeconds(failure.headers);
    return new GatewayError('upstream_rate_limited', summary, retryAfter === undefined ? {} : { retryAfter });
  }
  if (status === 408 || status === 409 || status >= 500) return new GatewayError('upstream_error', summary);
  return new GatewayError('upstream_rejected', summary, { status });
}
