// The OpenAI Responses dialect (POST /v1/responses), translated through the canonical chat shape for every
// upstream. https://platform.openai.com/docs/api-reference/responses/create
// https://platform.openai.com/docs/api-reference/responses-streaming
//
// Stateless by construction: Switchyard stores no bodies, so store: true, previous_response_id, conversation,
// background and stored prompts are refused with a 400 (./errors.ts) and GET /v1/responses/{id} is a 404.
//
// A Response echoes request fields (instructions, tools, tool_choice, temperature, metadata…) that the
// canonical result does not carry: the encoders read them from the client's validated body in the context.
//
// No pass-through yet: `passThrough` is deliberately left undefined, so even OpenAI upstreams are translated
// (their chat endpoint is what an openai-compatible channel serves). When vendors declare /v1/responses
// support, a pass-through can forward the client's body to that endpoint; note that `protocol: 'openai'`
// alone does not say a channel serves /responses, so that check must come with it.
import type { Warning } from '../../providers/shared/types.ts';
import type { ChatDialect, DialectContext } from '../dialect.ts';
import { openAIErrorBody } from '../openai/errors.ts';
import { toCanonical, validateResponsesRequest, type ResponsesRequest } from './request.ts';
import { identity, toResponse, type ResponseIdentity } from './response.ts';
import { responsesStreamEncoder } from './stream.ts';

const identify = (context: DialectContext): ResponseIdentity =>
  identity(context.requestId, context.createdAt, context.model, context.original as ResponsesRequest);

export const responsesDialect: ChatDialect = {
  protocol: 'openai',
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
};
