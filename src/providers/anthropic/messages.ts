// OpenAI chat messages → Anthropic `system` + alternating user/assistant `messages`.
// Wire formats (Anthropic):
//   Messages API, `system`, `messages`, content blocks: https://docs.anthropic.com/en/api/messages
//   Image blocks (`source` base64 | url):                https://docs.anthropic.com/en/docs/build-with-claude/vision
//   PDF document blocks:                                 https://docs.anthropic.com/en/docs/build-with-claude/pdf-support
//   tool_use / tool_result blocks:                       https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use
// Source format (OpenAI): https://platform.openai.com/docs/api-reference/chat/create
//
// - system and developer messages become the top-level `system` (Anthropic has no system role). One that comes
//   after the conversation started is still hoisted, with a warning: its position cannot be kept.
// - role 'tool' messages become a user message of `tool_result` blocks (tool_use_id = tool_call_id).
// - consecutive messages of the same role are merged into one (Anthropic wants user/assistant alternation), so
//   several tool results, or tool results followed by the user's next words, share one user turn.
// - a message left without any content is dropped with a warning (Anthropic rejects empty content).
// - what the model could not perceive (audio input, files other than PDFs, legacy function messages) is an
//   error, not a warning: the answer would be about a conversation the client did not send.
import { GatewayError } from '../../domain/errors.ts';
import type { Warning } from '../shared/types.ts';
import { isObject, type Json } from '../shared/usage.ts';

/** One Anthropic content block (text, image, document, tool_use, tool_result). */
export type Block = Json;

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: Block[];
}

export interface ConvertedMessages {
  /** Text of every system/developer message, in order. */
  system: string[];
  messages: AnthropicMessage[];
}

/** Image media types Anthropic accepts (vision docs). */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const DATA_URL = /^data:([^;,]+)((?:;[^;,]*)*),(.*)$/s;

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const match = DATA_URL.exec(url);
  if (!match) return undefined;
  const [, mediaType = '', params = '', data = ''] = match;
  if (!params.split(';').includes('base64')) return undefined;
  return { mediaType: mediaType.toLowerCase(), data };
}

/** Text of a string or an array of `{type:'text', text}` parts (system, developer, tool messages). */
function plainText(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  content.forEach((part: unknown, j) => {
    if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') {
      throw invalid('only text content parts are supported here', `${param}[${j}]`);
    }
    texts.push(part.text);
  });
  return texts.join('\n');
}

function textBlock(text: string): Block {
  return { type: 'text', text };
}

function imageBlock(part: Json, param: string, warnings: Warning[]): Block {
  const image = isObject(part.image_url) ? part.image_url : undefined;
  const url = image && typeof image.url === 'string' ? image.url : '';
  if (image && typeof image.detail === 'string' && image.detail !== 'auto') {
    warnings.push({ code: 'unsupported_parameter', param: `${param}.image_url.detail`, message: 'image detail is not supported by Anthropic; the image is sent as is' });
  }
  if (url.startsWith('data:')) {
    const parsed = parseDataUrl(url);
    if (!parsed) throw invalid('image data URLs must be base64-encoded', `${param}.image_url.url`);
    if (!IMAGE_TYPES.has(parsed.mediaType)) {
      throw invalid(`image type ${parsed.mediaType} is not supported (jpeg, png, gif, webp)`, `${param}.image_url.url`);
    }
    return { type: 'image', source: { type: 'base64', media_type: parsed.mediaType, data: parsed.data } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw invalid('image_url.url must be an http(s) URL or a base64 data URL', `${param}.image_url.url`);
}

function fileBlock(part: Json, param: string): Block {
  const file = isObject(part.file) ? part.file : {};
  const parsed = typeof file.file_data === 'string' ? parseDataUrl(file.file_data) : undefined;
  if (!parsed || parsed.mediaType !== 'application/pdf') {
    throw invalid('only PDF files sent inline as a base64 data URL are supported by this upstream', `${param}.file`);
  }
  return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: parsed.data } };
}

function userBlocks(content: unknown, param: string, warnings: Warning[]): Block[] {
  if (typeof content === 'string') return content === '' ? [] : [textBlock(content)];
  if (!Array.isArray(content)) return [];
  const blocks: Block[] = [];
  content.forEach((part: unknown, j) => {
    const at = `${param}[${j}]`;
    if (!isObject(part)) throw invalid('content parts must be objects', at);
    if (part.type === 'text' && typeof part.text === 'string') {
      if (part.text !== '') blocks.push(textBlock(part.text));
    } else if (part.type === 'image_url') blocks.push(imageBlock(part, at, warnings));
    else if (part.type === 'file') blocks.push(fileBlock(part, at));
    else throw invalid(`content part type '${String(part.type)}' is not supported by this upstream`, at);
  });
  return blocks;
}

function parseArguments(raw: unknown, param: string): Json {
  if (raw === undefined || raw === '') return {};
  if (typeof raw !== 'string') throw invalid('tool call arguments must be a JSON string', param);
  let input: unknown;
  try {
    input = JSON.parse(raw);
  } catch {
    throw invalid('tool call arguments are not valid JSON', param);
  }
  if (!isObject(input)) throw invalid('tool call arguments must be a JSON object', param);
  return input;
}

function assistantBlocks(message: Json, param: string): Block[] {
  const blocks: Block[] = [];
  const content = message.content;
  if (typeof content === 'string') {
    if (content !== '') blocks.push(textBlock(content));
  } else if (Array.isArray(content)) {
    content.forEach((part: unknown, j) => {
      // An earlier refusal is part of what the assistant said: it goes back as text.
      const text = isObject(part) ? (part.type === 'text' ? part.text : part.type === 'refusal' ? part.refusal : undefined) : undefined;
      if (typeof text !== 'string') throw invalid('assistant content parts must be text or refusal', `${param}.content[${j}]`);
      if (text !== '') blocks.push(textBlock(text));
    });
  }
  if (message.function_call !== undefined && message.function_call !== null) {
    throw invalid('legacy function_call messages are not supported by this upstream; use tool_calls', `${param}.function_call`);
  }
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  calls.forEach((call: unknown, j) => {
    const at = `${param}.tool_calls[${j}]`;
    if (!isObject(call) || call.type !== 'function' || !isObject(call.function) || typeof call.id !== 'string') {
      throw invalid('only function tool calls are supported by this upstream', at);
    }
    const name = call.function.name;
    if (typeof name !== 'string') throw invalid('tool call function name is missing', `${at}.function.name`);
    blocks.push({ type: 'tool_use', id: call.id, name, input: parseArguments(call.function.arguments, `${at}.function.arguments`) });
  });
  return blocks;
}

function toolResultBlock(message: Json, param: string): Block {
  if (typeof message.tool_call_id !== 'string' || message.tool_call_id === '') {
    throw invalid('tool messages need a tool_call_id', `${param}.tool_call_id`);
  }
  const block: Block = { type: 'tool_result', tool_use_id: message.tool_call_id };
  const text = plainText(message.content, `${param}.content`);
  if (text !== '') block.content = text;
  return block;
}

export function convertMessages(input: unknown, warnings: Warning[]): ConvertedMessages {
  if (!Array.isArray(input)) throw invalid('messages must be an array', 'messages');
  const system: string[] = [];
  const messages: AnthropicMessage[] = [];
  let started = false;
  input.forEach((message: unknown, i) => {
    const param = `messages[${i}]`;
    if (!isObject(message)) throw invalid('messages must be objects', param);
    const role = message.role;
    let turn: AnthropicMessage;
    if (role === 'system' || role === 'developer') {
      if (started) {
        warnings.push({ code: 'system_message_moved', param, message: 'Anthropic takes one system prompt: this system message was moved to it' });
      }
      const text = plainText(message.content, `${param}.content`);
      if (text !== '') system.push(text);
      return;
    } else if (role === 'user') turn = { role: 'user', content: userBlocks(message.content, `${param}.content`, warnings) };
    else if (role === 'assistant') turn = { role: 'assistant', content: assistantBlocks(message, param) };
    else if (role === 'tool') turn = { role: 'user', content: [toolResultBlock(message, param)] };
    else throw invalid(`message role '${String(role)}' is not supported by this upstream`, `${param}.role`);
    started = true;
    if (turn.content.length === 0) {
      warnings.push({ code: 'empty_message_dropped', param, message: 'a message without content was dropped (Anthropic rejects empty messages)' });
      return;
    }
    const last = messages.at(-1);
    if (last && last.role === turn.role) last.content.push(...turn.content);
    else messages.push(turn);
  });
  if (messages.length === 0) throw invalid('at least one user or assistant message is required', 'messages');
  return { system, messages };
}
