// The canonical chat completion → a Responses API Response object.
// https://platform.openai.com/docs/api-reference/responses/create (the returned Response)
// https://platform.openai.com/docs/api-reference/responses/object
// Authority for the shapes: OpenAI's OpenAPI spec, components.schemas.Response / OutputItem / ResponseUsage.
//
// - status: finish_reason `length` → `incomplete` with incomplete_details.reason `max_output_tokens`,
//   `content_filter` → `incomplete` with reason `content_filter`; anything else → `completed`.
// - output, in this order: a `reasoning` item (reasoning_content, as reasoning_text content) when present, a
//   `message` item with an `output_text` part (and a `refusal` part for a refusal), one `function_call` item
//   per tool call (call_id = the upstream's tool call id). The last item of an incomplete response is `incomplete`.
// - usage: input_tokens counts cached and cache-write tokens too (as OpenAI's does), with the receipt's
//   `cost` (credits, exact decimal string) added.
// - The request fields the spec makes part of a Response are echoed from the request (not the upstream's
//   defaults, which are unknown here: an unset temperature/top_p is null). store is always false.
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { ResponseFunctionToolCall, ResponseOutputMessage, ResponseReasoningItem } from 'openai/resources/responses/responses';
import { formatCredits } from '../../domain/money.ts';
import { isObject } from '../../providers/shared/usage.ts';
import type { Receipt } from '../dialect.ts';
import type { ResponsesRequest } from './request.ts';

export type Status = 'in_progress' | 'completed' | 'incomplete' | 'failed';
export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';
/** The output items this gateway produces. */
export type OutputItem = ResponseReasoningItem | ResponseOutputMessage | ResponseFunctionToolCall;

/** What identifies one response: its ids are derived from the gateway's request id (x-switchyard-request-id). */
export interface ResponseIdentity {
  /** The gateway's request id (req_…); `base` is it without the prefix, for the ids of the response and items. */
  requestId: string;
  base: string;
  createdAt: number;
  model: string;
  request: ResponsesRequest | undefined;
}

export function identity(requestId: string, createdAt: number, model: string, request: ResponsesRequest | undefined): ResponseIdentity {
  return { requestId, base: requestId.replace(/^req_/, ''), createdAt, model, request };
}

export const itemId = (id: ResponseIdentity, prefix: 'msg' | 'fc' | 'rs', index: number): string => `${prefix}_${id.base}_${index}`;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
  cost?: string;
}

export function responsesUsage(receipt: Receipt | undefined): ResponsesUsage {
  const u = receipt?.usage;
  const input = (u?.input ?? 0) + (u?.cachedInput ?? 0) + (u?.cacheWrite ?? 0);
  const output = u?.output ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u?.cachedInput ?? 0, cache_write_tokens: u?.cacheWrite ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: u?.reasoning ?? 0 },
    total_tokens: input + output,
    ...(receipt ? { cost: formatCredits(receipt.cost) } : {}),
  };
}

/** The request's function tools as a Response lists them (the spec requires strict and parameters, nullable). */
function echoedTools(request: ResponsesRequest | undefined): Array<Record<string, unknown>> {
  return (request?.tools ?? []).map((t) => ({
    type: 'function',
    name: t.name,
    description: typeof t.description === 'string' ? t.description : null,
    parameters: isObject(t.parameters) ? t.parameters : null,
    strict: typeof t.strict === 'boolean' ? t.strict : null,
  }));
}

export interface ResponseObject {
  id: string;
  object: 'response';
  status: Status;
  output: OutputItem[];
  usage?: ResponsesUsage;
  [field: string]: unknown;
}

export interface Outcome {
  status: Status;
  output: OutputItem[];
  usage?: ResponsesUsage;
  incompleteReason?: 'max_output_tokens' | 'content_filter';
  error?: { code: string; message: string };
}

export function responseObject(id: ResponseIdentity, outcome: Outcome): ResponseObject {
  const r = id.request;
  return {
    id: `resp_${id.base}`,
    object: 'response',
    created_at: id.createdAt,
    status: outcome.status,
    background: false,
    completed_at: outcome.status === 'completed' ? Math.floor(Date.now() / 1000) : null,
    error: outcome.error ?? null,
    incomplete_details: outcome.incompleteReason ? { reason: outcome.incompleteReason } : null,
    instructions: r?.instructions ?? null,
    max_output_tokens: r?.max_output_tokens ?? null,
    model: id.model,
    output: outcome.output,
    parallel_tool_calls: r?.parallel_tool_calls ?? true,
    previous_response_id: null,
    // Summaries are never produced (a warning says so), and truncation is never applied: the effective values.
    reasoning: r?.reasoning ? { effort: r.reasoning.effort ?? null, summary: null } : null,
    store: false,
    temperature: r?.temperature ?? null,
    text: { format: r?.text?.format ?? { type: 'text' }, ...(r?.text?.verbosity ? { verbosity: r.text.verbosity } : {}) },
    tool_choice: r?.tool_choice ?? 'auto',
    tools: echoedTools(r),
    top_p: r?.top_p ?? null,
    truncation: 'disabled',
    ...(outcome.usage ? { usage: outcome.usage } : {}),
    ...(r?.user !== undefined ? { user: r.user } : {}),
    metadata: r?.metadata ?? {},
  };
}

export function incompleteReason(finish: string | null | undefined): Outcome['incompleteReason'] {
  if (finish === 'length') return 'max_output_tokens';
  if (finish === 'content_filter') return 'content_filter';
  return undefined;
}

type Message = ChatCompletion['choices'][number]['message'] & { reasoning_content?: unknown };

export function toResponse(completion: ChatCompletion, receipt: Receipt, id: ResponseIdentity): ResponseObject {
  const choice = completion.choices[0];
  const message = choice?.message as Message | undefined;
  const reason = incompleteReason(choice?.finish_reason);
  const output: OutputItem[] = [];
  if (typeof message?.reasoning_content === 'string' && message.reasoning_content) {
    output.push({ type: 'reasoning', id: itemId(id, 'rs', output.length), summary: [], content: [{ type: 'reasoning_text', text: message.reasoning_content }], status: 'completed' });
  }
  const content: ResponseOutputMessage['content'] = [];
  if (typeof message?.content === 'string' && message.content) content.push({ type: 'output_text', text: message.content, annotations: [], logprobs: [] });
  if (typeof message?.refusal === 'string' && message.refusal) content.push({ type: 'refusal', refusal: message.refusal });
  if (content.length > 0) output.push({ type: 'message', id: itemId(id, 'msg', output.length), status: 'completed', role: 'assistant', content });
  for (const call of message?.tool_calls ?? []) {
    if (call.type !== 'function') continue;
    const index = output.length;
    output.push({ type: 'function_call', id: itemId(id, 'fc', index), call_id: call.id || `call_${id.base}_${index}`, name: call.function.name, arguments: call.function.arguments, status: 'completed' });
  }
  const last = output.at(-1);
  if (reason && last) last.status = 'incomplete';
  return responseObject(id, { status: reason ? 'incomplete' : 'completed', output, usage: responsesUsage(receipt), incompleteReason: reason });
}
