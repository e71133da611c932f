/**
 * Mock Anthropic upstream on a real socket (node:http), speaking Anthropic's documented wire format:
 *   - Messages:        https://docs.anthropic.com/en/api/messages
 *   - Streaming:       https://docs.anthropic.com/en/docs/build-with-claude/streaming
 *   - Thinking blocks: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
 *   - Count tokens:    https://docs.anthropic.com/en/api/messages-count-tokens
 *   - Errors:          https://docs.anthropic.com/en/api/errors
 * test/upstreams/anthropic.test.ts checks it with the official `@anthropic-ai/sdk` (ARCHITECTURE.md section 9).
 *
 * Routes: POST /v1/messages, POST /v1/messages/count_tokens; anything else 404 `not_found_error`.
 * Checked in this order: the key (only when `apiKey` is set; 401 authentication_error) from `x-api-key`, as
 * the docs show, or `Authorization: Bearer`, which is how @anthropic-ai/sdk 1.x sends it; the
 * `anthropic-version` header (any value; 400 when missing), a JSON object body, `model` (string),
 * `messages` (non-empty array), `max_tokens` (positive integer; not for count_tokens), and, with
 * `thinking: {type:'enabled'}`, 1024 ≤ budget_tokens < max_tokens. Failures are 400 invalid_request_error.
 * Every error is `{"type":"error","error":{"type","message"},"request_id"}` with a `request-id` header.
 *
 * Directives, read from the text blocks (or string content) of the LAST `user` message:
 *   (#reply, #tool, #thinking and #stop take the rest of their line: put each last on its line.)
 *   #reply:<text>        reply text = rest of the line; default `Hello from mock.`
 *   #words:N             reply `w1 w2 … wN`
 *   #tool:<name>:<json>  a tool_use block (input = the JSON object; `{}` if empty or not an object), stop_reason `tool_use`;
 *                        streamed as input_json_delta fragments (an empty one first, as Anthropic does). With
 *                        #reply too, the text block comes first. Without it there is no text block.
 *   #thinking:<text>     a thinking block (with a signature) before the text; streamed as thinking_delta
 *                        pieces then one signature_delta
 *   #stop:<sequence>     stop_reason `stop_sequence`, stop_sequence = <sequence>
 *   #status:<code>       (400-599) that status with the documented error type (400 invalid_request_error,
 *                        401 authentication_error, 402 billing_error, 403 permission_error, 404 not_found_error,
 *                        413 request_too_large, 429 rate_limit_error + `retry-after: 1`, 500 api_error,
 *                        529 overloaded_error, other 5xx api_error, other 4xx invalid_request_error)
 *   #delay:<ms>          wait before the status line;   #hang  never answer (until the client goes away)
 *   #reset               destroy the socket without any response (after #delay, if any)
 *   #cut:<n>             streaming: destroy the socket after message_start + n more events (no message_stop);
 *                        non-streaming: destroy it after half of the JSON body
 *   #stall:<n>           streaming: send message_start + n more events, then nothing more, the connection kept
 *                        open (hang mid-stream) until the client goes away
 *   #truncate:<n>        streaming: send message_start + n more events, then end the body cleanly (no
 *                        message_stop): a truncated SSE stream, without a reset
 *   #badjson             non-streaming: 200 whose body is the first half of the JSON (invalid JSON)
 *   #error_event         streaming: message_start, the first block's start, ping, its first delta, then
 *                        `event: error` (overloaded_error) and the end of the body
 * Precedence: #hang > #delay, then #reset > #status > answer; streaming, the first of #cut > #stall > #truncate
 * says where and how the stream stops (counted on the #error_event frames when that is given too).
 *
 * Server-wide faults (option `fault`, ARCHITECTURE.md section 9): a function of the recorded request that returns
 * `{ status }` to answer with that status whatever the request says (before the key check), or `{ directives }`
 * (e.g. `'#reset'`, `'#badjson'`, `'#cut:2'`) handled as if they ended the last user message, so one upstream is
 * broken in one specific way while another serves the same prompt normally.
 *   #cached:N            usage.cache_read_input_tokens = N;   #cache_write:N  cache_creation_input_tokens = N
 *
 * Token counts (deterministic, not a tokenizer; cache tokens are reported as given, apart from input_tokens):
 *   input_tokens  = ceil(characters / 4) + 3 × messages, counting the system prompt, text blocks, tool_result
 *                   text and JSON.stringify(tool_use.input) (UTF-16 code units). count_tokens returns the same.
 *   output_tokens = pieces of the reply + of the thinking text + of the tool name and JSON, a piece being a run
 *                   of letters/digits/underscore or one other non-space character (`Hello from mock.` = 4,
 *                   #words:N = N). When the text would exceed max_tokens it is cut at max_tokens pieces and
 *                   stop_reason is `max_tokens` (tool answers are never cut).
 *   message_start reports output_tokens 1; message_delta the final output_tokens.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { MockFault } from './common.ts';

export interface MockAnthropicOptions {
  apiKey?: string;
  port?: number;
  /** A fault for every request, decided per request after it is recorded (see the header comment). */
  fault?: (request: RecordedRequest) => MockFault | undefined;
}

export type { MockFault } from './common.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; the raw text when it was not JSON; undefined without a body. */
  body: unknown;
}

export interface MockAnthropic {
  /** Base URL as a gateway channel takes it: `http://127.0.0.1:PORT/v1` (SDKs want it without `/v1`). */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** aborted: responses cut short by the client going away; inFlight: requests not yet finished or closed. */
  stats: { aborted: number; inFlight: number };
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
interface State { closed: boolean; selfDestroyed: boolean; timer: NodeJS.Timeout | undefined; requestId: string }

const DEFAULT_REPLY = 'Hello from mock.';
const PIECE_RE = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;
const FRAGMENT_RE = /[\p{L}\p{N}_]+|\s+|[^\s\p{L}\p{N}_]+/gu;
const WORD_RE = /\s*\S+/g;
const DIRECTIVE_RE = /#(reply|tool|thinking|stop):([^\n]*)|#(words|status|delay|cut|stall|truncate|cached|cache_write):(\d+)|#(hang|reset|badjson|error_event)(?![\w-])/g;
const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 402: 'billing_error', 403: 'permission_error',
  404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error',
};
const ERROR_MESSAGES: Record<string, string> = {
  authentication_error: 'invalid x-api-key', billing_error: 'Your credit balance is too low to access the Anthropic API.',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'The requested resource could not be found.', request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'Number of request tokens has exceeded your per-minute rate limit.', api_error: 'Internal server error',
  overloaded_error: 'Overloaded',
};

const TAG = randomBytes(6).toString('hex');
let sequence = 0;
const nextId = (prefix: string): string => `${prefix}01${TAG}${(++sequence).toString(36).padStart(8, '0')}`;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const countPieces = (text: string): number => text.match(PIECE_RE)?.length ?? 0;

interface Directives {
  reply?: string; words?: number; tool?: { name: string; args: string; input: Json }; thinking?: string; stop?: string;
  status?: number; delay?: number; cut?: number; stall?: number; truncate?: number; cached: number; cacheWrite: number;
  hang: boolean; reset: boolean; badJson: boolean; errorEvent: boolean;
}

function parseDirectives(text: string): Directives {
  const d: Directives = { cached: 0, cacheWrite: 0, hang: false, reset: false, badJson: false, errorEvent: false };
  for (const [, lineKey, lineValue = '', numKey, numValue = '0', flag] of text.matchAll(DIRECTIVE_RE)) {
    const value = lineValue.replace(/\r$/, '');
    const n = Number(numValue);
    if (lineKey === 'reply') d.reply = value;
    else if (lineKey === 'thinking') d.thinking = value;
    else if (lineKey === 'stop') d.stop = value;
    else if (lineKey === 'tool') {
      const colon = value.indexOf(':');
      const name = (colon === -1 ? value : value.slice(0, colon)).trim();
      const args = colon === -1 ? '' : value.slice(colon + 1).trim();
      let parsed: unknown;
      try { parsed = JSON.parse(args); } catch { parsed = undefined; }
      d.tool = isRecord(parsed) ? { name, args, input: parsed } : { name, args: '{}', input: {} };
    } else if (numKey === 'words') d.words = n;
    else if (numKey === 'status') d.status = n;
    else if (numKey === 'delay') d.delay = n;
    else if (numKey === 'cut') d.cut = n;
    else if (numKey === 'stall') d.stall = n;
    else if (numKey === 'truncate') d.truncate = n;
    else if (numKey === 'cached') d.cached = n;
    else if (numKey === 'cache_write') d.cacheWrite = n;
    else if (flag === 'hang') d.hang = true;
    else if (flag === 'reset') d.reset = true;
    else if (flag === 'badjson') d.badJson = true;
    else if (flag === 'error_event') d.errorEvent = true;
  }
  return d;
}

/** Characters of a content value (string or blocks) as counted for input_tokens. */
function contentChars(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let chars = 0;
  for (const block of content as unknown[]) {
    if (!isRecord(block)) continue;
    if (typeof block.text === 'string') chars += block.text.length;
    if (block.type === 'tool_use') chars += JSON.stringify(block.input ?? {}).length;
    if (block.type === 'tool_result') chars += contentChars(block.content);
  }
  return chars;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as unknown[]).map((b) => (isRecord(b) && b.type === 'text' && typeof b.text === 'string' ? b.text : '')).join('\n');
}

function inputTokens(body: Json): number {
  const messages = body.messages as unknown[];
  let chars = contentChars(body.system);
  for (const m of messages) if (isRecord(m)) chars += contentChars(m.content);
  return Math.ceil(chars / 4) + 3 * messages.length;
}

type Block = { kind: 'thinking'; text: string; signature: string } | { kind: 'text'; words: string[] } | { kind: 'tool'; id: string; name: string; args: string; input: Json };
interface Answer { blocks: Block[]; stopReason: string; stopSequence: string | null; output: number }

function plan(d: Directives, maxTokens: number): Answer {
  const blocks: Block[] = [];
  let output = 0;
  if (d.thinking !== undefined) {
    blocks.push({ kind: 'thinking', text: d.thinking, signature: `sig_${Buffer.from(d.thinking).toString('base64').slice(0, 24)}` });
    output += countPieces(d.thinking);
  }
  let stopReason = d.stop !== undefined ? 'stop_sequence' : 'end_turn';
  if (d.tool === undefined || d.reply !== undefined || d.words !== undefined) {
    const all = d.words !== undefined ? Array.from({ length: d.words }, (_, i) => (i === 0 ? 'w1' : ` w${i + 1}`)) : (d.reply ?? DEFAULT_REPLY).match(WORD_RE) ?? [];
    const words: string[] = [];
    for (const word of all) {
      const pieces = countPieces(word);
      if (d.tool === undefined && output + pieces > maxTokens) {
        stopReason = 'max_tokens';
        break;
      }
      words.push(word);
      output += pieces;
    }
    blocks.push({ kind: 'text', words });
  }
  if (d.tool !== undefined) {
    blocks.push({ kind: 'tool', id: nextId('toolu_'), ...d.tool });
    output += countPieces(d.tool.name) + countPieces(d.tool.args);
    stopReason = 'tool_use';
  }
  return { blocks, stopReason, stopSequence: stopReason === 'stop_sequence' ? (d.stop ?? null) : null, output };
}

function contentJson(block: Block): Json {
  if (block.kind === 'thinking') return { type: 'thinking', thinking: block.text, signature: block.signature };
  if (block.kind === 'text') return { type: 'text', text: block.words.join('') };
  return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
}

function sse(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

function streamFrames(id: string, model: string, usage: Json, a: Answer): string[] {
  const frames = [sse('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } })];
  a.blocks.forEach((block, index) => {
    const start = block.kind === 'thinking' ? { type: 'thinking', thinking: '' } : block.kind === 'text' ? { type: 'text', text: '' } : { type: 'tool_use', id: block.id, name: block.name, input: {} };
    frames.push(sse('content_block_start', { index, content_block: start }));
    if (index === 0) frames.push(sse('ping', {}));
    const delta = (d: Json): number => frames.push(sse('content_block_delta', { index, delta: d }));
    if (block.kind === 'thinking') {
      for (const piece of block.text.match(WORD_RE) ?? []) delta({ type: 'thinking_delta', thinking: piece });
      delta({ type: 'signature_delta', signature: block.signature });
    } else if (block.kind === 'text') {
      for (const word of block.words) delta({ type: 'text_delta', text: word });
    } else {
      delta({ type: 'input_json_delta', partial_json: '' });
      for (const fragment of block.args.match(FRAGMENT_RE) ?? []) delta({ type: 'input_json_delta', partial_json: fragment });
    }
    frames.push(sse('content_block_stop', { index }));
  });
  frames.push(sse('message_delta', { delta: { stop_reason: a.stopReason, stop_sequence: a.stopSequence }, usage: { output_tokens: a.output } }));
  frames.push(sse('message_stop', {}));
  return frames;
}

function errorJson(state: State, type: string, message: string): string {
  return JSON.stringify({ type: 'error', error: { type, message }, request_id: state.requestId });
}

function send(res: ServerResponse, state: State, status: number, body: string, extra: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'request-id': state.requestId, ...extra });
  res.end(body);
}

function sendError(res: ServerResponse, state: State, status: number, message?: string, retryAfter = 1): void {
  const type = ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  const extra: OutgoingHttpHeaders = status === 429
    ? { 'retry-after': String(retryAfter), 'anthropic-ratelimit-requests-limit': '50', 'anthropic-ratelimit-requests-remaining': '0' }
    : {};
  send(res, state, status, errorJson(state, type, message ?? ERROR_MESSAGES[type] ?? `mock #status:${status}`), extra);
}

function writeThenDestroy(res: ServerResponse, state: State, data: string): void {
  state.selfDestroyed = true;
  res.write(data, () => res.destroy());
}

/** The request's own faults, in the order Anthropic reports them; undefined when it is fine. */
function validate(body: Json, countOnly: boolean): string | undefined {
  if (typeof body.model !== 'string' || body.model === '') return 'model: Field required';
  if (!Array.isArray(body.messages)) return 'messages: Field required';
  if (body.messages.length === 0) return 'messages: at least one message is required';
  if (countOnly) return undefined;
  const max = body.max_tokens;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) return 'max_tokens: Field required';
  const thinking = body.thinking;
  if (isRecord(thinking) && thinking.type === 'enabled') {
    const budget = thinking.budget_tokens;
    if (typeof budget !== 'number' || budget < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
    if (budget >= max) return '`max_tokens` must be greater than `thinking.budget_tokens`';
  }
  return undefined;
}

function handleMessages(res: ServerResponse, state: State, body: Json, extra: string | undefined): void {
  const messages = body.messages as unknown[];
  const lastUser = [...messages].reverse().find((m): m is Json => isRecord(m) && m.role === 'user');
  const text = lastUser ? textOf(lastUser.content) : '';
  const d = parseDirectives(extra === undefined ? text : `${text}\n${extra}`);
  if (d.hang) return;
  const respond = (): void => {
    state.timer = undefined;
    if (state.closed) return;
    if (d.reset) {
      state.selfDestroyed = true;
      res.destroy();
      return;
    }
    if (d.status !== undefined && d.status >= 400 && d.status <= 599) return sendError(res, state, d.status);
    const model = body.model as string;
    const id = nextId('msg_');
    const answer = plan(d, body.max_tokens as number);
    const usage = { input_tokens: inputTokens(body), cache_creation_input_tokens: d.cacheWrite, cache_read_input_tokens: d.cached };
    if (body.stream !== true) {
      const json = JSON.stringify({
        id, type: 'message', role: 'assistant', model, content: answer.blocks.map(contentJson),
        stop_reason: answer.stopReason, stop_sequence: answer.stopSequence, usage: { ...usage, output_tokens: answer.output },
      });
      if (d.badJson) return send(res, state, 200, json.slice(0, Math.floor(json.length / 2)));
      if (d.cut === undefined) return send(res, state, 200, json);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'request-id': state.requestId });
      return writeThenDestroy(res, state, json.slice(0, Math.floor(json.length / 2)));
    }
    let frames = streamFrames(id, model, usage, answer);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': state.requestId });
    if (d.errorEvent) {
      frames = [...frames.slice(0, 4), `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`];
    }
    if (d.cut !== undefined) return writeThenDestroy(res, state, frames.slice(0, d.cut + 1).join(''));
    if (d.stall !== undefined) {
      res.write(frames.slice(0, d.stall + 1).join(''));
      return;
    }
    if (d.truncate !== undefined) return void res.end(frames.slice(0, d.truncate + 1).join(''));
    res.end(frames.join(''));
  };
  if (d.delay !== undefined && d.delay > 0) state.timer = setTimeout(respond, d.delay);
  else respond();
}

export function startMockAnthropic(options: MockAnthropicOptions = {}): Promise<MockAnthropic> {
  const requests: RecordedRequest[] = [];
  const stats = { aborted: 0, inFlight: 0 };
  let closing = false;

  const route = (req: IncomingMessage, res: ServerResponse, state: State, path: string, raw: string): void => {
    let body: unknown = raw === '' ? undefined : raw;
    try { body = raw === '' ? undefined : JSON.parse(raw); } catch { /* recorded as text */ }
    if (requests.length >= 10_000) requests.splice(0, 5_000); // bounded, for long benchmark runs
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
    const fault = options.fault?.({ method: req.method ?? 'GET', path, headers: req.headers, body });
    if (fault?.status !== undefined && fault.status >= 400 && fault.status <= 599) return sendError(res, state, fault.status, fault.message, fault.retryAfter);
    if (options.apiKey !== undefined) {
      const auth = req.headers.authorization;
      const given = req.headers['x-api-key'] ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
      if (given === undefined) return sendError(res, state, 401, 'x-api-key header is required');
      if (given !== options.apiKey) return sendError(res, state, 401, 'invalid x-api-key');
    }
    const countOnly = path === '/v1/messages/count_tokens';
    if (req.method !== 'POST' || (path !== '/v1/messages' && !countOnly)) return sendError(res, state, 404, `Not Found: ${req.method ?? ''} ${path}`);
    if (!req.headers['anthropic-version']) return sendError(res, state, 400, 'anthropic-version: header is required');
    if (!isRecord(body)) return sendError(res, state, 400, 'There was an issue with the JSON body of your request.');
    const problem = validate(body, countOnly);
    if (problem !== undefined) return sendError(res, state, 400, problem);
    if (countOnly) return send(res, state, 200, JSON.stringify({ input_tokens: inputTokens(body) }));
    handleMessages(res, state, body, fault?.directives);
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    stats.inFlight += 1;
    const state: State = { closed: false, selfDestroyed: false, timer: undefined, requestId: nextId('req_') };
    res.on('close', () => {
      state.closed = true;
      stats.inFlight -= 1;
      if (state.timer !== undefined) clearTimeout(state.timer);
      if (!res.writableFinished && !state.selfDestroyed && !closing) stats.aborted += 1;
    });
    req.on('error', () => undefined);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => route(req, res, state, path, Buffer.concat(chunks).toString('utf8')));
  });
  server.keepAliveTimeout = 65_000;

  return new Promise<MockAnthropic>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}/v1`,
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
