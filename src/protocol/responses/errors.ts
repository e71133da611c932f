// Errors of the Responses dialect. JSON errors are OpenAI's shape (openAIErrorBody, the http/ default); this
// file holds the stateless refusals (Switchyard stores no bodies, so nothing a stored response would need
// can be served) and the in-stream error pieces.
// https://platform.openai.com/docs/api-reference/responses/create
// https://platform.openai.com/docs/api-reference/responses-streaming (`error`, `response.failed`)
import { GatewayError } from '../../domain/errors.ts';
import { clientMessage } from '../../domain/upstream-errors.ts';

const NO_STATE = 'Switchyard is stateless: it stores no request or response bodies';
const SEND_HISTORY = "keep the conversation on your side and send the earlier turns (including the previous response's output items) in 'input'";

export function storeRefused(): GatewayError {
  return new GatewayError('invalid_request', `${NO_STATE}, so 'store: true' cannot be honoured. Send 'store: false' (or leave it out) and ${SEND_HISTORY}.`, { param: 'store' });
}

export function previousResponseRefused(): GatewayError {
  return new GatewayError('invalid_request', `${NO_STATE}, so 'previous_response_id' cannot be resolved: there is no earlier response to continue. Instead, ${SEND_HISTORY}.`, { param: 'previous_response_id' });
}

export function conversationRefused(): GatewayError {
  return new GatewayError('invalid_request', `${NO_STATE}, so it keeps no conversations and 'conversation' cannot be used. Instead, ${SEND_HISTORY}.`, { param: 'conversation' });
}

export function backgroundRefused(): GatewayError {
  return new GatewayError('invalid_request', `${NO_STATE}, so a background response could never be retrieved: 'background: true' is not supported. Use 'stream: true' for long generations.`, { param: 'background' });
}

export function promptRefused(): GatewayError {
  return new GatewayError('invalid_request', "Reusable prompts are stored on OpenAI's platform and cannot be resolved here: send the prompt's text in 'instructions' and 'input' instead.", { param: 'prompt' });
}

/** GET (and DELETE, cancel, input_items) of /v1/responses/{id}: there is never anything stored to find. */
export function responseNotStored(): GatewayError {
  return new GatewayError('not_found', `${NO_STATE}, so responses cannot be retrieved, listed, cancelled or deleted later. Read the response when it is created (or stream it).`);
}

/** `response.error.code` of a failed response: the spec's ResponseErrorCode enum has no gateway codes. */
export function responseErrorCode(error: GatewayError): 'rate_limit_exceeded' | 'server_error' {
  return error.status === 429 ? 'rate_limit_exceeded' : 'server_error';
}

/**
 * The `error` stream event: the documented fields (`code`, `message`, `param`) at the top level, and the
 * same under `error`, which is what the official SDKs throw on (openai-node core/streaming.ts:
 * `if (data && data.error) throw new APIError(...)`) and what OpenAI itself sends.
 */
export function errorEventFields(error: GatewayError, requestId: string | null): Record<string, unknown> {
  const message = clientMessage(error, requestId);
  return { code: error.code, message, param: error.param, error: { type: error.type, code: error.code, message, param: error.param } };
}
