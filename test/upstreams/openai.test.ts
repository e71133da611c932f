/**
 * Fidelity of the mock OpenAI upstream (test/upstreams/openai.ts):
 *  1. the official `openai` SDK, pointed straight at the mock, parses every kind of answer;
 *  2. the mock's bodies and stream chunks conform to OpenAI's published OpenAPI schemas
 *     (skipped, with a console message, when ../shared/openai-openapi.yaml is missing);
 *  3. fault injection, keep-alive, recording and abort accounting behave as documented.
 */
import { request as httpRequest, Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, {
  APIConnectionError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { startMockOpenAI, type MockOpenAI } from './openai.ts';
import { loadOpenApiValidator, OPENAPI_YAML_PATH } from '../helpers/openapi.ts';

const API_KEY = 'sk-mock-test-key-0123456789';
const MODEL = 'gpt-4o-mini';

let mock: MockOpenAI;
let client: OpenAI;

beforeAll(async () => {
  mock = await startMockOpenAI({ apiKey: API_KEY });
  client = new OpenAI({ baseURL: mock.url, apiKey: API_KEY, maxRetries: 0, timeout: 10_000 });
});
afterAll(async () => {
  await mock.close();
});

function user(content: string): OpenAI.Chat.Completions.ChatCompletionMessageParam[] {
  return [{ role: 'user', content }];
}

async function waitFor(cond: () => boolean, timeoutMs = 2_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Plain HTTP call to the mock (no SDK), returning status, headers and the raw body text. */
async function raw(
  path: string,
  body?: unknown,
  init: { method?: string; auth?: string | null; rawBody?: string } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.auth !== null) headers.authorization = init.auth ?? `Bearer ${API_KEY}`;
  const res = await fetch(`${mock.url}${path}`, {
    method: init.method ?? (body === undefined && init.rawBody === undefined ? 'GET' : 'POST'),
    headers,
    body: init.rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Split an SSE body into its `data:` payloads. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.length > 0)
    .map((frame) => {
      expect(frame.startsWith('data: ')).toBe(true);
      return frame.slice('data: '.length);
    });
}

// ---------------------------------------------------------------------------------------------------------

describe('mock OpenAI upstream: official SDK fidelity', () => {
  it('non-stream chat: default text reply, usage, echoed model', async () => {
    const res = await client.chat.completions.create({ model: MODEL, messages: user('hi') });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.model).toBe(MODEL);
    expect(typeof res.created).toBe('number');
    expect(res.system_fingerprint).toEqual(expect.any(String));
    const choice = res.choices[0];
    expect(choice?.message).toMatchObject({ role: 'assistant', content: 'Hello from mock.', refusal: null });
    expect(choice?.finish_reason).toBe('stop');
    expect(choice?.logprobs).toBeNull();
    // prompt: ceil(2 chars / 4) + 3 per message = 4; completion: Hello, from, mock, "." = 4
    expect(res.usage).toEqual({
      prompt_tokens: 4,
      completion_tokens: 4,
      total_tokens: 8,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
    const recorded = mock.requests.at(-1);
    expect(recorded).toMatchObject({ method: 'POST', path: '/v1/chat/completions', body: { model: MODEL } });
    expect(recorded?.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('directives: #reply, #words, #cached, #reasoning, text content parts, last user message only', async () => {
    const reply = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: '#reply:ignored, not the last user message' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: [{ type: 'text', text: 'please\n#reply:Custom answer, here.\n#cached:3 #reasoning:5' }] },
      ],
    });
    expect(reply.choices[0]?.message.content).toBe('Custom answer, here.');
    // chars: 8 + 41 + 2 + 57 = 108 -> ceil(108/4) = 27, + 4 messages x 3 = 39
    expect(reply.usage?.prompt_tokens).toBe(39);
    expect(reply.usage?.completion_tokens).toBe(5 + 5); // Custom, answer, ",", here, "." + 5 reasoning
    expect(reply.usage?.prompt_tokens_details?.cached_tokens).toBe(3);
    expect(reply.usage?.completion_tokens_details?.reasoning_tokens).toBe(5);

    const words = await client.chat.completions.create({ model: MODEL, messages: user('#words:7') });
    expect(words.choices[0]?.message.content).toBe('w1 w2 w3 w4 w5 w6 w7');
    expect(words.usage?.completion_tokens).toBe(7);
  });

  it('non-stream chat: tool call', async () => {
    const res = await client.chat.completions.create({
      model: MODEL,
      messages: user('weather?\n#tool:get_weather:{"city":"Paris","unit":"c"}'),
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    });
    const choice = res.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    const call = choice?.message.tool_calls?.[0];
    expect(call?.id).toMatch(/^call_/);
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function tool call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris', unit: 'c' });
  });

  it('streaming chat with include_usage: deltas, finish_reason, usage', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: user('#reply:The quick brown fox.'),
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const deltas = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? ''));
    expect(deltas.join('')).toBe('The quick brown fox.');
    expect(deltas.filter((d) => d !== '')).toEqual(['The', ' quick', ' brown', ' fox.']);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    const finish = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f !== null);
    expect(finish).toEqual(['stop']);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    // prompt: ceil(27 chars / 4) + 3 = 10; completion: The, quick, brown, fox, "." = 5
    expect(last?.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
  });

  it('streaming chat without include_usage has no usage field; #nousage drops the usage chunk', async () => {
    const plain = await client.chat.completions.create({ model: MODEL, messages: user('hi'), stream: true });
    const plainChunks: ChatCompletionChunk[] = [];
    for await (const chunk of plain) plainChunks.push(chunk);
    expect(plainChunks.every((c) => !('usage' in c))).toBe(true);
    expect(plainChunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');

    const noUsage = await client.chat.completions.create({
      model: MODEL,
      messages: user('#nousage'),
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of noUsage) chunks.push(chunk);
    expect(chunks.every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('streaming tool call: arguments assemble from fragments', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: user('#tool:lookup:{"query": "mock upstream", "limit": 3}'),
      stream: true,
    });
    let id: string | undefined;
    let name = '';
    let args = '';
    let fragments = 0;
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice === undefined) continue;
      for (const tc of choice.delta.tool_calls ?? []) {
        expect(tc.index).toBe(0);
        if (tc.id !== undefined) id = tc.id;
        if (tc.function?.name !== undefined) name += tc.function.name;
        if (tc.function?.arguments !== undefined && tc.function.arguments !== '') {
          args += tc.function.arguments;
          fragments += 1;
        }
      }
      if (choice.finish_reason !== null) finish = choice.finish_reason;
    }
    expect(id).toMatch(/^call_/);
    expect(name).toBe('lookup');
    expect(fragments).toBeGreaterThan(1);
    expect(JSON.parse(args)).toEqual({ query: 'mock upstream', limit: 3 });
    expect(finish).toBe('tool_calls');
  });

  it('chat.completions.stream() helper: finalChatCompletion() for text and for a tool call', async () => {
    const text = client.chat.completions.stream({
      model: MODEL,
      messages: user('#words:5'),
      stream_options: { include_usage: true },
    });
    const final = await text.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe('w1 w2 w3 w4 w5');
    expect(final.choices[0]?.finish_reason).toBe('stop');
    expect(final.usage?.completion_tokens).toBe(5);

    const tool = client.chat.completions.stream({
      model: MODEL,
      messages: user('#tool:sum:{"a":1,"b":2}'),
      tools: [{ type: 'function', function: { name: 'sum', parameters: { type: 'object' } } }],
    });
    const toolFinal = await tool.finalChatCompletion();
    const call = toolFinal.choices[0]?.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('expected a function tool call');
    expect(call.function.name).toBe('sum');
    expect(call.function.arguments).toBe('{"a":1,"b":2}');
    expect(toolFinal.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('embeddings: SDK default base64 decodes to the same float32 vectors as encoding_format float', async () => {
    const b64 = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    expect(mock.requests.at(-1)?.body).toMatchObject({ encoding_format: 'base64' });
    expect(b64.object).toBe('list');
    expect(b64.model).toBe('text-embedding-3-small');
    expect(b64.data.map((d) => d.index)).toEqual([0, 1]);
    for (const d of b64.data) {
      expect(Array.isArray(d.embedding)).toBe(true);
      expect(d.embedding).toHaveLength(8);
      const norm = Math.sqrt(d.embedding.reduce((s, v) => s + v * v, 0));
      expect(norm).toBeCloseTo(1, 5);
    }
    expect(b64.usage).toEqual({ prompt_tokens: 2 + 1, total_tokens: 3 });

    const floats = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
      encoding_format: 'float',
    });
    expect(floats.data.map((d) => d.embedding)).toEqual(b64.data.map((d) => d.embedding));
    expect(floats.data[0]?.embedding).not.toEqual(floats.data[1]?.embedding);

    const dims = await client.embeddings.create({ model: 'text-embedding-3-large', input: [[1, 2, 3]], dimensions: 16 });
    expect(dims.data[0]?.embedding).toHaveLength(16);
    expect(dims.usage.prompt_tokens).toBe(3);
  });

  it('models.list()', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      expect(model.object).toBe('model');
      ids.push(model.id);
    }
    expect(ids).toContain('gpt-4o-mini');
    expect(ids).toContain('text-embedding-3-small');
    const one = await client.models.retrieve('gpt-4o');
    expect(one.id).toBe('gpt-4o');
    await expect(client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(NotFoundError);
  });

  it.each([
    [400, BadRequestError, 'invalid_request_error', null],
    [401, AuthenticationError, 'invalid_request_error', 'invalid_api_key'],
    [404, NotFoundError, 'invalid_request_error', 'model_not_found'],
    [429, RateLimitError, 'requests', 'rate_limit_exceeded'],
    [500, InternalServerError, 'server_error', null],
    [503, InternalServerError, 'server_error', null],
  ] as const)('#status:%i -> typed SDK error', async (status, ErrorClass, type, code) => {
    const err: unknown = await client.chat.completions
      .create({ model: MODEL, messages: user(`#status:${status}`) })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ErrorClass);
    if (!(err instanceof ErrorClass)) return;
    expect(err.status).toBe(status);
    expect(err.type).toBe(type);
    expect(err.code).toBe(code);
    expect(err.headers?.get('retry-after') ?? null).toBe(status === 429 ? '1' : null);
  });

  it('#status also applies to streaming requests (error JSON before any SSE)', async () => {
    await expect(
      client.chat.completions.create({ model: MODEL, messages: user('#status:429'), stream: true }),
    ).rejects.toBeInstanceOf(RateLimitError);
  });

  it('apiKey: missing or wrong key -> 401 AuthenticationError', async () => {
    const wrong = new OpenAI({ baseURL: mock.url, apiKey: 'sk-wrong-key-123456', maxRetries: 0 });
    const err: unknown = await wrong.chat.completions
      .create({ model: MODEL, messages: user('hi') })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    if (err instanceof AuthenticationError) expect(err.code).toBe('invalid_api_key');

    const missing = await raw('/chat/completions', { model: MODEL, messages: user('hi') }, { auth: null });
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.text)).toMatchObject({ error: { type: 'invalid_request_error' } });
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('mock OpenAI upstream: faults, protocol errors, keep-alive, aborts', () => {
  it('malformed request JSON -> 400; unknown path -> 404; wrong method -> 404', async () => {
    const bad = await raw('/chat/completions', undefined, { rawBody: '{"model": ' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ error: { type: 'invalid_request_error', param: null, code: null } });
    expect(mock.requests.at(-1)?.body).toBe('{"model": ');

    const unknown = await raw('/nope', { a: 1 });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text)).toMatchObject({ error: { message: 'Invalid URL (POST /v1/nope)' } });

    const get = await raw('/chat/completions');
    expect(get.status).toBe(404);

    const noMessages = await raw('/chat/completions', { model: MODEL });
    expect(noMessages.status).toBe(400);
    expect(JSON.parse(noMessages.text)).toMatchObject({ error: { param: 'messages' } });

    const streamOptions = await raw('/chat/completions', {
      model: MODEL,
      messages: user('hi'),
      stream_options: { include_usage: true },
    });
    expect(streamOptions.status).toBe(400);
  });

  it('#badjson -> 200 with unparsable body (non-stream and stream) -> SDK throws', async () => {
    const res = await raw('/chat/completions', { model: MODEL, messages: user('#badjson') });
    expect(res.status).toBe(200);
    expect(() => JSON.parse(res.text) as unknown).toThrow();
    await expect(client.chat.completions.create({ model: MODEL, messages: user('#badjson') })).rejects.toThrow();

    const stream = await client.chat.completions.create({ model: MODEL, messages: user('#badjson'), stream: true });
    await expect(
      (async () => {
        for await (const chunk of stream) void chunk;
      })(),
    ).rejects.toThrow();
  });

  it('#cut:n truncates the SSE stream after n content chunks (no [DONE]); not counted as a client abort', async () => {
    const before = mock.stats.aborted;
    const stream = await client.chat.completions.create({ model: MODEL, messages: user('#words:10 #cut:3'), stream: true });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) {
          const content = chunk.choices[0]?.delta.content;
          if (content) seen.push(content);
        }
      })(),
    ).rejects.toThrow();
    expect(seen).toEqual(['w1', ' w2', ' w3']);
    expect(mock.stats.aborted).toBe(before);
  });

  it('#cut with #chunkdelay truncates too; raw body has no [DONE]', async () => {
    const res = await fetch(`${mock.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: user('#words:5 #cut:2 #chunkdelay:5'), stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    if (reader === undefined) throw new Error('no body');
    let text = '';
    const decoder = new TextDecoder();
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
      })(),
    ).rejects.toThrow();
    expect(sseData(text)).toHaveLength(3);
    expect(text).not.toContain('[DONE]');
  });

  it('#delay waits before headers; #chunkdelay spaces the frames', async () => {
    let start = Date.now();
    await client.chat.completions.create({ model: MODEL, messages: user('#delay:120') });
    expect(Date.now() - start).toBeGreaterThanOrEqual(110);

    start = Date.now();
    const stream = await client.chat.completions.create({ model: MODEL, messages: user('#words:4 #chunkdelay:30'), stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('w1 w2 w3 w4');
    // role, 4 words, finish, [DONE] = 7 frames -> 6 gaps of 30 ms
    expect(Date.now() - start).toBeGreaterThanOrEqual(170);
  });

  it('#reset destroys the connection -> APIConnectionError', async () => {
    await expect(client.chat.completions.create({ model: MODEL, messages: user('#reset') })).rejects.toBeInstanceOf(
      APIConnectionError,
    );
  });

  it('#hang never answers; a disconnecting client is counted in stats.aborted', async () => {
    const before = mock.stats.aborted;
    const controller = new AbortController();
    const pending = client.chat.completions.create(
      { model: MODEL, messages: user('#hang') },
      { signal: controller.signal },
    );
    const settled = pending.then(() => 'resolved', () => 'rejected');
    await waitFor(() => mock.stats.inFlight === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(mock.stats.inFlight).toBe(1);
    controller.abort();
    expect(await settled).toBe('rejected');
    await waitFor(() => mock.stats.aborted === before + 1);
    await waitFor(() => mock.stats.inFlight === 0);
  });

  it('#stall:n hangs mid-stream; aborting the stream is counted in stats.aborted', async () => {
    const before = mock.stats.aborted;
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: MODEL, messages: user('#words:6 #stall:2'), stream: true },
      { signal: controller.signal },
    );
    const seen: string[] = [];
    const done = (async () => {
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta.content;
        if (content) seen.push(content);
      }
    })().then(() => 'ended', () => 'aborted');
    await waitFor(() => seen.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(['w1', ' w2']);
    controller.abort();
    // The SDK's stream iterator ends quietly on a user abort (it swallows the AbortError).
    expect(['ended', 'aborted']).toContain(await done);
    expect(seen).toEqual(['w1', ' w2']);
    await waitFor(() => mock.stats.aborted === before + 1);
  });

  it('keep-alive: sequential requests reuse one connection', async () => {
    const local = await startMockOpenAI();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const body = JSON.stringify({ model: MODEL, messages: user('hi') });
      const reused: boolean[] = [];
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = httpRequest(
            `${local.url}/chat/completions`,
            { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
            (res) => {
              expect(res.statusCode).toBe(200);
              expect(res.headers.connection).toBe('keep-alive');
              res.resume();
              res.on('end', () => resolve());
            },
          );
          req.on('error', reject);
          reused.push(false);
          req.on('socket', () => {
            reused[i] = req.reusedSocket;
          });
          req.end(body);
        });
      }
      expect(reused).toEqual([false, true, true, true, true]);
      expect(local.stats.open).toBe(1);
      expect(local.requests).toHaveLength(5);
    } finally {
      agent.destroy();
      await local.close();
    }
  });

  it('close() resolves even with a hanging request open', async () => {
    const local = await startMockOpenAI();
    const c = new OpenAI({ baseURL: local.url, apiKey: 'x', maxRetries: 0 });
    const pending = c.chat.completions.create({ model: MODEL, messages: user('#hang') }).then(
      () => 'resolved',
      () => 'rejected',
    );
    await waitFor(() => local.stats.inFlight === 1);
    await local.close();
    expect(await pending).toBe('rejected');
    expect(local.stats.aborted).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------

const validator = loadOpenApiValidator();
if (validator === undefined) {
  console.warn(`[openai mock] ${OPENAPI_YAML_PATH} not found: skipping OpenAPI schema conformance tests`);
}

describe.skipIf(validator === undefined)('mock OpenAI upstream: OpenAPI schema conformance', () => {
  const check = (schema: string, value: unknown): void => {
    const errors = validator?.validate(schema, value) ?? [];
    expect(errors, `${schema}: ${JSON.stringify(value)}`).toEqual([]);
  };

  it('the validator is not vacuous', () => {
    expect(validator?.validate('CreateChatCompletionResponse', { id: 1 }).length).toBeGreaterThan(0);
    expect(
      validator?.validate('CreateChatCompletionStreamResponse', {
        id: 'x',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [],
      }).length,
    ).toBeGreaterThan(0);
  });

  it.each(['hi', '#reply:Some text.', '#tool:f:{"x":1}', '#cached:2 #reasoning:3', '#nousage'])(
    'non-stream %s matches CreateChatCompletionResponse',
    async (prompt) => {
      const res = await raw('/chat/completions', { model: MODEL, messages: user(prompt) });
      expect(res.status).toBe(200);
      check('CreateChatCompletionResponse', JSON.parse(res.text));
    },
  );

  it.each([
    ['#words:3', true],
    ['#words:3', false],
    ['#tool:f:{"x":[1,2]}', true],
  ] as const)('stream %s (include_usage %s): every chunk matches CreateChatCompletionStreamResponse', async (prompt, includeUsage) => {
    const res = await raw('/chat/completions', {
      model: MODEL,
      messages: user(prompt),
      stream: true,
      ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const data = sseData(res.text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as unknown);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) check('CreateChatCompletionStreamResponse', chunk);
  });

  it('embeddings (encoding_format float) match CreateEmbeddingResponse', async () => {
    const res = await raw('/embeddings', {
      model: 'text-embedding-3-small',
      input: ['one', 'two'],
      encoding_format: 'float',
      dimensions: 4,
    });
    expect(res.status).toBe(200);
    check('CreateEmbeddingResponse', JSON.parse(res.text));
  });

  it('models list matches ListModelsResponse', async () => {
    const res = await raw('/models');
    check('ListModelsResponse', JSON.parse(res.text));
  });

  it.each([
    ['#status:400'],
    ['#status:401'],
    ['#status:404'],
    ['#status:429'],
    ['#status:500'],
    ['#status:503'],
    ['#status:418'],
  ])('error body for %s matches ErrorResponse', async (prompt) => {
    const res = await raw('/chat/completions', { model: MODEL, messages: user(prompt) });
    expect(res.status).toBe(Number(prompt.split(':')[1]));
    expect(res.headers.get('content-type')).toBe('application/json');
    check('ErrorResponse', JSON.parse(res.text));
  });

  it('protocol error bodies (malformed JSON, unknown path, bad key) match ErrorResponse', async () => {
    for (const res of [
      await raw('/chat/completions', undefined, { rawBody: 'nope' }),
      await raw('/unknown', { x: 1 }),
      await raw('/models', undefined, { auth: 'Bearer wrong' }),
      await raw('/embeddings', { model: 'text-embedding-3-small' }),
    ]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      check('ErrorResponse', JSON.parse(res.text));
    }
  });
});
