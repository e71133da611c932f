// OpenAI chat messages → Gemini `contents` + `systemInstruction`.
// Wire formats (Gemini):
//   Content {role: 'user'|'model', parts[]}, Part (text, inlineData, fileData, functionCall, functionResponse,
//   thoughtSignature):        https://ai.google.dev/api/caching#Content  ·  https://ai.google.dev/api/caching#Part
//   systemInstruction:        https://ai.google.dev/api/generate-content#request-body
//   Function calls/responses: https://ai.google.dev/gemini-api/docs/function-calling
//   Thought signatures:       https://ai.google.dev/gemini-api/docs/thought-signatures
//   Images/files (inline data, external HTTPS URLs as fileData.fileUri):
//                             https://ai.google.dev/gemini-api/docs/image-understanding
//                             https://ai.google.dev/gemini-api/docs/file-input-methods
// Source format (OpenAI): https://platform.openai.com/docs/api-reference/chat/create
//
// Mappings chosen:
// - system and developer messages → systemInstruction.parts (one text part each, in order).
// - user → role 'user', assistant → role 'model'; consecutive turns of one role are merged (Gemini wants
//   user and model turns to alternate); tool (and legacy function) results → functionResponse parts in a 'user'
//   turn, named after the assistant tool call with that tool_call_id; their content is parsed as JSON and sent
//   as is when it is an object, else wrapped as {result: …} (Gemini's `response` must be an object).
// - assistant tool_calls → functionCall parts (arguments parsed; not an object → {} with a warning). A thought
//   signature comes back from the client in `extra_content.google.thought_signature` (the field decodeResponse
//   writes, Google's own OpenAI-compatible convention); when the first call of a turn has none, Google's
//   documented placeholder is sent so Gemini 3 accepts a history it did not sign.
// - image_url: data: URL → inlineData; http(s):// or gs:// → fileData {mimeType guessed from the extension,
//   image/jpeg with a warning when unknown}. input_audio → inlineData audio/wav|audio/mp3. file with file_data
//   → inlineData; file_id → warning (OpenAI file ids mean nothing to Gemini).
// - `name` on a message, assistant audio and refusal, `detail` on images → warnings. reasoning_content that a
//   client echoes back is our own earlier output and is not sent (Gemini only takes thought signatures back).
import { GatewayError } from '../../domain/errors.ts';
import type { Warning } from '../shared/types.ts';
import { isObject, type Json } from '../shared/usage.ts';

/** Documented placeholder for function calls Gemini did not sign (thought-signatures page, FAQ). */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

export interface Turn {
  role: 'user' | 'model';
  parts: Json[];
}

export interface Converted {
  contents: Turn[];
  systemInstruction: { parts: { text: string }[] } | undefined;
}

const MIME_BY_EXTENSION: Readonly<Record<string, string>> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', heic: 'image/heic',
  heif: 'image/heif', gif: 'image/gif', pdf: 'application/pdf', wav: 'audio/wav', mp3: 'audio/mp3',
  mp4: 'video/mp4', txt: 'text/plain',
};

function unsupported(warnings: Warning[], param: string, message: string): void {
  warnings.push({ code: 'unsupported_parameter', param, message });
}

function extensionMime(name: string): string | undefined {
  const clean = name.split(/[?#]/)[0] ?? '';
  const dot = clean.lastIndexOf('.');
  return dot === -1 ? undefined : MIME_BY_EXTENSION[clean.slice(dot + 1).toLowerCase()];
}

/** `data:<mime>[;base64],<payload>` → inlineData, or undefined when not a data URL. */
function inlineFromDataUrl(url: string): Json | undefined {
  const match = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!match) return undefined;
  const mimeType = match[1] || 'text/plain';
  const isBase64 = (match[2] ?? '').split(';').includes('base64');
  const payload = match[3] ?? '';
  let text = payload;
  try {
    text = decodeURIComponent(payload);
  } catch {
    // not percent-encoded after all: taken as it is
  }
  const data = isBase64 ? payload : Buffer.from(text, 'utf8').toString('base64');
  return { inlineData: { mimeType, data } };
}

function imagePart(value: unknown, param: string, warnings: Warning[]): Json | undefined {
  const image = isObject(value) ? value : { url: value };
  const url = typeof image.url === 'string' ? image.url : '';
  if (image.detail !== undefined && image.detail !== 'auto') {
    unsupported(warnings, `${param}.image_url.detail`, `detail "${String(image.detail)}" has no per-image equivalent on Gemini; ignored`);
  }
  const inline = inlineFromDataUrl(url);
  if (inline) return inline;
  if (/^(https?|gs):\/\//i.test(url)) {
    let mimeType = extensionMime(url);
    if (!mimeType) {
      mimeType = 'image/jpeg';
      warnings.push({ code: 'image_mime_type_guessed', param: `${param}.image_url.url`, message: 'the image URL has no known extension; sent as image/jpeg' });
    }
    return { fileData: { mimeType, fileUri: url } };
  }
  unsupported(warnings, `${param}.image_url.url`, 'only data: and http(s):// image URLs can be sent to Gemini; image dropped');
  return undefined;
}

function filePart(value: unknown, param: string, warnings: Warning[]): Json | undefined {
  const file = isObject(value) ? value : {};
  if (typeof file.file_data === 'string') {
    const inline = inlineFromDataUrl(file.file_data);
    if (inline) return inline;
    const mimeType = typeof file.filename === 'string' ? extensionMime(file.filename) : undefined;
    if (mimeType) return { inlineData: { mimeType, data: file.file_data } };
  }
  unsupported(warnings, `${param}.file`, 'only files given inline (file_data as a data: URL, or with a known filename extension) can be sent to Gemini; file dropped');
  return undefined;
}

/** One content part of a user message → a Gemini part. */
function userPart(part: unknown, param: string, warnings: Warning[]): Json | undefined {
  if (!isObject(part)) return undefined;
  switch (part.type) {
    case 'text':
      return typeof part.text === 'string' ? { text: part.text } : undefined;
    case 'image_url':
      return imagePart(part.image_url, param, warnings);
    case 'input_audio': {
      const audio = isObject(part.input_audio) ? part.input_audio : {};
      const mimeType = audio.format === 'mp3' ? 'audio/mp3' : 'audio/wav';
      return typeof audio.data === 'string' ? { inlineData: { mimeType, data: audio.data } } : undefined;
    }
    case 'file':
      return filePart(part.file, param, warnings);
    default:
      unsupported(warnings, param, `content part type "${String(part.type)}" is not supported by Gemini; dropped`);
      return undefined;
  }
}

/** The text of a content that may only hold text (string, or text/refusal parts). */
function plainText(content: unknown, param: string, warnings: Warning[]): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  content.forEach((part, j) => {
    if (isObject(part) && typeof part.text === 'string') texts.push(part.text);
    else if (isObject(part) && part.type === 'refusal') unsupported(warnings, `${param}[${j}]`, 'refusal parts are not sent to Gemini');
    else unsupported(warnings, `${param}[${j}]`, 'only text parts are allowed here; part dropped');
  });
  return texts.join('\n');
}

function toolArgs(raw: unknown, param: string, warnings: Warning[]): Json {
  if (isObject(raw)) return raw;
  try {
    const parsed: unknown = JSON.parse(typeof raw === 'string' ? raw : '');
    if (isObject(parsed)) return parsed;
  } catch {
    // reported below
  }
  warnings.push({ code: 'invalid_tool_arguments', param, message: 'tool call arguments are not a JSON object; sent as {}' });
  return {};
}

/** A tool result's content → functionResponse.response (always an object). */
function toolResponse(content: unknown, param: string, warnings: Warning[]): Json {
  const text = plainText(content, param, warnings);
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : { result: parsed };
  } catch {
    return { result: text };
  }
}

function assistantParts(message: Json, i: number, names: Map<string, string>, warnings: Warning[]): Json[] {
  const parts: Json[] = [];
  const text = plainText(message.content, `messages[${i}].content`, warnings);
  if (text !== '') parts.push({ text });
  if (message.audio !== undefined && message.audio !== null) unsupported(warnings, `messages[${i}].audio`, 'assistant audio is not sent to Gemini');
  if (message.function_call !== undefined && message.function_call !== null) {
    unsupported(warnings, `messages[${i}].function_call`, 'the deprecated function_call is not sent to Gemini; use tool_calls');
  }
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  let first = true;
  calls.forEach((call, j) => {
    const fn = isObject(call) && isObject(call.function) ? call.function : undefined;
    if (!isObject(call) || !fn || typeof fn.name !== 'string') {
      unsupported(warnings, `messages[${i}].tool_calls[${j}]`, 'only function tool calls can be sent to Gemini; dropped');
      return;
    }
    if (typeof call.id === 'string') names.set(call.id, fn.name);
    const part: Json = { functionCall: { name: fn.name, args: toolArgs(fn.arguments, `messages[${i}].tool_calls[${j}].function.arguments`, warnings) } };
    const extra = isObject(call.extra_content) && isObject(call.extra_content.google) ? call.extra_content.google : undefined;
    if (extra && typeof extra.thought_signature === 'string') part.thoughtSignature = extra.thought_signature;
    else if (first) part.thoughtSignature = SKIP_SIGNATURE;
    first = false;
    parts.push(part);
  });
  return parts;
}

export function convertMessages(messages: unknown, warnings: Warning[]): Converted {
  if (!Array.isArray(messages)) throw new GatewayError('invalid_request', 'messages must be an array', { param: 'messages' });
  const contents: Turn[] = [];
  const system: { text: string }[] = [];
  const names = new Map<string, string>();
  const push = (role: Turn['role'], parts: Json[]): void => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  messages.forEach((message: unknown, i) => {
    if (!isObject(message)) throw new GatewayError('invalid_request', `messages[${i}] must be an object`, { param: `messages[${i}]` });
    const role = message.role;
    if (typeof message.name === 'string' && role !== 'function') {
      unsupported(warnings, `messages[${i}].name`, 'Gemini has no per-message participant name; ignored');
    }
    switch (role) {
      case 'system':
      case 'developer': {
        const text = plainText(message.content, `messages[${i}].content`, warnings);
        if (text !== '') system.push({ text });
        break;
      }
      case 'user': {
        const content = message.content;
        const parts = typeof content === 'string'
          ? [{ text: content }]
          : Array.isArray(content)
            ? content.map((part, j) => userPart(part, `messages[${i}].content[${j}]`, warnings)).filter((p): p is Json => p !== undefined)
            : [];
        push('user', parts);
        break;
      }
      case 'assistant':
        push('model', assistantParts(message, i, names, warnings));
        break;
      case 'tool': {
        const id = typeof message.tool_call_id === 'string' ? message.tool_call_id : '';
        const name = names.get(id);
        if (name === undefined) {
          throw new GatewayError('invalid_request', `messages[${i}].tool_call_id does not match any earlier assistant tool call`, { param: `messages[${i}].tool_call_id` });
        }
        push('user', [{ functionResponse: { name, response: toolResponse(message.content, `messages[${i}].content`, warnings) } }]);
        break;
      }
      case 'function': {
        const name = typeof message.name === 'string' ? message.name : '';
        push('user', [{ functionResponse: { name, response: toolResponse(message.content, `messages[${i}].content`, warnings) } }]);
        break;
      }
      default:
        throw new GatewayError('invalid_request', `messages[${i}].role "${String(role)}" is not supported`, { param: `messages[${i}].role` });
    }
  });
  return { contents, systemInstruction: system.length > 0 ? { parts: system } : undefined };
}
