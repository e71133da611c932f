// Gemini API errors: Google's JSON error body {"error": {"code": 400, "message": "…", "status": "INVALID_ARGUMENT",
// "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", …},
// {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}.
//   Status codes and their meaning: https://ai.google.dev/gemini-api/docs/troubleshooting
//   Error model (status, details):  https://cloud.google.com/apis/design/errors
//   Rate limits (429 RESOURCE_EXHAUSTED): https://ai.google.dev/gemini-api/docs/rate-limits
//
// Mappings chosen:
// - 400 with reason API_KEY_INVALID (a wrong key is a 400 on Gemini), 401 UNAUTHENTICATED, 403 PERMISSION_DENIED
//   → upstream_auth_failed (the channel's fault: fail over).
// - 429 RESOURCE_EXHAUSTED → upstream_rate_limited; Retry-After from the header, else from RetryInfo.retryDelay.
// - 408, 409, 5xx (500 INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, …) → upstream_error.
// - other 4xx (400 INVALID_ARGUMENT / FAILED_PRECONDITION, 404 NOT_FOUND, …) → upstream_rejected with the status.
// - transport failures: exactly as the OpenAI-compatible adapter maps them.
// Each error carries the scrubbed summary (../shared/errors.ts): the status name and the scrubbed message.
import type { GatewayError } from '../../domain/errors.ts';
import { classifyOpenAIError } from '../openai-compatible/errors.ts';
import { summarizeUpstreamError, upstreamError } from '../shared/errors.ts';
import type { UpstreamFailure } from '../shared/types.ts';
import { isObject, type Json } from '../shared/usage.ts';

interface GoogleError {
  code: number | undefined;
  status: string | undefined;
  message: string | undefined;
  reasons: string[];
  retryDelay: number | undefined;
}

/** The `error` object of a Google error body (the stream endpoint without alt=sse wraps it in an array). */
export function googleError(body: unknown): GoogleError {
  const root = Array.isArray(body) ? (body[0] as unknown) : body;
  const err: Json = isObject(root) && isObject(root.error) ? root.error : {};
  const details = Array.isArray(err.details) ? err.details.filter(isObject) : [];
  let retryDelay: number | undefined;
  for (const detail of details) {
    const match = typeof detail.retryDelay === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(detail.retryDelay) : null;
    if (match) retryDelay = Math.ceil(Number(match[1]));
  }
  return {
    code: typeof err.code === 'number' ? err.code : undefined,
    status: typeof err.status === 'string' ? err.status : undefined,
    message: typeof err.message === 'string' ? err.message : undefined,
    reasons: details.flatMap((d) => (typeof d.reason === 'string' ? [d.reason] : [])),
    retryDelay,
  };
}

function retryAfterHeader(headers: UpstreamFailure['headers']): number | undefined {
  const raw = headers?.['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  const seconds = value === undefined ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : undefined;
}

const AUTH_STATUSES = new Set(['UNAUTHENTICATED', 'PERMISSION_DENIED']);
const SERVER_STATUSES = new Set(['INTERNAL', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'UNKNOWN', 'ABORTED']);

/** An error reported by status (or inside a stream, by its `code`) → the gateway's catalogue. */
export function classifyGeminiError(failure: UpstreamFailure): GatewayError {
  if (failure.kind !== 'status') return classifyOpenAIError(failure);
  const err = googleError(failure.body);
  const status = failure.status ?? err.code ?? 502;
  const summary = summarizeUpstreamError({ error: { code: err.status, message: err.message } }, status);
  if (status === 401 || status === 403 || (err.status !== undefined && AUTH_STATUSES.has(err.status)) || err.reasons.includes('API_KEY_INVALID')) {
    return upstreamError('upstream_auth_failed', summary);
  }
  if (status === 429 || err.status === 'RESOURCE_EXHAUSTED') {
    const retryAfter = retryAfterHeader(failure.headers) ?? err.retryDelay;
    return upstreamError('upstream_rate_limited', summary, retryAfter === undefined ? {} : { retryAfter });
  }
  if (status === 408 || status === 409 || status >= 500 || (err.status !== undefined && SERVER_STATUSES.has(err.status))) {
    return upstreamError('upstream_error', summary);
  }
  return upstreamError('upstream_rejected', summary, { status });
}
