/**
 * Fidelity of the mock Anthropic upstream (test/upstreams/anthropic.ts): the official `@anthropic-ai/sdk`,
 * pointed straight at the mock, parses every kind of answer, stream and error; plus the mock's own promises
 * (header checks, count_tokens, deterministic usage, faults, abort accounting).
 * The SDK builds `${baseURL}/v1/messages`, so it gets the mock's URL without the trailing `/v1`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic, {
  APIError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { startMockAnthropic, type MockAnthropic } from './anthropic.ts';

const API_KEY = 'sk-ant-mock-0123456789';
const MODEL = 'claude-haiku-4-5';

let mock: MockAnthropic;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMockAnthropic({ apiKey: API_KEY });
  client = new Anthropic({ baseURL: mock.url.replace(/\/v1$/, ''), apiKey: API_KEY, maxRetries: 0, timeout: 10_000 });
});
afterAll(async () => {
  await mock.close();
});

const user = (content: string): Anthropic.MessageParam[] => [{ role: 'user', content }];

async function raw(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as unknown, headers: res.headers };
}

async function waitFor(cond: () => boolean, timeoutMs = 2_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('mock Anthropic upstream: official SDK, non-streaming', () => {
  it('text reply with deterministic usage, recorded with its headers', async () => {
    const before = mock.requests.length;
    const msg = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('hi') });
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
    expect(msg.id).toMatch(/^msg_/);
    expect(msg.model).toBe(MODEL);
    expect(msg.content).toEqual([{ type: 'text', text: 'Hello from mock.' }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.stop_sequence).toBeNull();
    // ceil(2 / 4) + 3 × 1 message = 4; `Hello from mock.` = 4 pieces
    expect(msg.usage).toMatchObject({ input_tokens: 4, output_tokens: 4, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
    const recorded = mock.requests[before];
    expect(recorded?.path).toBe('/v1/messages');
    expect(recorded?.headers.authorization).toBe(`Bearer ${API_KEY}`); // how SDK 1.x sends the key (the mock takes x-api-key too)
    expect(recorded?.headers['anthropic-version']).toBeTypeOf('string');
  });

  it('tool_use block with parsed input and stop_reason tool_use', async () => {
    const msg = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('#tool:get_weather:{"location":"Paris"}') });
    expect(msg.stop_reason).toBe('tool_use');
    const block = msg.content[0];
    expect(block?.type).toBe('tool_use');
    if (block?.type !== 'tool_use') throw new Error('expected tool_use');
    expect(block.id).toMatch(/^toolu_/);
    expect(block.name).toBe('get_weather');
    expect(block.input).toEqual({ location: 'Paris' });
  });

  it('thinking block (with signature) before the text', async () => {
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: user('#thinking:Two and two make four.\n#reply:It is 4.'),
    });
    expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    const [thinking, text] = msg.content;
    if (thinking?.type !== 'thinking' || text?.type !== 'text') throw new Error('unexpected blocks');
    expect(thinking.thinking).toBe('Two and two make four.');
    expect(thinking.signature.length).toBeGreaterThan(0);
    expect(text.text).toBe('It is 4.');
    expect(msg.usage.output_tokens).toBe(6 + 4); // Two and two make four . | It is 4 .
  });

  it('stop sequence, cache usage, max_tokens cut', async () => {
    const stopped = await client.messages.create({ model: MODEL, max_tokens: 100, stop_sequences: ['END'], messages: user('#cached:100\n#cache_write:7\n#stop:END') });
    expect(stopped.stop_reason).toBe('stop_sequence');
    expect(stopped.stop_sequence).toBe('END');
    expect(stopped.usage.cache_read_input_tokens).toBe(100);
    expect(stopped.usage.cache_creation_input_tokens).toBe(7);
    const cut = await client.messages.create({ model: MODEL, max_tokens: 3, messages: user('#words:10') });
    expect(cut.stop_reason).toBe('max_tokens');
    expect(cut.content).toEqual([{ type: 'text', text: 'w1 w2 w3' }]);
    expect(cut.usage.output_tokens).toBe(3);
  });

  it('count_tokens agrees with input_tokens', async () => {
    const messages = user('a longer prompt with some words in it');
    const counted = await client.messages.countTokens({ model: MODEL, messages, system: 'Be brief.' });
    const msg = await client.messages.create({ model: MODEL, max_tokens: 50, messages, system: 'Be brief.' });
    expect(counted.input_tokens).toBe(msg.usage.input_tokens);
    expect(counted.input_tokens).toBe(Math.ceil((37 + 9) / 4) + 3);
  });
});

describe('mock Anthropic upstream: official SDK, streaming', () => {
  it('messages.stream(): text events and a final message equal to the non-stream one', async () => {
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: user('#words:5') });
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const final = await stream.finalMessage();
    expect(texts.join('')).toBe('w1 w2 w3 w4 w5');
    expect(texts).toHaveLength(5);
    expect(final.content).toEqual([{ type: 'text', text: 'w1 w2 w3 w4 w5' }]);
    expect(final.stop_reason).toBe('end_turn');
    const plain = await client.messages.create({ model: MODEL, max_tokens: 100, messages: user('#words:5') });
    expect(final.usage.output_tokens).toBe(plain.usage.output_tokens);
    expect(final.usage.input_tokens).toBe(plain.usage.input_tokens);
  });

  it('tool input streamed as input_json_delta fragments is assembled by the SDK', async () => {
    const final = await client.messages
      .stream({ model: MODEL, max_tokens: 100, messages: user('#reply:Checking.\n#tool:get_weather:{"location": "San Francisco, CA", "unit": "celsius"}') })
      .finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content.map((b) => b.type)).toEqual(['text', 'tool_use']);
    const tool = final.content[1];
    if (tool?.type !== 'tool_use') throw new Error('expected tool_use');
    expect(tool.input).toEqual({ location: 'San Francisco, CA', unit: 'celsius' });
  });

  it('thinking streamed with thinking_delta and signature_delta', async () => {
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: user('#thinking:Let me see.\n#reply:Done.'),
    });
    const thoughts: string[] = [];
    stream.on('thinking', (delta) => thoughts.push(delta));
    const final = await stream.finalMessage();
    expect(thoughts.join('')).toBe('Let me see.');
    const thinking = final.content[0];
    if (thinking?.type !== 'thinking') throw new Error('expected thinking');
    expect(thinking.thinking).toBe('Let me see.');
    expect(thinking.signature).toMatch(/^sig_/);
  });

  it('raw events follow the documented order, ping included', async () => {
    const stream = await client.messages.create({ model: MODEL, max_tokens: 100, stream: true, messages: user('#reply:Hi there') });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toEqual([
      'message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]); // the SDK drops `ping`; the raw check below sees it
    const res = await fetch(`${mock.url}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: MODEL, max_tokens: 100, stream: true, messages: user('hi') }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => [m[1], JSON.parse(m[2] ?? '{}') as { type: string }] as const);
    expect(events.map(([name]) => name)).toContain('ping');
    for (const [name, data] of events) expect(data.type).toBe(name);
  });

  it('#error_event: the SDK raises the overloaded_error from the stream', async () => {
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: user('#words:3 #error_event') });
    const error = await stream.finalMessage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).type).toBe('overloaded_error');
  });

  it('#cut: the connection dies mid-stream and the SDK reports it', async () => {
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: user('#words:5 #cut:3') });
    await expect(stream.finalMessage()).rejects.toThrow();
  });
});

describe('mock Anthropic upstream: errors as the SDK types them', () => {
  const cases: [number, abstract new (...args: never[]) => Error, string][] = [
    [400, BadRequestError, 'invalid_request_error'],
    [403, PermissionDeniedError, 'permission_error'],
    [404, NotFoundError, 'not_found_error'],
    [413, APIError, 'request_too_large'],
    [429, RateLimitError, 'rate_limit_error'],
    [500, InternalServerError, 'api_error'],
    [529, OverloadedError, 'overloaded_error'],
  ];
  for (const [status, cls, type] of cases) {
    it(`#status:${status} → ${cls.name} (${type})`, async () => {
      const error = await client.messages.create({ model: MODEL, max_tokens: 10, messages: user(`#status:${status}`) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(cls);
      const apiError = error as APIError;
      expect(apiError.status).toBe(status);
      expect(apiError.type).toBe(type);
      expect(apiError.requestID).toMatch(/^req_/);
      if (status === 429) expect(apiError.headers?.get('retry-after')).toBe('1');
      if (status === 529) expect(error).toBeInstanceOf(InternalServerError);
    });
  }

  it('a wrong key → AuthenticationError', async () => {
    const bad = new Anthropic({ baseURL: mock.url.replace(/\/v1$/, ''), apiKey: 'wrong', maxRetries: 0 });
    const error = await bad.messages.create({ model: MODEL, max_tokens: 10, messages: user('hi') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as APIError).type).toBe('authentication_error');
  });

  it('plain HTTP: missing anthropic-version, missing max_tokens, bad thinking budget, unknown path', async () => {
    const noVersion = await raw('/messages', { model: MODEL, max_tokens: 5, messages: user('hi') }, { 'anthropic-version': '' });
    expect(noVersion.status).toBe(400);
    expect(noVersion.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const noMax = await raw('/messages', { model: MODEL, messages: user('hi') });
    expect(noMax.json).toMatchObject({ error: { message: 'max_tokens: Field required' } });
    const budget = await raw('/messages', { model: MODEL, max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: user('hi') });
    expect(budget.status).toBe(400);
    const missing = await raw('/nothing', {});
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(missing.headers.get('request-id')).toMatch(/^req_/);
  });
});

describe('mock Anthropic upstream: faults and accounting', () => {
  it('#delay waits before answering', async () => {
    const started = Date.now();
    await client.messages.create({ model: MODEL, max_tokens: 10, messages: user('#delay:120') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('#hang never answers; a client abort is counted', async () => {
    const aborted = mock.stats.aborted;
    const controller = new AbortController();
    const pending = client.messages.create({ model: MODEL, max_tokens: 10, messages: user('#hang') }, { signal: controller.signal });
    await waitFor(() => mock.stats.inFlight > 0);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(Error);
    await waitFor(() => mock.stats.aborted === aborted + 1);
    await waitFor(() => mock.stats.inFlight === 0);
  });

  it('#cut on a non-stream answer destroys the socket after half the body', async () => {
    await expect(client.messages.create({ model: MODEL, max_tokens: 10, messages: user('#cut:0') })).rejects.toThrow(/terminated/);
  });
});
