/**
 * Mock OpenAI-compatible upstream on a real socket (node:http), speaking OpenAI's documented wire format:
 *   - Chat completions:   https://platform.openai.com/docs/api-reference/chat/create
 *   - Chat streaming:     https://platform.openai.com/docs/api-reference/chat-streaming
 *   - Embeddings:         https://platform.openai.com/docs/api-reference/embeddings/create
 *   - Models:             https://platform.openai.com/docs/api-reference/models/list
 *   - Errors:             https://platform.openai.com/docs/guides/error-codes
 * test/upstreams/openai.test.ts checks it with the official `openai` SDK and against the published OpenAPI
 * schemas (../shared/openai-openapi.yaml), so the mock stays honest (ARCHITECTURE.md section 9).
 *
 * Routes (under /v1): POST /chat/completions, POST /embeddings, GET /models, GET /models/{id}.
 * Anything else: 404 `Invalid URL (METHOD /path)`. Malformed JSON: 400. With `apiKey` set, a missing or wrong
 * `Authorization: Bearer <apiKey>` gives 401 (checked before anything else but the `fault` option, which
 * breaks the whole upstream for as long as it returns a status).
 *
 * Behaviour is steered by the request itself, so a gateway forwards it unchanged. Directives are read from
 * the text of the LAST `user` message (a string, or the `text` parts of a content array); for embeddings,
 * from the first string input (only #status, #delay, #hang, #reset, #badjson apply there):
 *   #reply:<text>        reply text = rest of the line (so put it last on its line); default `Hello from mock.`
 *   #words:N             reply `w1 w2 … wN` (exactly N completion tokens)
 *   #tool:<name>:<json>  reply with one tool call (arguments = rest of the line, `{}` if empty),
 *                        content null, finish_reason `tool_calls`
 *   #status:<code>       (400-599) that HTTP status with an OpenAI error body; 429 adds `retry-after: 1`
 *   #delay:<ms>          wait before sending the status line/headers
 *   #chunkdelay:<ms>     streaming: wait between SSE frames (the first frame is sent at once)
 *   #hang                never answer (until the client goes away or the mock is closed)
 *   #reset               destroy the socket without any response (after #delay, if any)
 *   #cut:<n>             streaming: destroy the socket after the role frame + n content frames, no [DONE]
 *                        (truncated SSE); non-streaming: destroy after sending half of the JSON body
 *   #stall:<n>           streaming: after the role frame + n content frames send nothing more, keep the
 *                        connection open (hang mid-stream) until the client goes away
 *   #badjson             200 with an invalid JSON body (streaming: one SSE frame with invalid JSON, then [DONE])
 *   #truncate:<n>        streaming: after the role frame + n content frames, end the body cleanly (no finish
 *                        frame, no usage, no [DONE]): a truncated SSE stream, without a reset
 *   #error_event         streaming: the role frame and the first content frame, then `data: {"error": {…}}`
 *                        (server_error) and the end of the body, as OpenAI reports a failure mid-stream
 *   #nousage             streaming: omit the final usage chunk even if include_usage was asked (earlier
 *                        chunks still carry `"usage": null`); non-streaming: omit `usage`
 *   #cached:N            report N `prompt_tokens_details.cached_tokens` (reported as given: keep N ≤ prompt)
 *   #reasoning:N         report N `completion_tokens_details.reasoning_tokens`, included in completion_tokens
 * Numeric directives take decimal digits; several directives can be combined (e.g. `#delay:50 #status:503`).
 * Precedence: #hang > #delay, then #reset > #status > #badjson > normal answer; when streaming, the first of
 * #cut > #stall > #truncate > #error_event decides where and how the stream stops.
 *
 * Server-wide faults (option `fault`, ARCHITECTURE.md section 9): a function of the recorded request that returns
 * `{ status }` to answer with that status whatever the request says, or `{ directives }` (e.g. `'#reset'`,
 * `'#hang'`, `'#badjson'`, `'#cut:0'`, `'#stall:2'`) applied as if they ended the prompt, so one upstream is
 * broken in one specific way while another upstream serves the same prompt normally.
 *
 * Token counts (deterministic, not a real tokenizer):
 *   prompt_tokens     = ceil(total characters of all messages' text / 4) + 3 × number of messages
 *                       (text = string content, or the `text` of content parts; UTF-16 code units)
 *   completion_tokens = number of pieces of the reply, a piece being a run of letters/digits/underscore or a
 *                       single other non-space character (`Hello from mock.` = 4, `#words:N` = N); for a tool
 *                       call, pieces of the name + pieces of the arguments; plus #reasoning tokens
 *   embeddings        = per input: ceil(characters / 4) for a string, the array length for a token array
 *
 * Streaming (`stream: true`): `text/event-stream`, `data: {chat.completion.chunk}\n\n` frames: a role frame
 * (delta {role, content: '', refusal: null}), one frame per word (leading space on all but the first), a frame
 * with an empty delta and the finish_reason, then, only with `stream_options.include_usage`, a frame with
 * `choices: []` and `usage` (all earlier frames then carry `"usage": null`), then `data: [DONE]`. Tool calls
 * stream like OpenAI's: the first frame carries id/type/name with empty arguments, then argument fragments
 * (index 0). The `obfuscation` padding field is not emitted. `n`, `max_tokens`, `stop` are ignored.
 *
 * Embeddings: deterministic unit vectors (seeded by the input), length `dimensions` or 8, values exactly
 * representable as float32, so `encoding_format: 'base64'` (little-endian float32, the SDK's default) decodes
 * to exactly the numbers `float` returns.
 *
 * Built for benchmarks too: keep-alive (65 s), no logging, no per-request crypto, pre-serialized frames.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { MockFault } from './common.ts';

export interface MockOpenAIOptions {
  port?: number;
  /** If set, require `Authorization: Bearer <apiKey>`, else 401 with OpenAI error JSON. */
  apiKey?: string;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /**
   * Keep at most this many recorded requests (default 10 000; 0 = record nothing). When full, the oldest half
   * is dropped, so a long benchmark does not grow memory without bound.
   */
  maxRecorded?: number;
  /**
   * Fault for every request, decided per request (after it is recorded, before the API-key check): return
   * `{ status }` (400-599) to answer with that status and an OpenAI error body (429 adds `retry-after`:
   * `retryAfter` seconds, default 1), `{ directives }` to handle the request as if those directives ended its
   * prompt (after the API-key check), or undefined to behave normally. Lets a test break one upstream as a
   * whole, whatever the prompt says.
   */
  fault?: (request: RecordedRequest) => MockFault | undefined;
  /**
   * Holds a request back before it is handled: it is recorded and answered once the returned promise settles
   * (`stats.inFlight` counts it meanwhile); undefined handles it at once. Lets a test keep every admitted request
   * open until it decides.
   */
  gate?: (request: { method: string; path: string }) => Promise<void> | undefined;
}

export type { MockFault } from './common.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; the raw text when it was not valid JSON; undefined without a body. */
  body: unknown;
}

export interface MockOpenAIStats {
  /** Requests whose response was not finished when the connection closed (client went away). */
  aborted: number;
  /** TCP connections currently open. */
  open: number;
  /** Requests currently being handled (response not yet finished or closed). */
  inFlight: number;
}

export interface MockOpenAI {
  /** Base URL for SDKs, e.g. `http://127.0.0.1:PORT/v1`. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
  /** Connections currently open / requests aborted by the client (live values). */
  stats: MockOpenAIStats;
}

// ---------------------------------------------------------------------------------------------------------
// Constants and pre-serialized pieces

const DEFAULT_REPLY = 'Hello from mock.';
const SYSTEM_FINGERPRINT = 'fp_mock0000001';
const DEFAULT_EMBEDDING_DIMENSIONS = 8;
const SSE_DONE = 'data: [DONE]\n\n';
const ROLE_DELTA_TEXT = '{"role":"assistant","content":"","refusal":null}';
const LOGPROBS_FINISH = ',"logprobs":null,"finish_reason":';

const PIECE_RE = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;
/** Lossless split used for tool-argument fragments: word runs, whitespace runs, other-character runs. */
const FRAGMENT_RE = /[\p{L}\p{N}_]+|\s+|[^\s\p{L}\p{N}_]+/gu;
const WORD_RE = /\s*\S+/g;
const DIRECTIVE_RE =
  /#(reply|tool):([^\n]*)|#(words|status|delay|chunkdelay|cut|stall|truncate|cached|reasoning):(\d+)|#(hang|reset|badjson|nousage|error_event)(?![\w-])/g;

const MODELS_CREATED = 1_715_367_049;
const MODEL_IDS = [
  'gpt-4o-mini',
  'gpt-4o',
  'gpt-4.1-mini',
  'gpt-4.1',
  'o4-mini',
  'text-embedding-3-small',
  'text-embedding-3-large',
] as const;
const MODEL_JSON = new Map<string, string>(
  MODEL_IDS.map((id) => [id, JSON.stringify({ id, object: 'model', created: MODELS_CREATED, owned_by: 'system' })]),
);
const MODELS_LIST_JSON = `{"object":"list","data":[${[...MODEL_JSON.values()].join(',')}]}`;

const TAG = randomBytes(6).toString('hex');
let sequence = 0;
function nextId(prefix: string): string {
  sequence += 1;
  return prefix + TAG + sequence.toString(36).padStart(10, '0');
}

const INVALID_JSON_MESSAGE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library " +
  "correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble " +
  'figuring out how to fix this, please contact us through our help center at help.openai.com.)';
const MISSING_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
  '(i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.';

// ---------------------------------------------------------------------------------------------------------
// Directives and counting

interface Directives {
  reply?: string;
  words?: number;
  tool?: { name: string; args: string };
  status?: number;
  delay?: number;
  chunkDelay?: number;
  cut?: number;
  stall?: number;
  truncate?: number;
  cached: number;
  reasoning: number;
  hang: boolean;
  reset: boolean;
  badJson: boolean;
  noUsage: boolean;
  errorEvent: boolean;
}

function parseDirectives(text: string): Directives {
  const d: Directives = { cached: 0, reasoning: 0, hang: false, reset: false, badJson: false, noUsage: false, errorEvent: false };
  if (!text.includes('#')) return d;
  for (const m of text.matchAll(DIRECTIVE_RE)) {
    const [, lineKey, lineValue, numKey, numValue, flag] = m;
    if (lineKey !== undefined && lineValue !== undefined) {
      const value = lineValue.endsWith('\r') ? lineValue.slice(0, -1) : lineValue;
      if (lineKey === 'reply') {
        d.reply = value;
      } else {
        const colon = value.indexOf(':');
        const name = (colon === -1 ? value : value.slice(0, colon)).trim();
        const args = colon === -1 ? '' : value.slice(colon + 1).trim();
        d.tool = { name, args: args === '' ? '{}' : args };
      }
    } else if (numKey !== undefined && numValue !== undefined) {
      const n = Number.parseInt(numValue, 10);
      switch (numKey) {
        case 'words': d.words = n; break;
        case 'status': d.status = n; break;
        case 'delay': d.delay = n; break;
        case 'chunkdelay': d.chunkDelay = n; break;
        case 'cut': d.cut = n; break;
        case 'stall': d.stall = n; break;
        case 'truncate': d.truncate = n; break;
        case 'cached': d.cached = n; break;
        case 'reasoning': d.reasoning = n; break;
      }
    } else if (flag !== undefined) {
      if (flag === 'hang') d.hang = true;
      else if (flag === 'reset') d.reset = true;
      else if (flag === 'badjson') d.badJson = true;
      else if (flag === 'error_event') d.errorEvent = true;
      else d.noUsage = true;
    }
  }
  return d;
}

function countPieces(s: string): number {
  return s.match(PIECE_RE)?.length ?? 0;
}
const DEFAULT_REPLY_PIECES = countPieces(DEFAULT_REPLY);
const DEFAULT_REPLY_WORDS = splitWords(DEFAULT_REPLY);

/** Words with their leading whitespace; trailing whitespace joins the last word. Concatenation == s. */
function splitWords(s: string): string[] {
  const words = s.match(WORD_RE) ?? [];
  if (words.length === 0) return s === '' ? [] : [s];
  let covered = 0;
  for (const w of words) covered += w.length;
  if (covered < s.length) words[words.length - 1] += s.slice(covered);
  return words;
}

/** Text of a message's content: the string, or the concatenated `text` of its content parts. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (isRecord(part) && typeof part.text === 'string') text += part.text;
  }
  return text;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function usageJson(prompt: number, completion: number, cached: number, reasoning: number): string {
  return (
    `{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":${prompt + completion},` +
    `"prompt_tokens_details":{"cached_tokens":${cached},"audio_tokens":0},` +
    `"completion_tokens_details":{"reasoning_tokens":${reasoning},"audio_tokens":0,` +
    `"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`
  );
}

// ---------------------------------------------------------------------------------------------------------
// Errors (https://platform.openai.com/docs/guides/error-codes)

interface ErrorSpec {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

function errorBody(e: ErrorSpec): string {
  return JSON.stringify({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
}

function errorForStatus(status: number, model: string): ErrorSpec {
  switch (status) {
    case 400:
      return { message: 'Invalid request (mock #status:400).', type: 'invalid_request_error', param: null, code: null };
    case 401:
      return {
        message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      };
    case 403:
      return {
        message: 'Country, region, or territory not supported',
        type: 'request_forbidden',
        param: null,
        code: 'unsupported_country_region_territory',
      };
    case 404:
      return {
        message: `The model \`${model}\` does not exist or you do not have access to it.`,
        type: 'invalid_request_error',
        param: null,
        code: 'model_not_found',
      };
    case 429:
      return {
        message:
          `Rate limit reached for ${model} in organization org-mock on requests per min (RPM): Limit 3, Used 3, ` +
          'Requested 1. Please try again in 1s.',
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      };
    case 500:
      return {
        message: 'The server had an error while processing your request. Sorry about that!',
        type: 'server_error',
        param: null,
        code: null,
      };
    case 502:
      return { message: 'Bad gateway.', type: 'server_error', param: null, code: null };
    case 503:
      return {
        message: 'The engine is currently overloaded, please try again later.',
        type: 'server_error',
        param: null,
        code: null,
      };
    case 504:
      return { message: 'Gateway timeout.', type: 'server_error', param: null, code: null };
    default:
      return status >= 500
        ? { message: `Server error (mock #status:${status}).`, type: 'server_error', param: null, code: null }
        : { message: `Request failed (mock #status:${status}).`, type: 'invalid_request_error', param: null, code: null };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Per-request state

interface RequestState {
  closed: boolean;
  selfDestroyed: boolean;
  timer: NodeJS.Timeout | undefined;
  requestId: string;
}

function jsonHeaders(state: RequestState, body: string): OutgoingHttpHeaders {
  return {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': state.requestId,
    'openai-version': '2020-10-01',
    'openai-processing-ms': '1',
  };
}

function sendJson(res: ServerResponse, state: RequestState, status: number, body: string): void {
  res.writeHead(status, jsonHeaders(state, body));
  res.end(body);
}

function sendError(res: ServerResponse, state: RequestState, status: number, e: ErrorSpec, retryAfter = 1): void {
  const body = errorBody(e);
  const headers = jsonHeaders(state, body);
  if (status === 429) {
    headers['retry-after'] = String(retryAfter);
    headers['x-ratelimit-limit-requests'] = '3';
    headers['x-ratelimit-remaining-requests'] = '0';
    headers['x-ratelimit-reset-requests'] = '1s';
  }
  res.writeHead(status, headers);
  res.end(body);
}

function invalidRequest(res: ServerResponse, state: RequestState, message: string, param: string | null, code: string | null = null): void {
  sendError(res, state, 400, { message, type: 'invalid_request_error', param, code });
}

function destroyNow(res: ServerResponse, state: RequestState): void {
  state.selfDestroyed = true;
  res.destroy();
}

/** Write `data` (headers go with it), then destroy the socket once it has been handed to the kernel. */
function writeThenDestroy(res: ServerResponse, state: RequestState, data: string): void {
  state.selfDestroyed = true;
  res.write(data, () => res.destroy());
}

// ---------------------------------------------------------------------------------------------------------
// Chat completions

function handleChat(res: ServerResponse, state: RequestState, body: Record<string, unknown>, extra: string | undefined): void {
  const model = body.model;
  if (typeof model !== 'string' || model === '') {
    invalidRequest(res, state, 'you must provide a model parameter', null);
    return;
  }
  const messages = body.messages;
  if (!Array.isArray(messages)) {
    invalidRequest(res, state, "Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
    return;
  }
  if (messages.length === 0) {
    invalidRequest(res, state, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'messages', 'empty_array');
    return;
  }
  const stream = body.stream === true;
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    invalidRequest(res, state, "Invalid type for 'stream': expected a boolean.", 'stream', 'invalid_type');
    return;
  }
  if (!stream && body.stream_options !== undefined && body.stream_options !== null) {
    invalidRequest(res, state, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options');
    return;
  }
  const includeUsage = stream && isRecord(body.stream_options) && body.stream_options.include_usage === true;

  let chars = 0;
  let lastUser = '';
  for (const message of messages) {
    if (!isRecord(message)) {
      invalidRequest(res, state, "Invalid type for 'messages': expected an array of objects.", 'messages', 'invalid_type');
      return;
    }
    const text = contentText(message.content);
    chars += text.length;
    if (message.role === 'user') lastUser = text;
  }
  const promptTokens = Math.ceil(chars / 4) + 3 * messages.length;
  const d = parseDirectives(extra === undefined ? lastUser : `${lastUser}\n${extra}`);
  if (d.hang) return;

  const respond = (): void => {
    state.timer = undefined;
    if (state.closed) return;
    if (d.reset) return destroyNow(res, state);
    if (d.status !== undefined && d.status >= 400 && d.status <= 599) {
      sendError(res, state, d.status, errorForStatus(d.status, model));
      return;
    }
    if (stream) streamChat(res, state, model, includeUsage, promptTokens, d);
    else jsonChat(res, state, model, promptTokens, d);
  };
  if (d.delay !== undefined && d.delay > 0) state.timer = setTimeout(respond, d.delay);
  else respond();
}

interface Reply {
  text: string;
  /** Stream pieces; concatenation == text. */
  words: string[];
  pieces: number;
}

function replyFor(d: Directives): Reply {
  if (d.words !== undefined) {
    const words: string[] = new Array<string>(d.words);
    for (let i = 0; i < d.words; i++) words[i] = i === 0 ? 'w1' : ` w${i + 1}`;
    return { text: words.join(''), words, pieces: d.words };
  }
  if (d.reply === undefined) return { text: DEFAULT_REPLY, words: DEFAULT_REPLY_WORDS, pieces: DEFAULT_REPLY_PIECES };
  const text = d.reply;
  return { text, words: splitWords(text), pieces: countPieces(text) };
}

function jsonChat(res: ServerResponse, state: RequestState, model: string, promptTokens: number, d: Directives): void {
  const id = nextId('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  let message: string;
  let finish: string;
  let pieces: number;
  if (d.tool !== undefined) {
    const call = { id: nextId('call_'), type: 'function', function: { name: d.tool.name, arguments: d.tool.args } };
    message = `{"role":"assistant","content":null,"tool_calls":[${JSON.stringify(call)}],"refusal":null,"annotations":[]}`;
    finish = 'tool_calls';
    pieces = countPieces(d.tool.name) + countPieces(d.tool.args);
  } else {
    const reply = replyFor(d);
    message = `{"role":"assistant","content":${JSON.stringify(reply.text)},"refusal":null,"annotations":[]}`;
    finish = 'stop';
    pieces = reply.pieces;
  }
  const usage = d.noUsage ? '' : `,"usage":${usageJson(promptTokens, pieces + d.reasoning, d.cached, d.reasoning)}`;
  const body =
    `{"id":"${id}","object":"chat.completion","created":${created},"model":${JSON.stringify(model)},` +
    `"choices":[{"index":0,"message":${message},"logprobs":null,"finish_reason":"${finish}"}]` +
    `${usage},"service_tier":"default","system_fingerprint":"${SYSTEM_FINGERPRINT}"}`;
  if (d.badJson) {
    sendJson(res, state, 200, body.slice(0, Math.floor(body.length / 2)));
    return;
  }
  if (d.cut !== undefined) {
    res.writeHead(200, jsonHeaders(state, body));
    writeThenDestroy(res, state, body.slice(0, Math.floor(body.length / 2)));
    return;
  }
  sendJson(res, state, 200, body);
}

function sseHeaders(state: RequestState): OutgoingHttpHeaders {
  return {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': state.requestId,
    'openai-version': '2020-10-01',
    'openai-processing-ms': '1',
  };
}

function streamChat(
  res: ServerResponse,
  state: RequestState,
  model: string,
  includeUsage: boolean,
  promptTokens: number,
  d: Directives,
): void {
  const id = nextId('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  const envelope =
    `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},` +
    `"service_tier":"default","system_fingerprint":"${SYSTEM_FINGERPRINT}",`;
  const head = `${envelope}"choices":[{"index":0,"delta":`;
  const tail = includeUsage ? '}],"usage":null}\n\n' : '}]}\n\n';
  const frame = (delta: string, finish: string): string => head + delta + LOGPROBS_FINISH + finish + tail;

  const frames: string[] = [];
  let pieces: number;
  let finish: string;
  if (d.tool !== undefined) {
    const callHead = JSON.stringify({ index: 0, id: nextId('call_'), type: 'function', function: { name: d.tool.name, arguments: '' } });
    frames.push(frame(`{"role":"assistant","content":null,"tool_calls":[${callHead}],"refusal":null}`, 'null'));
    for (const fragment of d.tool.args.match(FRAGMENT_RE) ?? []) {
      frames.push(frame(`{"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(fragment)}}}]}`, 'null'));
    }
    pieces = countPieces(d.tool.name) + countPieces(d.tool.args);
    finish = '"tool_calls"';
  } else {
    const reply = replyFor(d);
    frames.push(frame(ROLE_DELTA_TEXT, 'null'));
    for (const word of reply.words) frames.push(frame(`{"content":${JSON.stringify(word)}}`, 'null'));
    pieces = reply.pieces;
    finish = '"stop"';
  }
  if (d.badJson) frames.splice(1, frames.length - 1, `${head}{"content":"broken\n\n`);
  else frames.push(frame('{}', finish));
  const errorFrame = `data: ${errorBody({ message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null })}\n\n`;
  if (includeUsage && !d.noUsage && !d.badJson) {
    frames.push(`${envelope}"choices":[],"usage":${usageJson(promptTokens, pieces + d.reasoning, d.cached, d.reasoning)}}\n\n`);
  }
  frames.push(SSE_DONE);

  // Where to stop early: after the role frame + n content frames; and how: reset, stall, clean end, error.
  const early = d.cut ?? d.stall ?? d.truncate ?? (d.errorEvent ? 1 : undefined);
  const stopAt = early === undefined ? undefined : early + 1;
  const cut = d.cut !== undefined;
  const stall = !cut && d.stall !== undefined;
  const last = stopAt === undefined ? frames.length : Math.min(stopAt, frames.length);
  // #truncate ends the body cleanly; #error_event ends it after an error frame.
  const ending = d.truncate !== undefined ? '' : errorFrame;

  res.writeHead(200, sseHeaders(state));
  const chunkDelay = d.chunkDelay ?? 0;
  if (chunkDelay <= 0) {
    if (stopAt === undefined) res.end(frames.join(''));
    else if (cut) writeThenDestroy(res, state, frames.slice(0, last).join(''));
    else if (stall) res.write(frames.slice(0, last).join(''));
    else res.end(frames.slice(0, last).join('') + ending);
    return;
  }
  let i = 0;
  const step = (): void => {
    state.timer = undefined;
    if (state.closed) return;
    const data = frames[i] ?? '';
    i += 1;
    if (stopAt === undefined && i === frames.length) {
      res.end(data);
      return;
    }
    if (stopAt !== undefined && i >= last) {
      if (cut) writeThenDestroy(res, state, data);
      else if (stall) res.write(data);
      else res.end(data + ending);
      return;
    }
    res.write(data);
    state.timer = setTimeout(step, chunkDelay);
  };
  step();
}

// ---------------------------------------------------------------------------------------------------------
// Embeddings

function fnv1a(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 0x9e3779b9 : h;
}

/** Deterministic unit vector (float32-exact values) for an input. */
function embed(key: string, dimensions: number): Float32Array {
  let x = fnv1a(key, dimensions);
  const raw = new Float64Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const v = x / 0x80000000 - 1; // [-1, 1)
    raw[i] = v;
    norm += v * v;
  }
  norm = Math.sqrt(norm) || 1;
  const out = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) out[i] = (raw[i] ?? 0) / norm;
  return out;
}

function isTokenArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t));
}

function handleEmbeddings(res: ServerResponse, state: RequestState, body: Record<string, unknown>, extra: string | undefined): void {
  const model = body.model;
  if (typeof model !== 'string' || model === '') {
    invalidRequest(res, state, 'you must provide a model parameter', null);
    return;
  }
  const input = body.input;
  if (input === undefined || input === null) {
    invalidRequest(res, state, "Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
    return;
  }
  let inputs: (string | number[])[];
  if (typeof input === 'string') inputs = [input];
  else if (isTokenArray(input)) inputs = [input];
  else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string' || isTokenArray(x))) {
    inputs = input as (string | number[])[];
  } else {
    invalidRequest(res, state, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'input');
    return;
  }
  if (inputs.some((x) => x.length === 0)) {
    invalidRequest(res, state, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'input');
    return;
  }
  let dimensions = DEFAULT_EMBEDDING_DIMENSIONS;
  if (body.dimensions !== undefined && body.dimensions !== null) {
    const dim = body.dimensions;
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1 || dim > 4096) {
      invalidRequest(res, state, `Invalid value for 'dimensions': ${String(dim)}.`, 'dimensions', 'invalid_value');
      return;
    }
    dimensions = dim;
  }
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    invalidRequest(res, state, "Invalid value for 'encoding_format': expected 'float' or 'base64'.", 'encoding_format', 'invalid_value');
    return;
  }
  const firstText = inputs.find((x): x is string => typeof x === 'string') ?? '';
  const d = parseDirectives(extra === undefined ? firstText : `${firstText}\n${extra}`);
  if (d.hang) return;

  const respond = (): void => {
    state.timer = undefined;
    if (state.closed) return;
    if (d.reset) return destroyNow(res, state);
    if (d.status !== undefined && d.status >= 400 && d.status <= 599) {
      sendError(res, state, d.status, errorForStatus(d.status, model));
      return;
    }
    let tokens = 0;
    const data: string[] = [];
    for (let index = 0; index < inputs.length; index++) {
      const item = inputs[index] ?? '';
      const key = typeof item === 'string' ? `s:${item}` : `t:${item.join(',')}`;
      tokens += typeof item === 'string' ? Math.ceil(item.length / 4) : item.length;
      const vector = embed(key, dimensions);
      let encoded: string;
      if (format === 'base64') {
        const buf = Buffer.allocUnsafe(dimensions * 4);
        for (let i = 0; i < dimensions; i++) buf.writeFloatLE(vector[i] ?? 0, i * 4);
        encoded = `"${buf.toString('base64')}"`;
      } else {
        encoded = `[${Array.from(vector).join(',')}]`;
      }
      data.push(`{"object":"embedding","index":${index},"embedding":${encoded}}`);
    }
    const out =
      `{"object":"list","data":[${data.join(',')}],"model":${JSON.stringify(model)},` +
      `"usage":{"prompt_tokens":${tokens},"total_tokens":${tokens}}}`;
    sendJson(res, state, 200, d.badJson ? out.slice(0, Math.floor(out.length / 2)) : out);
  };
  if (d.delay !== undefined && d.delay > 0) state.timer = setTimeout(respond, d.delay);
  else respond();
}

// ---------------------------------------------------------------------------------------------------------
// Server

export function startMockOpenAI(options: MockOpenAIOptions = {}): Promise<MockOpenAI> {
  const host = options.host ?? '127.0.0.1';
  const expectedAuth = options.apiKey === undefined ? undefined : `Bearer ${options.apiKey}`;
  const maxRecorded = options.maxRecorded ?? 10_000;
  const requests: RecordedRequest[] = [];
  const stats: MockOpenAIStats = { aborted: 0, open: 0, inFlight: 0 };
  let closing = false;

  const record = (req: IncomingMessage, path: string, body: unknown): void => {
    if (maxRecorded <= 0) return;
    if (requests.length >= maxRecorded) requests.splice(0, requests.length - Math.floor(maxRecorded / 2));
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
  };

  const route = (req: IncomingMessage, res: ServerResponse, state: RequestState, path: string, raw: string | undefined): void => {
    let body: unknown;
    let parsed = false;
    if (raw !== undefined && raw !== '') {
      try {
        body = JSON.parse(raw);
        parsed = true;
      } catch {
        body = raw;
      }
    }
    record(req, path, body);

    const fault = options.fault?.({ method: req.method ?? 'GET', path, headers: req.headers, body });
    if (fault?.status !== undefined && fault.status >= 400 && fault.status <= 599) {
      const model = isRecord(body) && typeof body.model === 'string' ? body.model : 'unknown';
      const spec = errorForStatus(fault.status, model);
      sendError(res, state, fault.status, fault.message === undefined ? spec : { ...spec, message: fault.message }, fault.retryAfter);
      return;
    }
    const extra = fault?.directives;

    if (expectedAuth !== undefined) {
      const auth = req.headers.authorization;
      if (auth !== expectedAuth) {
        const given = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
        const masked = given === undefined ? '' : given.length > 8 ? `${given.slice(0, 3)}***${given.slice(-4)}` : '***';
        sendError(res, state, 401, given === undefined || given === ''
          ? { message: MISSING_KEY_MESSAGE, type: 'invalid_request_error', param: null, code: null }
          : {
              message: `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_api_key',
            });
        return;
      }
    }

    const method = req.method ?? 'GET';
    let handler: ((b: Record<string, unknown>) => void) | undefined;
    if (method === 'POST' && path === '/v1/chat/completions') handler = (b) => handleChat(res, state, b, extra);
    else if (method === 'POST' && path === '/v1/embeddings') handler = (b) => handleEmbeddings(res, state, b, extra);
    else if (method === 'GET' && path === '/v1/models') return sendJson(res, state, 200, MODELS_LIST_JSON);
    else if (method === 'GET' && path.startsWith('/v1/models/')) {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const json = MODEL_JSON.get(id);
      if (json !== undefined) return sendJson(res, state, 200, json);
      return sendError(res, state, 404, errorForStatus(404, id));
    }
    if (handler === undefined) {
      sendError(res, state, 404, { message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: null, code: null });
      return;
    }
    if (!parsed || !isRecord(body)) {
      invalidRequest(res, state, INVALID_JSON_MESSAGE, null);
      return;
    }
    handler(body);
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    stats.inFlight += 1;
    const state: RequestState = { closed: false, selfDestroyed: false, timer: undefined, requestId: nextId('req_') };
    res.on('close', () => {
      state.closed = true;
      stats.inFlight -= 1;
      if (state.timer !== undefined) clearTimeout(state.timer);
      if (!res.writableFinished && !state.selfDestroyed && !closing) stats.aborted += 1;
    });
    req.on('error', () => undefined);

    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw =
        chunks.length === 0 ? undefined : chunks.length === 1 ? (chunks[0] ?? Buffer.alloc(0)).toString('utf8') : Buffer.concat(chunks).toString('utf8');
      const handle = (): void => {
        if (state.closed) return;
        try {
          route(req, res, state, path, raw);
        } catch (err) {
          if (!res.headersSent && !state.closed) {
            sendError(res, state, 500, { message: `Mock failure: ${String(err)}`, type: 'server_error', param: null, code: null });
          }
        }
      };
      const gate = options.gate?.({ method: req.method ?? 'GET', path });
      if (gate) void gate.then(handle, handle);
      else handle();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  server.on('connection', (socket: Socket) => {
    stats.open += 1;
    socket.once('close', () => {
      stats.open -= 1;
    });
  });
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  return new Promise<MockOpenAI>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
        port,
        requests,
        stats,
        close: () =>
          new Promise<void>((done) => {
            closing = true;
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
