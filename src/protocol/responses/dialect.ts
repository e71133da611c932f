// The OpenAI Responses dialect (POST /v1/responses): passed through to upstreams that serve the Responses API,
// translated through the canonical chat shape for every other. https://platform.openai.com/docs/api-reference/responses/create
// https://platform.openai.com/docs/api-reference/responses-streaming
//
// Stateless by construction: Switchyard stores no bodies, so store: true, previous_response_id, conversation,
// background and stored prompts are refused with a 400 (./errors.ts) and GET /v1/responses/{id} is a 404.
//
// A Response echoes request fields (instructions, tools, tool_choice, temperature, metadata…) that the
// canonical result does not carry: the encoders read them from the client's validated body in the context.
//
// Pass-through: to a channel whose adapter serves the Responses API itself (the `openai` vendor), the
// client's body goes up unchanged but for the model and the events come back as they were, with the receipt
// (usage.cost) added to the final response; every other upstream is translated through the canonical shape.
import type { Warning } from '../../providers/shared/types.ts';
import { formatCredits } from '../../domain/money.ts';
import { isObject } from '../../providers/shared/usage.ts';
import type { ChatDialect, DialectContext, Receipt } from '../dialect.ts';
import { errorEventFields } from './errors.ts';
import { responsesEvent, responsesRawEvent } from './sse.ts';
import { openAIErrorBody } from '../openai/errors.ts';
import { toCanonical, validateResponsesRequest, type ResponsesRequest } from './request.ts';
import { identity, toResponse, type ResponseIdentity } from './response.ts';
import { responsesStreamEncoder } from './stream.ts';

const identify = (context: DialectContext): ResponseIdentity =>
  identity(context.requestId, context.createdAt, context.model, context.original as ResponsesRequest);

export const responsesDialect: ChatDialect = {
  protocol: 'openai-responses',
  endpoint: 'responses',
  decode(body) {
    const request = validateResponsesRequest(body);
    const warnings: Warning[] = [];
    const canonical = toCanonical(request, warnings);
    return { canonical, original: request, stream: request.stream === true, wantsStreamUsage: true, warnings };
  },
  encodeResponse: (response, receipt, context) => toResponse(response, receipt, identify(context)),
  streamEncoder: (context) => responsesStreamEncoder(identify(context)),
  errorBody: openAIErrorBody,
  passThrough: {
    encodeResponse: (body, receipt) => (isObject(body) ? withCost(body, receipt) : body),
    frame(frame, receipt) {
      if (!receipt) return responsesRawEvent(frame.event, frame.data);
      try {
        const event: unknown = JSON.parse(frame.data);
        if (isObject(event) && isObject(event.response)) {
          return responsesRawEvent(frame.event, JSON.stringify({ ...event, response: withCost(event.response, receipt) }));
        }
      } catch {
        // not JSON: pass it on as it came
      }
      return responsesRawEvent(frame.event, frame.data);
    },
    // The upstream numbered its own events; a failure the gateway adds after them is the last one.
    error: (error, requestId) => responsesEvent({ type: 'error', sequence_number: Number.MAX_SAFE_INTEGER, ...errorEventFields(error, requestId) }),
  },
};

/** A Response object with `usage.cost` (credits, exact decimal string) added. */
function withCost(response: Record<string, unknown>, receipt: Receipt): Record<string, unknown> {
  return { ...response, usage: { ...(isObject(response.usage) ? response.usage : {}), cost: formatCredits(receipt.cost) } };
}
