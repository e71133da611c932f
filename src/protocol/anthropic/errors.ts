// Anthropic's error shape for /v1/messages, from the same catalogue as every other error.
// https://docs.claude.com/en/api/errors — {"type":"error","error":{"type","message"},"request_id"}
// The message is the client's (domain/upstream-errors.ts clientMessage): never an upstream's own words.
import type { GatewayError } from '../../domain/errors.ts';
import { clientMessage } from '../../domain/upstream-errors.ts';

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'timeout_error'
  | 'api_error'
  | 'overloaded_error';

export function anthropicErrorType(error: GatewayError): AnthropicErrorType {
  switch (error.status) {
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return error.status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** The error event of a stream: `event: error` with `{"type":"error","error":{"type","message"}}`. */
export function anthropicErrorEvent(error: GatewayError, requestId: string | null): { type: 'error'; error: { type: AnthropicErrorType; message: string } } {
  return { type: 'error', error: { type: anthropicErrorType(error), message: clientMessage(error, requestId) } };
}

export function anthropicErrorBody(error: GatewayError, requestId: string | null): Record<string, unknown> {
  return { ...anthropicErrorEvent(error, requestId), request_id: requestId };
}
