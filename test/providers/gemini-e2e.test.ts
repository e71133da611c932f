// End to end over a real socket: the Gemini adapter encodes, undici sends to the mock Gemini upstream, the
// adapter decodes the JSON answer or the SSE stream (through the shared SSE decoder), or classifies the error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { geminiAdapter as adapter } from '../../src/providers/gemini/adapter.ts';
import { sseFrames } from '../../src/providers/shared/sse.ts';
import type { CallContext, ChatRequest, ChatResult, ChatStreamEvent } from '../../src/providers/shared/types.ts';
import { startMockGemini, type MockGemini } from '../upstreams/gemini.ts';

type Json = Record<string, unknown>;
const API_KEY = 'AIza-e2e-key';
let mock: MockGemini;
let call: CallContext;

beforeAll(async () => {
  mock = await startMockGemini({ apiKey: API_KEY });
  call = { settings: { baseUrl: mock.url, apiKey: API_KEY, headers: {} }, upstreamModel: 'gemini-2.5-flash', stream: false, maxOutputTokens: 8192 };
});
afterAll(async () => {
  await mock.close();
});

function codec(): NonNullable<typeof adapter.chat> {
  if (!adapter.chat) throw new Error('no chat codec');
  return adapter.chat;
}

async function send(body: Json, context: CallContext = call): Promise<Awaited<ReturnType<typeof request>>> {
  const { upstream } = codec().encodeRequest({ model: 'public', ...body } as ChatRequest, context);
  return request(upstream.url, { method: upstream.method, headers: upstream.headers, body: upstream.body });
}

async function complete(body: Json): Promise<ChatResult> {
  const res = await send(body);
  expect(res.statusCode).toBe(200);
  return codec().decodeResponse(await res.body.json(), call);
}

async function stream(body: Json): Promise<ChatStreamEvent[]> {
  const context = { ...call, stream: true };
  const res = await send({ ...body, stream: true }, context);
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('text/event-stream');
  const events: ChatStreamEvent[] = [];
  for await (const event of codec().decodeStream(sseFrames(res.body), context)) events.push(event);
  return events;
}

const chunks = (events: ChatStreamEvent[]): ChatCompletionChunk[] => events.flatMap((e) => (e.type === 'chunk' ? [e.chunk] : []));
const user = (content: unknown): Json[] => [{ role: 'user', content }];

describe('gemini adapter ⇄ mock Gemini over HTTP', () => {
  it('a text answer with system instruction, usage and the mock-counted tokens', async () => {
    const { response, usage } = await complete({ messages: [{ role: 'system', content: 'be brief' }, ...user('hi #cached:2')] });
    expect(response.choices[0]?.message.content).toBe('Hello from mock.');
    expect(response.choices[0]?.finish_reason).toBe('stop');
    expect(response.model).toBe('gemini-2.5-flash');
    // prompt: ceil((8 + 12) / 4) = 5, + 3 (content) + 3 (system) = 11, of which 2 cached
    expect(usage).toEqual({ input: 9, cachedInput: 2, cacheWrite: 0, output: 4, reasoning: 0 });
    const recorded = mock.requests.at(-1);
    expect(recorded?.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(recorded?.headers['x-goog-api-key']).toBe(API_KEY);
    expect(recorded?.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'hi #cached:2' }] }],
      systemInstruction: { parts: [{ text: 'be brief' }] },
      generationConfig: { maxOutputTokens: 8192 },
    });
  });

  it('a tool round trip: the call decodes, and its result goes back as a named functionResponse with the signature', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false } } }];
    const first = await complete({ messages: user('#tool:get_weather:{"city":"Paris"}'), tools, tool_choice: 'required' });
    const message = first.response.choices[0]?.message;
    expect(first.response.choices[0]?.finish_reason).toBe('tool_calls');
    const toolCall = message?.tool_calls?.[0];
    if (toolCall?.type !== 'function') throw new Error('expected a function call');
    expect(JSON.parse(toolCall.function.arguments)).toEqual({ city: 'Paris' });
    expect(mock.requests.at(-1)?.body).toMatchObject({ toolConfig: { functionCallingConfig: { mode: 'ANY' } }, tools: [{ functionDeclarations: [{ name: 'get_weather' }] }] });

    const second = await complete({
      messages: [...user('#tool:get_weather:{"city":"Paris"}'), message, { role: 'tool', tool_call_id: toolCall.id, content: '{"temp":21}' }, ...user('#reply:It is 21 degrees.')],
      tools,
    });
    expect(second.response.choices[0]?.message.content).toBe('It is 21 degrees.');
    const contents = (mock.requests.at(-1)?.body as { contents: Json[] }).contents;
    const signature = (toolCall as { extra_content?: { google: { thought_signature: string } } }).extra_content?.google.thought_signature;
    expect(signature).toEqual(expect.any(String));
    expect(contents).toEqual([
      { role: 'user', parts: [{ text: '#tool:get_weather:{"city":"Paris"}' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: signature }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }, { text: '#reply:It is 21 degrees.' }] },
    ]);
  });

  it('an image: inlineData reaches the upstream and is counted', async () => {
    const { usage } = await complete({ messages: user([{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }]) });
    expect(usage?.input).toBe(1 + 3 + 258);
  });

  it('a blocked prompt and a SAFETY stop come back as content_filter', async () => {
    expect((await complete({ messages: user('#blocked') })).response.choices[0]?.finish_reason).toBe('content_filter');
    const safety = await complete({ messages: user('#safety') });
    expect(safety.response.choices[0]?.finish_reason).toBe('content_filter');
  });

  it('a stream: reasoning, several content chunks, finish, usage, done', async () => {
    const events = await stream({ messages: user('#thought:Thinking hard.\n#words:5'), reasoning_effort: 'low' });
    expect(mock.requests.at(-1)).toMatchObject({ path: '/v1beta/models/gemini-2.5-flash:streamGenerateContent', query: { alt: 'sse' }, body: { generationConfig: { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } } } });
    const all = chunks(events).flatMap((c) => c.choices.map((ch) => ch.delta as Json));
    expect(all.map((d) => d.reasoning_content ?? '').join('')).toBe('Thinking hard.');
    expect(all.filter((d) => typeof d.content === 'string' && d.content !== '').map((d) => d.content)).toEqual(['w1', ' w2', ' w3', ' w4', ' w5']);
    expect(chunks(events).flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f !== null)).toEqual(['stop']);
    const usageEvent = events.at(-2);
    expect(usageEvent?.type === 'chunk' && usageEvent.usage).toEqual({ input: 11, cachedInput: 0, cacheWrite: 0, output: 8, reasoning: 3 });
    // prompt: ceil(32 chars / 4) + 3 = 11; output: 5 words + 3 thought pieces
    expect(events.at(-1)).toEqual({ type: 'done' });
  });

  it('a streamed tool call', async () => {
    const events = await stream({ messages: user('#tool:lookup:{"q":"mock"}'), tools: [{ type: 'function', function: { name: 'lookup' } }] });
    const calls = chunks(events).flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'lookup', arguments: '{"q":"mock"}' } });
    expect(events.at(-1)).toEqual({ type: 'done' });
  });

  it('a cut stream never ends in done: the body fails mid-stream (the core classifies that as a reset)', async () => {
    const context = { ...call, stream: true };
    const res = await send({ messages: user('#words:6 #cut:3'), stream: true }, context);
    const seen: ChatStreamEvent[] = [];
    const consume = async (): Promise<void> => {
      for await (const event of codec().decodeStream(sseFrames(res.body), context)) seen.push(event);
    };
    await expect(consume()).rejects.toThrow(/other side closed/);
    expect(chunks(seen).flatMap((c) => c.choices.map((ch) => ch.delta.content ?? '')).join('')).toBe('w1 w2 w3');
    expect(seen.some((e) => e.type === 'done')).toBe(false);
    expect(adapter.classifyError({ kind: 'reset', message: 'other side closed' })).toMatchObject({ code: 'upstream_error' });
  });

  it('upstream errors are classified from the real status and body', async () => {
    const limited = await send({ messages: user('#status:429') });
    expect(limited.statusCode).toBe(429);
    const error = adapter.classifyError({ kind: 'status', status: limited.statusCode, headers: limited.headers, body: await limited.body.json(), message: '' });
    expect(error).toMatchObject({ code: 'upstream_rate_limited', status: 429, retryAfter: 1 });

    const wrongKey = await send({ messages: user('hi') }, { ...call, settings: { ...call.settings, apiKey: 'AIza-wrong' } });
    expect(wrongKey.statusCode).toBe(400);
    expect(adapter.classifyError({ kind: 'status', status: 400, body: await wrongKey.body.json(), message: '' })).toMatchObject({ code: 'upstream_auth_failed', failover: true });

    const notFound = await send({ messages: user('#status:404') });
    expect(adapter.classifyError({ kind: 'status', status: notFound.statusCode, body: await notFound.body.json(), message: '' })).toMatchObject({ code: 'upstream_rejected', status: 404 });
  });
});
