// The one error type and its catalogue. http/ turns a GatewayError into OpenAI's error JSON in one place.
import type { UpstreamSummary } from './upstream-errors.ts';

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  /** OpenAI's types for its own rate limits (429 rate_limit_exceeded): which limit refused. */
  | 'requests'
  | 'tokens'
  | 'upstream_error'
  | 'timeout_error'
  | 'server_error';

export interface CatalogueEntry {
  status: number;
  type: ErrorType;
  /** Another channel might succeed where this one failed. */
  failover: boolean;
  /** The failure counts against the upstream channel's health. */
  blameChannel: boolean;
}

export const ERROR_CATALOGUE = {
  invalid_request: { status: 400, type: 'invalid_request_error', failover: false, blameChannel: false },
  invalid_json: { status: 400, type: 'invalid_request_error', failover: false, blameChannel: false },
  invalid_api_key: { status: 401, type: 'authentication_error', failover: false, blameChannel: false },
  /** Console: no valid session cookie. */
  session_required: { status: 401, type: 'authentication_error', failover: false, blameChannel: false },
  /** Console login: unknown email or wrong password (never says which). */
  invalid_credentials: { status: 401, type: 'authentication_error', failover: false, blameChannel: false },
  /** Console: a verification or reset token that is unknown, used or expired. */
  invalid_token: { status: 400, type: 'invalid_request_error', failover: false, blameChannel: false },
  insufficient_quota: { status: 402, type: 'insufficient_quota', failover: false, blameChannel: false },
  /** A key's spend cap (per day, month or in total) does not cover the request's worst case. */
  spend_limit_exceeded: { status: 402, type: 'insufficient_quota', failover: false, blameChannel: false },
  permission_denied: { status: 403, type: 'permission_error', failover: false, blameChannel: false },
  account_suspended: { status: 403, type: 'permission_error', failover: false, blameChannel: false },
  /** Console: a state-changing request without a valid CSRF token, or from another origin. */
  csrf_failed: { status: 403, type: 'permission_error', failover: false, blameChannel: false },
  /** Console: the action needs a verified email address (creating API keys). */
  email_not_verified: { status: 403, type: 'permission_error', failover: false, blameChannel: false },
  model_not_found: { status: 404, type: 'not_found_error', failover: false, blameChannel: false },
  not_found: { status: 404, type: 'not_found_error', failover: false, blameChannel: false },
  method_not_allowed: { status: 405, type: 'invalid_request_error', failover: false, blameChannel: false },
  conflict: { status: 409, type: 'invalid_request_error', failover: false, blameChannel: false },
  /** The request (headers or body) did not arrive in time: too slow, or stalled (server: timeouts). */
  request_timeout: { status: 408, type: 'invalid_request_error', failover: false, blameChannel: false },
  request_too_large: { status: 413, type: 'invalid_request_error', failover: false, blameChannel: false },
  uri_too_long: { status: 414, type: 'invalid_request_error', failover: false, blameChannel: false },
  unsupported_media_type: { status: 415, type: 'invalid_request_error', failover: false, blameChannel: false },
  headers_too_large: { status: 431, type: 'invalid_request_error', failover: false, blameChannel: false },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error', failover: false, blameChannel: false },
  /** The upstream rejected the request itself (4xx): its status is passed on. */
  upstream_rejected: { status: 400, type: 'invalid_request_error', failover: false, blameChannel: false },
  upstream_rate_limited: { status: 429, type: 'rate_limit_error', failover: true, blameChannel: true },
  upstream_auth_failed: { status: 502, type: 'upstream_error', failover: true, blameChannel: true },
  upstream_error: { status: 502, type: 'upstream_error', failover: true, blameChannel: true },
  upstream_timeout: { status: 504, type: 'timeout_error', failover: true, blameChannel: true },
  upstream_bad_response: { status: 502, type: 'upstream_error', failover: true, blameChannel: true },
  no_channel_available: { status: 503, type: 'upstream_error', failover: false, blameChannel: false },
  /** The gateway's own database cannot be reached (or not in time): try again after Retry-After. */
  service_unavailable: { status: 503, type: 'server_error', failover: false, blameChannel: false },
  /** The client went away; nothing is sent (nginx's 499), nothing is logged as an error. */
  client_closed: { status: 499, type: 'invalid_request_error', failover: false, blameChannel: false },
  internal_error: { status: 500, type: 'server_error', failover: false, blameChannel: false },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly failover: boolean;
  readonly blameChannel: boolean;
  /** Seconds, for 429s and 503s. */
  readonly retryAfter: number | undefined;
  /** What the upstream said, scrubbed (./upstream-errors.ts): for the operator's view of the request. */
  readonly upstream: UpstreamSummary | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { param?: string | null; status?: number; retryAfter?: number; cause?: unknown; type?: ErrorType; upstream?: UpstreamSummary } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry: CatalogueEntry = ERROR_CATALOGUE[code];
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? entry.status;
    this.type = options.type ?? entry.type;
    this.param = options.param ?? null;
    this.failover = entry.failover;
    this.blameChannel = entry.blameChannel;
    this.retryAfter = options.retryAfter;
    this.upstream = options.upstream;
  }
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}
