// Canonical chat chunks → Responses API stream events, each with an increasing sequence_number (from 0):
//   response.created, response.in_progress, then per output item
//     response.output_item.added,
//     message:   response.content_part.added, response.output_text.delta* (or response.refusal.delta*),
//                response.output_text.done (or response.refusal.done), response.content_part.done,
//     reasoning: response.content_part.added (reasoning_text), response.reasoning_text.delta*,
//                response.reasoning_text.done, response.content_part.done,
//     function_call: response.function_call_arguments.delta*, response.function_call_arguments.done,
//     response.output_item.done,
//   and last response.completed (or response.incomplete) carrying the whole Response with usage and its cost.
// A failure after the first byte ends with response.failed (status failed, the error, the output so far)
// and then an `error` event: never a silent truncation.
// https://platform.openai.com/docs/api-reference/responses-streaming
// Authority for the shapes: OpenAI's OpenAPI spec, components.schemas.ResponseStreamEvent and its members.
//
// A message or reasoning item is closed when another item begins. Function-call items stay open until the
// end, so an upstream that interleaves the arguments of parallel calls still yields exact items.
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { ResponseFunctionToolCall, ResponseOutputMessage, ResponseReasoningItem } from 'openai/resources/responses/responses';
import type { GatewayError } from '../../domain/errors.ts';
import { clientMessage } from '../../domain/upstream-errors.ts';
import type { ChatStreamEncoder, Receipt } from '../dialect.ts';
import { errorEventFields, responseErrorCode } from './errors.ts';
import { incompleteReason, itemId, responseObject, responsesUsage, type ItemStatus, type OutputItem, type ResponseIdentity } from './response.ts';
import { responsesEvent } from './sse.ts';

interface Part {
  type: 'output_text' | 'refusal';
  text: string;
}
interface MessageState {
  kind: 'message';
  index: number;
  id: string;
  parts: Part[];
}
interface ReasoningState {
  kind: 'reasoning';
  index: number;
  id: string;
  text: string;
}
interface CallState {
  index: number;
  id: string;
  callId: string;
  name: string;
  args: string;
}

type Delta = ChatCompletionChunk['choices'][number]['delta'] & { reasoning_content?: unknown };
type ToolCallDelta = NonNullable<Delta['tool_calls']>[number];

const partObject = (p: Part): ResponseOutputMessage['content'][number] =>
  p.type === 'output_text' ? { type: 'output_text', text: p.text, annotations: [], logprobs: [] } : { type: 'refusal', refusal: p.text };
const messageItem = (m: MessageState, status: ItemStatus): ResponseOutputMessage => ({ id: m.id, type: 'message', status, role: 'assistant', content: m.parts.map(partObject) });
const reasoningItem = (r: ReasoningState, status: ItemStatus): ResponseReasoningItem => ({
  id: r.id,
  type: 'reasoning',
  summary: [],
  content: status === 'in_progress' ? [] : [{ type: 'reasoning_text', text: r.text }],
  status,
});
const callItem = (c: CallState, status: ItemStatus): ResponseFunctionToolCall => ({ id: c.id, type: 'function_call', status, call_id: c.callId, name: c.name, arguments: c.args });

export function responsesStreamEncoder(id: ResponseIdentity): ChatStreamEncoder {
  let sequence = 0;
  let buffer = '';
  let started = false;
  let nextIndex = 0;
  let current: MessageState | ReasoningState | undefined;
  /** The chat tool-call index → its function_call item (open until the end). */
  const calls = new Map<number, CallState>();
  /** Closed items at their output index. */
  const closed: OutputItem[] = [];
  let finish: string | null = null;

  const emit = (type: string, fields: Record<string, unknown>): void => {
    buffer += responsesEvent({ type, sequence_number: sequence++, ...fields });
  };
  const flush = (): string => {
    const text = buffer;
    buffer = '';
    return text;
  };

  const start = (): void => {
    if (started) return;
    started = true;
    const snapshot = responseObject(id, { status: 'in_progress', output: [] });
    emit('response.created', { response: snapshot });
    emit('response.in_progress', { response: snapshot });
  };

  const closePart = (m: MessageState): void => {
    const index = m.parts.length - 1;
    const part = m.parts[index];
    if (!part) return;
    const where = { item_id: m.id, output_index: m.index, content_index: index };
    if (part.type === 'output_text') emit('response.output_text.done', { ...where, text: part.text, logprobs: [] });
    else emit('response.refusal.done', { ...where, refusal: part.text });
    emit('response.content_part.done', { ...where, part: partObject(part) });
  };

  const closeCurrent = (status: ItemStatus): void => {
    const item = current;
    if (!item) return;
    current = undefined;
    let done: OutputItem;
    if (item.kind === 'message') {
      closePart(item);
      done = messageItem(item, status);
    } else {
      const where = { item_id: item.id, output_index: item.index, content_index: 0 };
      emit('response.reasoning_text.done', { ...where, text: item.text });
      emit('response.content_part.done', { ...where, part: { type: 'reasoning_text', text: item.text } });
      done = reasoningItem(item, status);
    }
    closed[item.index] = done;
    emit('response.output_item.done', { output_index: item.index, item: done });
  };

  const closeCall = (c: CallState, status: ItemStatus): void => {
    emit('response.function_call_arguments.done', { item_id: c.id, name: c.name, output_index: c.index, arguments: c.args });
    const done = callItem(c, status);
    closed[c.index] = done;
    emit('response.output_item.done', { output_index: c.index, item: done });
  };

  const appendText = (type: Part['type'], delta: string): void => {
    let m = current;
    if (m?.kind !== 'message') {
      closeCurrent('completed');
      const index = nextIndex++;
      m = { kind: 'message', index, id: itemId(id, 'msg', index), parts: [] };
      current = m;
      emit('response.output_item.added', { output_index: index, item: messageItem(m, 'in_progress') });
    }
    let part = m.parts.at(-1);
    if (part?.type !== type) {
      closePart(m);
      part = { type, text: '' };
      m.parts.push(part);
      emit('response.content_part.added', { item_id: m.id, output_index: m.index, content_index: m.parts.length - 1, part: partObject(part) });
    }
    part.text += delta;
    const where = { item_id: m.id, output_index: m.index, content_index: m.parts.length - 1 };
    if (type === 'output_text') emit('response.output_text.delta', { ...where, delta, logprobs: [] });
    else emit('response.refusal.delta', { ...where, delta });
  };

  const appendReasoning = (delta: string): void => {
    let r = current;
    if (r?.kind !== 'reasoning') {
      closeCurrent('completed');
      const index = nextIndex++;
      r = { kind: 'reasoning', index, id: itemId(id, 'rs', index), text: '' };
      current = r;
      emit('response.output_item.added', { output_index: index, item: reasoningItem(r, 'in_progress') });
      emit('response.content_part.added', { item_id: r.id, output_index: index, content_index: 0, part: { type: 'reasoning_text', text: '' } });
    }
    r.text += delta;
    emit('response.reasoning_text.delta', { item_id: r.id, output_index: r.index, content_index: 0, delta });
  };

  const appendCall = (call: ToolCallDelta): void => {
    let c = calls.get(call.index);
    if (!c) {
      closeCurrent('completed');
      const index = nextIndex++;
      c = { index, id: itemId(id, 'fc', index), callId: call.id || `call_${id.base}_${index}`, name: call.function?.name ?? '', args: '' };
      calls.set(call.index, c);
      emit('response.output_item.added', { output_index: index, item: callItem(c, 'in_progress') });
    } else if (!c.name && call.function?.name) {
      c.name = call.function.name;
    }
    const args = call.function?.arguments;
    if (args) {
      c.args += args;
      emit('response.function_call_arguments.delta', { item_id: c.id, output_index: c.index, delta: args });
    }
  };

  /** The items so far, open ones marked `incomplete` (for response.failed). */
  const snapshotOutput = (): OutputItem[] => {
    const output = [...closed];
    if (current?.kind === 'message') output[current.index] = messageItem(current, 'incomplete');
    else if (current) output[current.index] = reasoningItem(current, 'incomplete');
    for (const c of calls.values()) output[c.index] = callItem(c, 'incomplete');
    return output.filter((item): item is OutputItem => item !== undefined);
  };

  return {
    chunk(chunk: ChatCompletionChunk, _raw: string | undefined, _receipt: Receipt | undefined): string {
      start();
      for (const choice of chunk.choices ?? []) {
        if (choice.index !== 0) continue;
        const delta = choice.delta as Delta | undefined;
        if (typeof delta?.reasoning_content === 'string' && delta.reasoning_content) appendReasoning(delta.reasoning_content);
        if (typeof delta?.content === 'string' && delta.content) appendText('output_text', delta.content);
        if (typeof delta?.refusal === 'string' && delta.refusal) appendText('refusal', delta.refusal);
        for (const call of delta?.tool_calls ?? []) appendCall(call);
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      return flush();
    },
    end(receipt: Receipt | undefined): string {
      start();
      const reason = incompleteReason(finish);
      const last = nextIndex - 1;
      const statusOf = (index: number): ItemStatus => (reason && index === last ? 'incomplete' : 'completed');
      if (current) closeCurrent(statusOf(current.index));
      for (const c of [...calls.values()].sort((a, b) => a.index - b.index)) closeCall(c, statusOf(c.index));
      calls.clear();
      const output = closed.filter((item): item is OutputItem => item !== undefined);
      const response = responseObject(id, { status: reason ? 'incomplete' : 'completed', output, usage: responsesUsage(receipt), incompleteReason: reason });
      emit(reason ? 'response.incomplete' : 'response.completed', { response });
      return flush();
    },
    error(error: GatewayError): string {
      start();
      const response = responseObject(id, { status: 'failed', output: snapshotOutput(), error: { code: responseErrorCode(error), message: clientMessage(error, id.requestId) } });
      emit('response.failed', { response });
      emit('error', errorEventFields(error, id.requestId));
      return flush();
    },
  };
}
