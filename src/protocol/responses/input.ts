// Responses `input` (a string, or a list of items) → canonical OpenAI chat messages.
// https://platform.openai.com/docs/api-reference/responses/create (input: EasyInputMessage / InputMessage /
// OutputMessage / FunctionToolCall / FunctionCallOutputItemParam / ReasoningItem; content parts input_text,
// input_image, input_file, output_text, refusal)
//
// - user messages keep their parts: input_text → text, input_image → image_url (url + detail), input_file with
//   file_data → file. A file_id (image or file) or a file_url points at OpenAI's file storage or a remote
//   document this gateway cannot read: 400.
// - system and developer messages → `system` (the two are equivalent instructions; `system` is what every
//   upstream accepts); their text parts are joined with newlines.
// - assistant messages (and earlier output messages) → assistant text; the function_call items that follow
//   join that assistant message as tool_calls (chat needs the calls and their results in that order).
// - function_call_output → a `tool` message; non-text parts of an array output cannot be carried (warning).
// - reasoning items from earlier turns have no place in a chat request: dropped with a warning.
// - item_reference needs stored items (stateless: 400); hosted-tool items (web search, computer, MCP…): 400.
import type { ChatCompletionContentPart, ChatCompletionMessageParam, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import { GatewayError } from '../../domain/errors.ts';
import type { Warning } from '../../providers/shared/types.ts';
import { isObject } from '../../providers/shared/usage.ts';

type Item = Record<string, unknown>;
type AssistantMessage = Extract<ChatCompletionMessageParam, { role: 'assistant' }>;

const invalid = (param: string, message: string): GatewayError => new GatewayError('invalid_request', message, { param });

function str(item: Item, key: string, param: string): string {
  const value = item[key];
  if (typeof value !== 'string') throw invalid(`${param}.${key}`, `Invalid value for '${param}.${key}': expected a string.`);
  return value;
}

function partsOf(content: unknown, param: string): Item[] {
  if (typeof content === 'string') return [{ type: 'input_text', text: content }];
  if (!Array.isArray(content)) throw invalid(`${param}.content`, `Invalid value for '${param}.content': expected a string or an array of content parts.`);
  return content.map((part: unknown, i) => {
    if (!isObject(part) || typeof part.type !== 'string') throw invalid(`${param}.content[${i}]`, `Invalid content part at '${param}.content[${i}]'.`);
    return part;
  });
}

const IMAGE_DETAIL = new Set(['auto', 'low', 'high']);

function userPart(part: Item, param: string, warnings: Warning[]): ChatCompletionContentPart {
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: str(part, 'text', param) };
    case 'input_image': {
      if (typeof part.image_url !== 'string' || !part.image_url) {
        throw invalid(param, `'${param}': an input_image by file_id refers to OpenAI's file storage, which Switchyard cannot read. Send the image as image_url (https or a base64 data URL).`);
      }
      const detail = part.detail;
      if (detail !== undefined && detail !== null && !IMAGE_DETAIL.has(String(detail))) {
        warnings.push({ code: 'unsupported_parameter', message: `image detail '${String(detail)}' has no chat equivalent; the upstream's default was used.`, param: `${param}.detail` });
      }
      const url = IMAGE_DETAIL.has(String(detail)) ? { url: part.image_url, detail: detail as 'auto' | 'low' | 'high' } : { url: part.image_url };
      return { type: 'image_url', image_url: url };
    }
    case 'input_file': {
      if (typeof part.file_data !== 'string' || !part.file_data) {
        throw invalid(param, `'${param}': an input_file by file_id or file_url cannot be read by Switchyard. Send the file inline as file_data.`);
      }
      return { type: 'file', file: { file_data: part.file_data, ...(typeof part.filename === 'string' ? { filename: part.filename } : {}) } };
    }
    default:
      throw invalid(`${param}.type`, `The content part type '${String(part.type)}' is not supported in a message ('${param}').`);
  }
}

/** Text of a message that can only carry text (system, developer, assistant). */
function textOf(content: unknown, param: string, separator: string): string {
  return partsOf(content, param)
    .map((part, i) => {
      const where = `${param}.content[${i}]`;
      if (part.type === 'input_text' || part.type === 'output_text') return str(part, 'text', where);
      if (part.type === 'refusal') return str(part, 'refusal', where);
      throw invalid(`${where}.type`, `A '${String(part.type)}' part cannot be sent in this message role ('${where}'): only text is accepted there.`);
    })
    .join(separator);
}

function userContent(content: unknown, param: string, warnings: Warning[]): string | ChatCompletionContentPart[] {
  if (typeof content === 'string') return content;
  return partsOf(content, param).map((part, i) => userPart(part, `${param}.content[${i}]`, warnings));
}

function toolOutput(output: unknown, param: string, warnings: Warning[]): string {
  if (typeof output === 'string') return output;
  if (!Array.isArray(output)) throw invalid(`${param}.output`, `Invalid value for '${param}.output': expected a string or an array of content parts.`);
  const texts: string[] = [];
  for (const part of output as unknown[]) {
    if (isObject(part) && part.type === 'input_text' && typeof part.text === 'string') texts.push(part.text);
    else warnings.push({ code: 'unsupported_content', message: 'Only the text of a function_call_output can be sent to the upstream; its other parts were dropped.', param: `${param}.output` });
  }
  return texts.join('\n');
}

function lastAssistant(messages: ChatCompletionMessageParam[]): AssistantMessage | undefined {
  const last = messages.at(-1);
  return last?.role === 'assistant' ? last : undefined;
}

function message(item: Item, param: string, messages: ChatCompletionMessageParam[], warnings: Warning[]): void {
  switch (item.role) {
    case 'user':
      messages.push({ role: 'user', content: userContent(item.content, param, warnings) });
      return;
    case 'system':
    case 'developer':
      messages.push({ role: 'system', content: textOf(item.content, param, '\n') });
      return;
    case 'assistant':
      messages.push({ role: 'assistant', content: textOf(item.content, param, '') });
      return;
    default:
      throw invalid(`${param}.role`, `Invalid value for '${param}.role': expected 'user', 'assistant', 'system' or 'developer'.`);
  }
}

function functionCall(item: Item, param: string, messages: ChatCompletionMessageParam[]): void {
  const call: ChatCompletionMessageToolCall = {
    id: str(item, 'call_id', param),
    type: 'function',
    function: { name: str(item, 'name', param), arguments: str(item, 'arguments', param) },
  };
  const assistant = lastAssistant(messages);
  if (assistant) assistant.tool_calls = [...(assistant.tool_calls ?? []), call];
  else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
}

/** Translates `input`; what cannot be carried is reported in `warnings`, what cannot be served throws a 400. */
export function inputMessages(input: string | unknown[], warnings: Warning[]): ChatCompletionMessageParam[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  const messages: ChatCompletionMessageParam[] = [];
  let droppedReasoning = false;
  input.forEach((raw, i) => {
    const param = `input[${i}]`;
    if (!isObject(raw)) throw invalid(param, `Invalid value for '${param}': expected an input item object.`);
    const type = raw.type ?? 'message';
    switch (type) {
      case 'message':
        message(raw, param, messages, warnings);
        break;
      case 'function_call':
        functionCall(raw, param, messages);
        break;
      case 'function_call_output':
        messages.push({ role: 'tool', tool_call_id: str(raw, 'call_id', param), content: toolOutput(raw.output, param, warnings) });
        break;
      case 'reasoning':
        if (!droppedReasoning) warnings.push({ code: 'unsupported_content', message: 'Reasoning items from earlier turns cannot be carried in a chat request and were dropped.', param: 'input' });
        droppedReasoning = true;
        break;
      case 'item_reference':
        throw invalid(param, `'${param}': Switchyard is stateless (it stores no request or response bodies), so an item_reference cannot be resolved. Send the item itself.`);
      default:
        throw invalid(`${param}.type`, `The input item type '${String(type)}' is not supported: only messages, function_call, function_call_output and reasoning items can be translated ('${param}').`);
    }
  });
  return messages;
}
