// The Anthropic adapter talking to the mock Anthropic upstream over a real socket, no gateway in between:
// encodeRequest → undici request() → decodeResponse / decodeStream(sseFrames(body)) / classifyError.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { anthropicAdapter as adapter } from '../../src/providers/anthropic/adapter.ts';
import { sseFrames } from '../../src/providers/shared/sse.ts';
import type { CallContext, ChatRequest, ChatResult, ChatStreamEvent, Encoded } from '../../src/providers/shared/types.ts';
import type { GatewayError } from '../../src/domain/errors.ts';
import { startMockAnthropic, type MockAnthropic } from '../upstreams/anthropic.ts';

const KEY = 'sk-ant-e2e';
let mock: MockAnthropic;
let call: CallContext;

beforeAll(async () => {
  mock = await startMockAnthropic({ apiKey: KEY });
  call = { settings: { baseUrl: mock.url, apiKey: KEY, headers: {} }, upstreamModel: 'claude-haiku-4-5', stream: false, maxOutputTokens: 4096 };
});
afterAll(async () => {
  await mock.close();
});

function chat(): NonNullable<typeof adapter.chat> {
  if (!adapter.chat) throw new Error('no chat codec');
  return adapter.chat;
}

async function send(encoded: Encoded): Promise<Awaited<ReturnType<typeof request>>> {
  const { url, method, headers, body } = encoded.upstream;
  return request(url, { method, headers, body });
}

function encode(req: Record<string, unknown>, stream = false, ctx: CallContext = call): Encoded {
  return chat().encodeRequest({ model: 'public', ...req } as unknown as ChatRequest, { ...ctx, stream });
}

async function complete(req: Record<string, unknown>): Promise<ChatResult> {
  const res = await send(encode(req));
  expect(res.statusCode).toBe(200);
  return chat().decodeResponse(await res.body.json(), call);
}

/** Streams a request; a failure of the body (a cut connection) ends the list with a thrown-error marker. */
async function stream(req: Record<string, unknown>): Promise<(ChatStreamEvent | { type: 'thrown' })[]> {
  const res = await send(encode(req, true));
  expect(res.statusCode).toBe(200);
  const events: (ChatStreamEvent | { type: 'thrown' })[] = [];
  try {
    for await (const event of chat().decodeStream(sseFrames(res.body), { ...call, stream: true })) events.push(event);
  } catch {
    events.push({ type: 'thrown' });
  }
  return events;
}

type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };
const deltas = (events: { type: string }[]): Delta[] =>
  events.flatMap((e) => ('chunk' in e ? (e as { chunk: ChatCompletionChunk }).chunk.choices.map((c) => c.delta as Delta) : []));
const text = (events: { type: string }[]): string => deltas(events).map((d) => d.content ?? '').join('');
const user = (content: string): Record<string, unknown> => ({ messages: [{ role: 'user', content }] });

async function classify(req: Record<string, unknown>, ctx: CallContext = call): Promise<GatewayError> {
  const res = await send(encode(req, false, ctx));
  const body: unknown = await res.body.json();
  return adapter.classifyError({ kind: 'status', status: res.statusCode, headers: res.headers, body, message: `HTTP ${res.statusCode}` });
}

describe('anthropic adapter ⇄ mock Anthropic (real socket)', () => {
  it('non-stream: the mock accepts the translated request and the answer decodes', async () => {
    const before = mock.requests.length;
    const { response, usage } = await complete({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }], user: 'u-1' });
    expect(response.choices[0]?.message.content).toBe('Hello from mock.');
    expect(response.choices[0]?.finish_reason).toBe('stop');
    expect(response.id).toMatch(/^chatcmpl-msg_/);
    expect(response.model).toBe('claude-haiku-4-5');
    expect(usage).toEqual({ input: Math.ceil((9 + 2) / 4) + 3, cachedInput: 0, cacheWrite: 0, output: 4, reasoning: 0 });
    const recorded = mock.requests[before];
    expect(recorded?.headers['x-api-key']).toBe(KEY);
    expect(recorded?.headers['anthropic-version']).toBe('2023-06-01');
    expect(recorded?.body).toMatchObject({ model: 'claude-haiku-4-5', system: 'Be brief.', max_tokens: 4096, metadata: { user_id: 'u-1' } });
  });

  it('stream: content assembled, finish, usage chunk, done; the connection is read to its end', async () => {
    const aborted = mock.stats.aborted;
    const events = await stream(user('#words:6'));
    expect(text(events)).toBe('w1 w2 w3 w4 w5 w6');
    expect(events.at(-1)).toEqual({ type: 'done' });
    const usage = events.find((e) => e.type === 'chunk' && e.usage !== undefined);
    expect(usage?.type === 'chunk' && usage.usage?.output).toBe(6);
    expect(mock.stats.aborted).toBe(aborted);
  });

  it('a tool call streamed, then the tool result sent back in OpenAI form', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await stream({ ...user('Weather?\n#tool:get_weather:{"city": "Paris"}'), tools, tool_choice: 'required' });
    const calls = deltas(first).flatMap((d) => d.tool_calls ?? []);
    const id = calls[0]?.id ?? '';
    expect(id).toMatch(/^toolu_/);
    expect(calls[0]?.function?.name).toBe('get_weather');
    expect(JSON.parse(calls.map((c) => c.function?.arguments ?? '').join(''))).toEqual({ city: 'Paris' });
    expect(deltas(first).length).toBeGreaterThan(0);
    const second = await complete({
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: id, content: '18°C and sunny' },
      ],
      tools,
    });
    expect(second.response.choices[0]?.message.content).toBe('Hello from mock.');
    const sent = mock.requests.at(-1)?.body as { messages: { role: string; content: { type: string }[] }[] };
    expect(sent.messages.map((m) => [m.role, m.content.map((b) => b.type).join(',')])).toEqual([['user', 'text'], ['assistant', 'tool_use'], ['user', 'tool_result']]);
  });

  it('reasoning_effort → a thinking budget the mock accepts; thinking comes back as reasoning_content', async () => {
    const { response, usage } = await complete({ ...user('#thinking:Four it is.\n#reply:4'), reasoning_effort: 'high', max_completion_tokens: 3000 });
    const message = response.choices[0]?.message as unknown as Record<string, unknown>;
    expect(message.reasoning_content).toBe('Four it is.');
    expect(message.content).toBe('4');
    expect(usage?.output).toBe(4 + 1);
    expect((mock.requests.at(-1)?.body as Record<string, unknown>).thinking).toEqual({ type: 'enabled', budget_tokens: 1500 });
    const events = await stream({ ...user('#thinking:Hmm, yes.\n#reply:Yes'), reasoning_effort: 'low', max_tokens: 2048 });
    expect(deltas(events).map((d) => d.reasoning_content ?? '').join('')).toBe('Hmm, yes.');
    expect(text(events)).toBe('Yes');
  });

  it('max_tokens → finish_reason length; cache reads and writes reach the usage', async () => {
    const cut = await complete({ ...user('#words:10'), max_tokens: 3 });
    expect(cut.response.choices[0]?.finish_reason).toBe('length');
    const events = await stream({ ...user('#cached:50\n#cache_write:20\n#stop:END'), stop: 'END' });
    const last = events.find((e) => e.type === 'chunk' && e.usage !== undefined);
    if (last?.type !== 'chunk') throw new Error('no usage chunk');
    expect(last.usage).toMatchObject({ cachedInput: 50, cacheWrite: 20 });
    expect(last.chunk.usage?.prompt_tokens_details?.cached_tokens).toBe(50);
    expect(last.chunk.usage?.prompt_tokens).toBe((last.usage?.input ?? 0) + 70);
  });

  it('upstream errors classify: 429 with Retry-After, 529 overloaded, a wrong key, a 400 on the request', async () => {
    const limited = await classify(user('#status:429'));
    expect([limited.code, limited.retryAfter]).toEqual(['upstream_rate_limited', 1]);
    expect((await classify(user('#status:529'))).code).toBe('upstream_error');
    const wrongKey = { ...call, settings: { ...call.settings, apiKey: 'nope' } };
    expect((await classify(user('hi'), wrongKey)).code).toBe('upstream_auth_failed');
    const rejected = await classify(user('#status:400'));
    expect([rejected.code, rejected.status]).toEqual(['upstream_rejected', 400]);
  });

  it('stream faults: an error event mid-stream, and a cut connection (no done)', async () => {
    const errored = await stream(user('#words:4 #error_event'));
    expect(text(errored)).toBe('w1');
    const last = errored.at(-1);
    expect(last?.type === 'error' && last.error.code).toBe('upstream_error');
    const cut = await stream(user('#words:4 #cut:4'));
    expect(cut.some((e) => e.type === 'done')).toBe(false);
    expect(text(cut)).toBe('w1 w2');
  });
});
