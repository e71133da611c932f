/**
 * Mock Gemini API (Gemini Developer API, v1beta) upstream on a real socket (node:http), speaking Google's
 * documented wire format:
 *   - generateContent / streamGenerateContent (?alt=sse), request and response bodies:
 *       https://ai.google.dev/api/generate-content
 *   - Function calling (functionCall parts, thoughtSignature): https://ai.google.dev/gemini-api/docs/function-calling
 *   - Thinking (thought parts, thoughtsTokenCount): https://ai.google.dev/gemini-api/docs/thinking
 *   - Safety (finishReason SAFETY, promptFeedback.blockReason): https://ai.google.dev/gemini-api/docs/safety-settings
 *   - Errors ({error: {code, message, status, details}}): https://ai.google.dev/gemini-api/docs/troubleshooting
 * test/upstreams/gemini.test.ts checks it with the official `@google/genai` SDK.
 *
 * Routes: POST /v1beta/models/{model}:generateContent and :streamGenerateContent (with `alt=sse`: SSE frames
 * `data: {GenerateContentResponse}\r\n\r\n`, as the real API frames them; without it: one JSON array of the
 * chunks). Anything else: 404 NOT_FOUND. With `apiKey` set, the key must come in the `x-goog-api-key` header or
 * the `key` query parameter: missing → 403 PERMISSION_DENIED, wrong → 400 INVALID_ARGUMENT with reason
 * API_KEY_INVALID (as Google answers). Malformed JSON, missing or empty `contents`, empty `parts`, or a role other
 * than user/model → 400 INVALID_ARGUMENT.
 *
 * Directives, read from the text parts of the LAST `user` turn (combine freely; line directives take the rest
 * of their line):
 *   #reply:<text>        reply text; default `Hello from mock.`
 *   #words:N             reply `w1 w2 … wN` (N candidates tokens); streamed one word per chunk like any reply
 *   #tool:<name>:<json>  one functionCall part {name, args: <json>} (with a thoughtSignature), finishReason STOP
 *   #thought:<text>      a `thought: true` part with <text> before the answer; thoughtsTokenCount = its pieces
 *   #status:<code>       that HTTP status with Google's error JSON (429: RESOURCE_EXHAUSTED + RetryInfo 1s)
 *   #delay:<ms>          wait before answering;   #chunkdelay:<ms>  streaming: wait between chunks
 *   #hang                never answer (until the client goes away or the mock closes)
 *   #reset               destroy the socket without any response (after #delay, if any)
 *   #cut:<n>             streaming: send the first n chunks (never the last one), then destroy the socket;
 *                        non-streaming: destroy after half of the JSON body
 *   #stall:<n>           streaming: send the first n chunks (never the last one), then nothing more, the
 *                        connection kept open (hang mid-stream) until the client goes away
 *   #truncate:<n>        streaming: send the first n chunks (never the last one), then end the body cleanly: a
 *                        truncated stream (no candidate finished), without a reset
 *   #error_event         streaming: the first chunk, then `data: {"error": {"code": 503, …, "status": "UNAVAILABLE"}}`
 *                        and the end of the body, as Google reports a failure mid-stream
 *   #badjson             non-streaming: 200 whose body is the first half of the JSON (invalid JSON)
 *   #safety              the first word of the reply, then finishReason SAFETY with safetyRatings (no more text)
 *   #blocked             promptFeedback.blockReason SAFETY and no candidates
 *   #cached:N            cachedContentTokenCount N (kept ≤ the prompt count)
 *   #maxtokens           finishReason MAX_TOKENS instead of STOP
 * generationConfig.candidateCount > 1 returns that many identical candidates (index 0…n-1).
 * Precedence: #hang > #delay, then #reset > #status > answer; streaming: #cut > #stall > #truncate > #error_event.
 *
 * Server-wide faults (option `fault`, ARCHITECTURE.md section 9): a function of the recorded request that returns
 * `{ status }` to answer with that status whatever the request says (before the key check; 429 adds
 * `retry-after` when `retryAfter` is given), or `{ directives }` (e.g. `'#reset'`, `'#badjson'`, `'#cut:0'`)
 * handled as if they ended the last user turn, so one upstream is broken in one specific way while another
 * serves the same prompt normally.
 *
 * Token counts (deterministic, not a real tokenizer):
 *   promptTokenCount     = ceil(characters / 4) + 3 per content (+ 3 with a systemInstruction) + 258 per
 *                          inlineData/fileData part; characters = text parts, JSON of functionCall.args and
 *                          functionResponse.response, in contents and systemInstruction
 *   candidatesTokenCount = pieces of the reply × candidates (a piece: a run of letters/digits/_ or one other
 *                          non-space character; `Hello from mock.` = 4); a tool call: pieces of name + JSON args
 *   thoughtsTokenCount   = pieces of the #thought text × candidates
 *   totalTokenCount      = prompt + candidates + thoughts. Streaming chunks carry running totals.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { MockFault } from './common.ts';

export interface MockGeminiOptions {
  port?: number;
  /** If set, require this key (header x-goog-api-key or query ?key=). */
  apiKey?: string;
  host?: string;
  /** A fault for every request, decided per request after it is recorded (see the header comment). */
  fault?: (request: RecordedRequest) => MockFault | undefined;
}

export type { MockFault } from './common.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; the raw text when it was not JSON; undefined without a body. */
  body: unknown;
}

export interface MockGeminiStats {
  /** Requests whose response was not finished when the client went away. */
  aborted: number;
  inFlight: number;
  open: number;
}

export interface MockGemini {
  /** Base URL as an adapter channel uses it: `http://127.0.0.1:PORT/v1beta`. */
  url: string;
  /** The origin, for SDKs that add the API version themselves (`@google/genai` httpOptions.baseUrl). */
  origin: string;
  port: number;
  requests: RecordedRequest[];
  stats: MockGeminiStats;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
const isJson = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const DEFAULT_REPLY = 'Hello from mock.';
const PIECE_RE = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;
const DIRECTIVE_RE = /#(reply|tool|thought):([^\n]*)|#(words|status|delay|chunkdelay|cut|stall|truncate|cached):(\d+)|#(hang|reset|badjson|error_event|safety|blocked|maxtokens)(?![\w-])/g;
const MEDIA_TOKENS = 258;
const STATUS_NAMES: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED', 499: 'CANCELLED', 500: 'INTERNAL', 501: 'UNIMPLEMENTED', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};
const STATUS_MESSAGES: Readonly<Record<number, string>> = {
  400: 'Request contains an invalid argument.',
  401: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
  403: 'The caller does not have permission',
  429: 'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
  500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  503: 'The model is overloaded. Please try again later.',
  504: 'Deadline expired before operation could complete.',
};
const SAFETY_RATINGS = [
  { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
];

interface Directives {
  reply?: string; words?: number; tool?: { name: string; args: Json }; thought?: string; status?: number;
  delay?: number; chunkDelay?: number; cut?: number; stall?: number; truncate?: number; cached: number; hang: boolean;
  reset: boolean; badJson: boolean; errorEvent: boolean; safety: boolean; blocked: boolean; maxTokens: boolean;
}

function parseDirectives(text: string): Directives {
  const d: Directives = { cached: 0, hang: false, reset: false, badJson: false, errorEvent: false, safety: false, blocked: false, maxTokens: false };
  for (const [, lineKey, lineValue = '', numKey, numValue = '0', flag] of text.matchAll(DIRECTIVE_RE)) {
    const value = lineValue.replace(/\r$/, '');
    if (lineKey === 'reply') d.reply = value;
    else if (lineKey === 'thought') d.thought = value;
    else if (lineKey === 'tool') {
      const colon = value.indexOf(':');
      let args: unknown = {};
      try {
        args = colon === -1 ? {} : JSON.parse(value.slice(colon + 1).trim() || '{}');
      } catch { /* not JSON: {} */ }
      d.tool = { name: (colon === -1 ? value : value.slice(0, colon)).trim(), args: isJson(args) ? args : {} };
    } else if (numKey !== undefined) {
      const n = Number.parseInt(numValue, 10);
      if (numKey === 'words') d.words = n;
      else if (numKey === 'status') d.status = n;
      else if (numKey === 'delay') d.delay = n;
      else if (numKey === 'chunkdelay') d.chunkDelay = n;
      else if (numKey === 'cut') d.cut = n;
      else if (numKey === 'stall') d.stall = n;
      else if (numKey === 'truncate') d.truncate = n;
      else d.cached = n;
    } else if (flag === 'hang') d.hang = true;
    else if (flag === 'reset') d.reset = true;
    else if (flag === 'badjson') d.badJson = true;
    else if (flag === 'error_event') d.errorEvent = true;
    else if (flag === 'safety') d.safety = true;
    else if (flag === 'blocked') d.blocked = true;
    else if (flag === 'maxtokens') d.maxTokens = true;
  }
  return d;
}

const pieces = (s: string): number => s.match(PIECE_RE)?.length ?? 0;
const words = (s: string): string[] => s.match(/\s*\S+\s*$|\s*\S+/g) ?? [s];

function errorJson(code: number, message: string, status: string, details?: Json[]): string {
  return JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } }, null, 2);
}

function statusError(code: number, model: string): string {
  const status = STATUS_NAMES[code] ?? (code < 500 ? 'FAILED_PRECONDITION' : 'UNKNOWN');
  const message = code === 404
    ? `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`
    : STATUS_MESSAGES[code] ?? `Mock error (#status:${code}).`;
  if (code !== 429) return errorJson(code, message, status);
  return errorJson(code, message, status, [
    { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
    { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' },
  ]);
}

interface Prompt { tokens: number; lastUser: string; candidates: number }

/** Validates the request as the API does; returns an error body (400) or what the answer needs. */
function readRequest(body: unknown): Prompt | string {
  if (!isJson(body)) return errorJson(400, 'Invalid JSON payload received. Unexpected token.', 'INVALID_ARGUMENT');
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) {
    return errorJson(400, '* GenerateContentRequest.contents: contents is not specified\n', 'INVALID_ARGUMENT');
  }
  let chars = 0;
  let media = 0;
  let lastUser = '';
  const count = (parts: unknown[]): string => {
    let text = '';
    for (const part of parts) {
      if (!isJson(part)) continue;
      if (typeof part.text === 'string') text += part.text;
      if (isJson(part.inlineData) || isJson(part.fileData)) media += 1;
      if (isJson(part.functionCall)) chars += JSON.stringify(part.functionCall.args ?? {}).length;
      if (isJson(part.functionResponse)) chars += JSON.stringify(part.functionResponse.response ?? {}).length;
    }
    chars += text.length;
    return text;
  };
  for (const [i, content] of contents.entries()) {
    const role = isJson(content) ? content.role : undefined;
    if (role !== undefined && role !== 'user' && role !== 'model') return errorJson(400, 'Please use a valid role: user, model.', 'INVALID_ARGUMENT');
    const parts = isJson(content) ? content.parts : undefined;
    if (!Array.isArray(parts) || parts.length === 0) {
      return errorJson(400, `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`, 'INVALID_ARGUMENT');
    }
    const text = count(parts);
    if (role !== 'model') lastUser = text;
  }
  const system = isJson(body.systemInstruction) && Array.isArray(body.systemInstruction.parts) ? body.systemInstruction.parts : undefined;
  if (system) count(system);
  const config = isJson(body.generationConfig) ? body.generationConfig : {};
  const candidates = typeof config.candidateCount === 'number' ? Math.max(1, Math.min(8, Math.floor(config.candidateCount))) : 1;
  const tokens = Math.ceil(chars / 4) + 3 * (contents.length + (system ? 1 : 0)) + MEDIA_TOKENS * media;
  return { tokens, lastUser, candidates };
}

/** The chunks of the answer (one for a JSON answer after merging; several for a stream). */
function answerChunks(model: string, prompt: Prompt, d: Directives): Json[] {
  const responseId = randomBytes(12).toString('base64url');
  const cached = Math.min(d.cached, prompt.tokens);
  const usage = (candidates: number, thoughts: number): Json => ({
    promptTokenCount: prompt.tokens,
    ...(candidates > 0 ? { candidatesTokenCount: candidates } : {}),
    totalTokenCount: prompt.tokens + candidates + thoughts,
    ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt.tokens }],
    ...(cached > 0 ? { cacheTokensDetails: [{ modality: 'TEXT', tokenCount: cached }] } : {}),
    ...(thoughts > 0 ? { thoughtsTokenCount: thoughts } : {}),
  });
  const chunk = (candidate: ((index: number) => Json) | undefined, candidates: number, thoughts: number, extra: Json = {}): Json => ({
    ...(candidate ? { candidates: Array.from({ length: prompt.candidates }, (_, i) => candidate(i)) } : {}),
    ...extra,
    usageMetadata: usage(candidates * prompt.candidates, thoughts * prompt.candidates),
    modelVersion: model,
    responseId,
  });
  const content = (parts: Json[]): Json => ({ parts, role: 'model' });
  if (d.blocked) return [chunk(undefined, 0, 0, { promptFeedback: { blockReason: 'SAFETY', safetyRatings: SAFETY_RATINGS } })];
  const out: Json[] = [];
  const thoughts = d.thought === undefined ? 0 : pieces(d.thought);
  if (d.thought !== undefined) {
    const thought = d.thought;
    out.push(chunk((index) => ({ content: content([{ text: thought, thought: true }]), index }), 0, thoughts));
  }
  const finish = d.maxTokens ? 'MAX_TOKENS' : 'STOP';
  if (d.tool !== undefined) {
    const call = { functionCall: { name: d.tool.name, args: d.tool.args }, thoughtSignature: randomBytes(24).toString('base64') };
    const n = pieces(d.tool.name) + pieces(JSON.stringify(d.tool.args));
    out.push(chunk((index) => ({ content: content([call]), finishReason: finish, index }), n, thoughts));
    return out;
  }
  const text = d.words !== undefined ? Array.from({ length: d.words }, (_, i) => `w${i + 1}`).join(' ') : d.reply ?? DEFAULT_REPLY;
  const pieceList = words(text);
  let sent = 0;
  for (const [i, word] of pieceList.entries()) {
    sent += pieces(word);
    const last = i === pieceList.length - 1 && !d.safety;
    out.push(chunk((index) => ({ content: content([{ text: word }]), ...(last ? { finishReason: finish } : {}), index }), sent, thoughts));
    if (d.safety) break;
  }
  if (d.safety) out.push(chunk((index) => ({ finishReason: 'SAFETY', index, safetyRatings: SAFETY_RATINGS }), sent, thoughts));
  return out;
}

/** Merges stream chunks into the one JSON answer generateContent returns. */
function merge(chunks: Json[]): Json {
  const last = chunks.at(-1) ?? {};
  if (!Array.isArray(last.candidates)) return last;
  const candidates = last.candidates.map((c, index) => {
    const parts = chunks.flatMap((ch) => {
      const cand: unknown = Array.isArray(ch.candidates) ? ch.candidates[index] : undefined;
      return isJson(cand) && isJson(cand.content) && Array.isArray(cand.content.parts) ? cand.content.parts : [];
    });
    const texts: Json[] = [];
    for (const part of parts) {
      const prev = texts.at(-1);
      if (isJson(part) && typeof part.text === 'string' && prev && typeof prev.text === 'string' && prev.thought === part.thought) prev.text += part.text;
      else texts.push(isJson(part) ? { ...part } : {});
    }
    const { content: _content, ...rest } = isJson(c) ? c : {};
    return texts.length > 0 ? { content: { parts: texts, role: 'model' }, ...rest } : rest;
  });
  return { ...last, candidates };
}

interface State { closed: boolean; selfDestroyed: boolean; timers: NodeJS.Timeout[] }

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body), vary: 'Origin, X-Origin, Referer' });
  res.end(body);
}

function answer(res: ServerResponse, state: State, model: string, method: string, sse: boolean, prompt: Prompt, d: Directives): void {
  if (d.reset) {
    state.selfDestroyed = true;
    res.destroy();
    return;
  }
  if (d.status !== undefined && d.status >= 400 && d.status <= 599) return send(res, d.status, statusError(d.status, model));
  const chunks = answerChunks(model, prompt, d);
  if (method === 'generateContent' || !sse) {
    const body = method === 'generateContent' ? JSON.stringify(merge(chunks), null, 2) : JSON.stringify(chunks, null, 2);
    if (d.badJson) return send(res, 200, body.slice(0, Math.floor(body.length / 2)));
    if (d.cut === undefined) return send(res, 200, body);
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    state.selfDestroyed = true;
    res.write(body.slice(0, Math.floor(body.length / 2)), () => res.destroy());
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'content-disposition': 'attachment', vary: 'Origin, X-Origin, Referer', 'x-content-type-options': 'nosniff' });
  const stop = d.cut ?? d.stall ?? d.truncate ?? (d.errorEvent ? 1 : undefined);
  const limit = stop === undefined ? chunks.length : Math.min(stop, chunks.length - 1);
  const cut = (): void => {
    state.selfDestroyed = true;
    res.destroy();
  };
  if (limit === 0 && d.cut !== undefined) {
    res.flushHeaders();
    state.timers.push(setTimeout(cut, 20));
    return;
  }
  const errorFrame = `data: ${JSON.stringify({ error: { code: 503, message: STATUS_MESSAGES[503], status: 'UNAVAILABLE' } })}\r\n\r\n`;
  let i = 0;
  const next = (): void => {
    if (state.closed) return;
    if (i >= limit) {
      if (d.cut === undefined && d.stall !== undefined) res.flushHeaders();
      else if (d.cut === undefined && d.truncate === undefined && d.errorEvent) res.end(errorFrame);
      else res.end();
      return;
    }
    const frame = `data: ${JSON.stringify(chunks[i])}\r\n\r\n`;
    i += 1;
    // A cut stream ends right after its last frame has been handed to the kernel.
    if (d.cut !== undefined && i === limit) {
      res.write(frame, cut);
      return;
    }
    res.write(frame);
    if (d.chunkDelay) state.timers.push(setTimeout(next, d.chunkDelay));
    else next();
  };
  next();
}

export function startMockGemini(options: MockGeminiOptions = {}): Promise<MockGemini> {
  const host = options.host ?? '127.0.0.1';
  const requests: RecordedRequest[] = [];
  const stats: MockGeminiStats = { aborted: 0, inFlight: 0, open: 0 };
  let closing = false;

  const route = (req: IncomingMessage, res: ServerResponse, state: State, raw: string): void => {
    const url = new URL(req.url ?? '/', 'http://mock');
    const query = Object.fromEntries(url.searchParams);
    let body: unknown = raw === '' ? undefined : raw;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch { /* recorded as text */ }
    requests.push({ method: req.method ?? 'GET', path: url.pathname, query, headers: req.headers, body });
    const fault = options.fault?.({ method: req.method ?? 'GET', path: url.pathname, query, headers: req.headers, body });
    if (fault?.status !== undefined && fault.status >= 400 && fault.status <= 599) {
      const model = decodeURIComponent(/\/models\/([^/:]+)/.exec(url.pathname)?.[1] ?? 'unknown');
      res.writeHead(fault.status, {
        'content-type': 'application/json; charset=UTF-8',
        ...(fault.status === 429 && fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {}),
      });
      res.end(statusError(fault.status, model));
      return;
    }
    if (options.apiKey !== undefined) {
      const header = req.headers['x-goog-api-key'];
      const key = (Array.isArray(header) ? header[0] : header) ?? query.key;
      if (key === undefined || key === '') {
        return send(res, 403, errorJson(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", 'PERMISSION_DENIED'));
      }
      if (key !== options.apiKey) {
        return send(res, 400, errorJson(400, 'API key not valid. Please pass a valid API key.', 'INVALID_ARGUMENT', [
          { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
          { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
        ]));
      }
    }
    const match = /^\/v1(?:beta)?\/(?:models|tunedModels)\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) return send(res, 404, errorJson(404, 'Method not found.', 'NOT_FOUND'));
    const model = decodeURIComponent(match[1] ?? '');
    const prompt = readRequest(body);
    if (typeof prompt === 'string') return send(res, 400, prompt);
    const d = parseDirectives(fault?.directives === undefined ? prompt.lastUser : `${prompt.lastUser}\n${fault.directives}`);
    if (d.hang) return;
    const go = (): void => {
      if (!state.closed) answer(res, state, model, match[2] ?? '', query.alt === 'sse', prompt, d);
    };
    if (d.delay) state.timers.push(setTimeout(go, d.delay));
    else go();
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    stats.inFlight += 1;
    const state: State = { closed: false, selfDestroyed: false, timers: [] };
    res.on('close', () => {
      state.closed = true;
      stats.inFlight -= 1;
      for (const timer of state.timers) clearTimeout(timer);
      if (!res.writableFinished && !state.selfDestroyed && !closing) stats.aborted += 1;
    });
    req.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => route(req, res, state, Buffer.concat(chunks).toString('utf8')));
  });
  server.keepAliveTimeout = 65_000;
  server.on('connection', (socket: Socket) => {
    stats.open += 1;
    socket.once('close', () => {
      stats.open -= 1;
    });
  });

  return new Promise<MockGemini>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      const origin = `http://${host}:${port}`;
      resolve({
        url: `${origin}/v1beta`,
        origin,
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
