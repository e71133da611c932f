// The Anthropic adapter against documented wire samples (src/providers/anthropic/fixtures/): responses,
// streams replayed through the shared SSE decoder, and error classification.
import { readFileSync } from 'node:fs';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/domain/errors.ts';
import { anthropicAdapter as adapter } from '../../src/providers/anthropic/adapter.ts';
import { sseFrames } from '../../src/providers/shared/sse.ts';
import type { CallContext, ChatStreamEvent, UpstreamFailure } from '../../src/providers/shared/types.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../src/providers/anthropic/fixtures/${name}`, import.meta.url), 'utf8');
const json = (name: string): unknown => JSON.parse(fixture(name));
const call: CallContext = { settings: { baseUrl: 'https://api.anthropic.com/v1', apiKey: 'k', headers: {} }, upstreamModel: 'claude-up', stream: true, maxOutputTokens: 4096 };

function chat(): NonNullable<typeof adapter.chat> {
  if (!adapter.chat) throw new Error('no chat codec');
  return adapter.chat;
}

/** Replays a raw SSE transcript through the shared decoder, cut into 37-byte pieces (splits land mid-event). */
async function replay(text: string): Promise<ChatStreamEvent[]> {
  async function* body(): AsyncGenerator<Uint8Array> {
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i < bytes.length; i += 37) yield bytes.slice(i, i + 37);
  }
  const events: ChatStreamEvent[] = [];
  for await (const event of chat().decodeStream(sseFrames(body()), call)) events.push(event);
  return events;
}

type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };
const chunks = (events: ChatStreamEvent[]): ChatCompletionChunk[] => events.flatMap((e) => (e.type === 'chunk' ? [e.chunk] : []));
const deltas = (events: ChatStreamEvent[]): Delta[] => chunks(events).flatMap((c) => c.choices.map((choice) => choice.delta as Delta));
const joined = (events: ChatStreamEvent[], pick: (d: Delta) => string | null | undefined): string => deltas(events).map((d) => pick(d) ?? '').join('');

describe('anthropic responses', () => {
  it('text message → chat.completion with id, model, stop and usage', () => {
    const { response, usage, rawUsage } = chat().decodeResponse(json('message-text.json'), call);
    expect(response).toMatchObject({
      id: 'chatcmpl-msg_013Zva2CMHLNnXjNJJKqJ2EF',
      object: 'chat.completion',
      model: 'claude-sonnet-4-5',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi! My name is Claude.' }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598, prompt_tokens_details: { cached_tokens: 0 } },
    });
    expect(Math.abs(response.created - Date.now() / 1000)).toBeLessThan(5);
    expect(response.choices[0]?.message.tool_calls).toBeUndefined();
    expect(usage).toEqual({ input: 2095, cachedInput: 0, cacheWrite: 0, output: 503, reasoning: 0 });
    expect(rawUsage).toEqual({ input_tokens: 2095, output_tokens: 503 });
  });

  it('tool_use → tool_calls with JSON arguments, finish_reason tool_calls', () => {
    const { response } = chat().decodeResponse(json('message-tool-use.json'), call);
    const choice = response.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBe("I'll check the current weather in San Francisco for you.");
    expect(choice?.message.tool_calls).toEqual([
      { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } },
    ]);
    const only = { ...(json('message-tool-use.json') as Record<string, unknown>) };
    only.content = (only.content as unknown[]).slice(1);
    expect(chat().decodeResponse(only, call).response.choices[0]?.message.content).toBeNull();
  });

  it('thinking → reasoning_content; redacted_thinking dropped, its tokens still in the usage', () => {
    const { response, usage } = chat().decodeResponse(json('message-thinking.json'), call);
    const message = response.choices[0]?.message as unknown as Record<string, unknown>;
    expect(message.content).toBe('Based on my analysis...');
    expect(message.reasoning_content).toBe('Let me analyze this step by step...');
    expect(JSON.stringify(response)).not.toContain('EmwKAhgBEgy3va3pzix');
    expect(usage).toEqual({ input: 48, cachedInput: 0, cacheWrite: 0, output: 312, reasoning: 280 });
    expect(response.usage?.completion_tokens_details?.reasoning_tokens).toBe(280);
  });

  it('cache usage: prompt_tokens counts every input token, cached_tokens the cache reads', () => {
    const { response, usage } = chat().decodeResponse(json('message-cached.json'), call);
    expect(usage).toEqual({ input: 21, cachedInput: 188086, cacheWrite: 188, output: 393, reasoning: 0 });
    expect(response.usage).toMatchObject({ prompt_tokens: 21 + 188 + 188086, completion_tokens: 393, prompt_tokens_details: { cached_tokens: 188086 } });
    expect(response.choices[0]?.finish_reason).toBe('length');
  });

  it('every stop_reason maps to a finish_reason', () => {
    const base = json('message-text.json') as Record<string, unknown>;
    const finish = (stop_reason: string): unknown => chat().decodeResponse({ ...base, stop_reason }, call).response.choices[0]?.finish_reason;
    expect(['end_turn', 'stop_sequence', 'pause_turn', 'max_tokens', 'tool_use', 'refusal', 'model_context_window_exceeded'].map(finish)).toEqual([
      'stop', 'stop', 'stop', 'length', 'tool_calls', 'content_filter', 'length',
    ]);
  });

  it('a body that is not a message is a bad response', () => {
    expect(() => chat().decodeResponse({ type: 'error', error: { type: 'api_error', message: 'x' } }, call)).toThrow(GatewayError);
    expect(() => chat().decodeResponse('nope', call)).toThrow(/not an Anthropic message/);
  });
});

describe('anthropic streams (documented transcripts)', () => {
  it('basic text: role chunk, content, finish, usage chunk, done; same id/model/created on every chunk', async () => {
    const events = await replay(fixture('stream-text.txt'));
    const all = chunks(events);
    expect(events.at(-1)).toEqual({ type: 'done' });
    expect(all[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(joined(events, (d) => d.content)).toBe('Hello!');
    for (const c of all) {
      expect(c).toMatchObject({ id: 'chatcmpl-msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY', object: 'chat.completion.chunk', model: 'claude-opus-4-6', created: all[0]?.created });
    }
    const finishes = all.flatMap((c) => c.choices.map((x) => x.finish_reason)).filter((f) => f !== null);
    expect(finishes).toEqual(['stop']);
    const last = events.at(-2);
    if (last?.type !== 'chunk') throw new Error('expected the usage chunk');
    expect(last.chunk.choices).toEqual([]);
    expect(last.chunk.usage).toMatchObject({ prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 });
    expect(last.usage).toEqual({ input: 25, cachedInput: 0, cacheWrite: 0, output: 15, reasoning: 0 });
    expect(last.raw).toBeUndefined();
    expect(events.filter((e) => e.type === 'chunk' && e.usage !== undefined)).toHaveLength(1);
  });

  it('tool use: text, then one tool call whose id, name and arguments assemble; finish tool_calls', async () => {
    const events = await replay(fixture('stream-tool-use.txt'));
    expect(joined(events, (d) => d.content)).toBe("Okay, let's check the weather for San Francisco, CA:");
    const calls = deltas(events).flatMap((d) => d.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(calls.every((c) => c.index === 0)).toBe(true);
    const args = calls.map((c) => c.function?.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({ location: 'San Francisco, CA', unit: 'fahrenheit' });
    expect(chunks(events).some((c) => c.choices[0]?.finish_reason === 'tool_calls')).toBe(true);
    const usage = events.find((e) => e.type === 'chunk' && e.usage !== undefined);
    expect(usage?.type === 'chunk' && usage.usage).toEqual({ input: 472, cachedInput: 0, cacheWrite: 0, output: 89, reasoning: 0 });
  });

  it('two tool blocks get tool_calls indexes 0 and 1', async () => {
    const start = (index: number, id: string): string =>
      `event: content_block_start\ndata: {"type":"content_block_start","index":${index},"content_block":{"type":"tool_use","id":"${id}","name":"f","input":{}}}\n\n` +
      `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\n`;
    const text =
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_2","model":"m","usage":{"input_tokens":1,"output_tokens":1}}}\n\n' +
      start(0, 'toolu_a') + start(1, 'toolu_b') +
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}\n\n' +
      'event: message_stop\ndata: {"type":"message_stop"}\n\n';
    const calls = deltas(await replay(text)).flatMap((d) => d.tool_calls ?? []);
    expect(calls.map((c) => [c.index, c.id ?? null, c.function?.arguments])).toEqual([[0, 'toolu_a', ''], [0, null, '{}'], [1, 'toolu_b', ''], [1, null, '{}']]);
  });

  it('thinking: thinking_delta → reasoning_content, signature ignored, then the text', async () => {
    const events = await replay(fixture('stream-thinking.txt'));
    expect(joined(events, (d) => d.reasoning_content)).toBe(
      'I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 × 462 + 147\n462 = 3 × 147 + 21\n147 = 7 × 21 + 0\nThe remainder is 0, so GCD(1071, 462) = 21.',
    );
    expect(joined(events, (d) => d.content)).toBe('The greatest common divisor of 1071 and 462 is **21**.');
    expect(JSON.stringify(events)).not.toContain('EqQBCgIYAhIM');
    expect(events.at(-1)).toEqual({ type: 'done' });
  });

  it('an error event (overloaded_error) → a retryable upstream_error, and no done', async () => {
    const events = await replay(fixture('stream-error.txt'));
    expect(joined(events, (d) => d.content)).toBe('Hello');
    const last = events.at(-1);
    if (last?.type !== 'error') throw new Error('expected an error event');
    expect(last.error.code).toBe('upstream_error');
    expect(last.error.failover).toBe(true);
    expect(last.error.message).toContain('overloaded_error');
    expect(events.some((e) => e.type === 'done')).toBe(false);
  });

  it('reads on to the end after message_stop (keep-alive) and ignores what follows', async () => {
    let pulled = 0;
    const frames = [...fixture('stream-text.txt').matchAll(/^data: (.*)$/gm)].map((m) => m[1] ?? '');
    async function* source(): AsyncGenerator<{ event: string | undefined; data: string }> {
      for (const data of [...frames, '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}', 'not json']) {
        pulled += 1;
        yield { event: undefined, data };
      }
    }
    const events: ChatStreamEvent[] = [];
    for await (const event of chat().decodeStream(source(), call)) events.push(event);
    expect(pulled).toBe(frames.length + 2);
    expect(events.at(-1)).toEqual({ type: 'done' });
    expect(joined(events, (d) => d.content)).toBe('Hello!');
  });

  it('a malformed event is a bad response', async () => {
    const events = await replay('event: message_start\ndata: {"type":"message_start","message":{"id":"m"}}\n\nevent: content_block_delta\ndata: {oops\n\n');
    const last = events.at(-1);
    expect(last?.type === 'error' && last.error.code).toBe('upstream_bad_response');
  });
});

describe('anthropic error classification', () => {
  const errors = json('errors.json') as Record<string, unknown>;
  const classify = (status: number, headers: Record<string, string> = {}): GatewayError =>
    adapter.classifyError({ kind: 'status', status, headers, body: errors[String(status)], message: `HTTP ${status}` });

  it('each documented status maps to the catalogue', () => {
    expect([400, 401, 402, 403, 404, 413, 429, 500, 529].map((s) => {
      const e = classify(s);
      return [s, e.code, e.status, e.failover];
    })).toEqual([
      [400, 'upstream_rejected', 400, false],
      [401, 'upstream_auth_failed', 502, true],
      [402, 'upstream_error', 502, true],
      [403, 'upstream_auth_failed', 502, true],
      [404, 'upstream_rejected', 404, false],
      [413, 'upstream_rejected', 413, false],
      [429, 'upstream_rate_limited', 429, true],
      [500, 'upstream_error', 502, true],
      [529, 'upstream_error', 502, true],
    ]);
    expect(adapter.classifyError({ kind: 'status', status: 503, message: 'HTTP 503' }).code).toBe('upstream_error');
  });

  it('messages are short summaries with the error type; 429 keeps Retry-After', () => {
    expect(classify(400).message).toBe('upstream returned 400 (invalid_request_error): messages: roles must alternate between "user" and "assistant"');
    expect(classify(529).message).toContain('(overloaded_error)');
    expect(classify(429, { 'retry-after': '7' }).retryAfter).toBe(7);
  });

  it('a 400 about the credit balance is the channel’s problem, not the request’s', () => {
    const body = { type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' } };
    expect(adapter.classifyError({ kind: 'status', status: 400, body, message: 'HTTP 400' }).failover).toBe(true);
  });

  it('transport failures map like every other upstream', () => {
    const kinds: [UpstreamFailure['kind'], string][] = [
      ['connect', 'upstream_error'], ['reset', 'upstream_error'], ['connect_timeout', 'upstream_timeout'],
      ['first_byte_timeout', 'upstream_timeout'], ['idle_timeout', 'upstream_timeout'], ['bad_response', 'upstream_bad_response'],
    ];
    for (const [kind, code] of kinds) expect(adapter.classifyError({ kind, message: 'ECONNREFUSED' }).code).toBe(code);
  });
});
