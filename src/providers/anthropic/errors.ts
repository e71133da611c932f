// Anthropic errors: HTTP status + `{"type":"error","error":{"type","message"},"request_id"}`, and the same
// object as an `event: error` in a stream.
// https://docs.anthropic.com/en/api/errors
// https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events
//
//   400 invalid_request_error → upstream_rejected (400)      413 request_too_large → upstream_rejected (413)
//   401 authentication_error, 403 permission_error → upstream_auth_failed (fail over, blame the channel)
//   402 billing_error, and a 400 about the credit balance → upstream_error (the channel's account, not the request)
//   404 not_found_error → upstream_rejected (404)             429 rate_limit_error → upstream_rate_limited + Retry-After
//   500 api_error, 529 overloaded_error, any other 5xx → upstream_error (retryable: fail over)
// Transport failures (connect, reset, timeouts, bad response) mean the same for every upstream: that mapping
// is the OpenAI-compatible adapter's, reused rather than repeated.
import type { GatewayError } from '../../domain/errors.ts';
import { classifyOpenAIError } from '../openai-compatible/errors.ts';
import { summarizeUpstreamError, upstreamError } from '../shared/errors.ts';
import type { UpstreamFailure } from '../shared/types.ts';
import { isObject } from '../shared/usage.ts';

/** The HTTP status Anthropic documents for each error type (used for errors that arrive inside a stream). */
const STATUS_OF_TYPE: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

function errorOf(body: unknown): { type: string | undefined; message: string } {
  const err = isObject(body) && isObject(body.error) ? body.error : undefined;
  return {
    type: err && typeof err.type === 'string' ? err.type : undefined,
    message: err && typeof err.message === 'string' ? err.message : '',
  };
}

export function classifyAnthropicError(failure: UpstreamFailure): GatewayError {
  if (failure.kind !== 'status') return classifyOpenAIError(failure);
  const status = failure.status ?? 502;
  const { type, message } = errorOf(failure.body);
  // The channel's account cannot pay (a 400 about the credit balance too): the operator's problem, not the caller's.
  if (status === 402 || type === 'billing_error' || (status === 400 && /credit balance/i.test(message)) || status === 529 || type === 'overloaded_error') {
    return upstreamError('upstream_error', summarizeUpstreamError(failure.body, status));
  }
  // 401/403 → auth failed, 429 → rate limited with Retry-After, 408/409/5xx → upstream_error,
  // other 4xx → upstream_rejected with the upstream's status: the same rules as OpenAI's.
  return classifyOpenAIError(failure);
}

/** An `event: error` received mid-stream (e.g. overloaded_error) → the error to end the client's stream with. */
export function streamError(body: unknown): GatewayError {
  const { type } = errorOf(body);
  const status = (type === undefined ? undefined : STATUS_OF_TYPE[type]) ?? 500;
  return classifyAnthropicError({ kind: 'status', status, body, message: `stream error event${type ? ` (${type})` : ''}` });
}
