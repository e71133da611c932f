// The Gemini adapter against documented wire samples (src/providers/gemini/fixtures/): responses, streams, errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { GatewayError } from '../../src/domain/errors.ts';
import { geminiAdapter as adapter } from '../../src/providers/gemini/adapter.ts';
import { sseFrames } from '../../src/providers/shared/sse.ts';
import type { CallContext, ChatResult, ChatStreamEvent } from '../../src/providers/shared/types.ts';

type Json = Record<string, unknown>;
const fixture = (name: string): string => readFileSync(new URL(`../../src/providers/gemini/fixtures/${name}`, import.meta.url), 'utf8');
const call: CallContext = { settings: { baseUrl: 'https://generativelanguage.googleapis.com/v1beta', apiKey: 'k', headers: {} }, upstreamModel: 'gemini-up', stream: true, maxOutputTokens: 8192 };

function decode(body: unknown): ChatResult {
  const chat = adapter.chat;
  if (!chat) throw new Error('no chat codec');
  return chat.decodeResponse(body, call);
}
const decodeFixture = (name: string): ChatResult => decode(JSON.parse(fixture(name)));

/** Replays SSE text through the shared decoder, in awkward slices, framed as the real API frames (\r\n\r\n). */
async function replayText(text: string): Promise<ChatStreamEvent[]> {
  async function* body(): AsyncGenerator<Uint8Array> {
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i < bytes.length; i += 29) yield bytes.slice(i, i + 29);
  }
  const chat = adapter.chat;
  if (!chat) throw new Error('no chat codec');
  const events: ChatStreamEvent[] = [];
  for await (const event of chat.decodeStream(sseFrames(body()), call)) events.push(event);
  return events;
}
const replay = (name: string): Promise<ChatStreamEvent[]> => replayText(fixture(name).split('\n').filter(Boolean).map((line) => `${line}\r\n\r\n`).join(''));
const chunksOf = (events: ChatStreamEvent[]): ChatCompletionChunk[] => events.flatMap((e) => (e.type === 'chunk' ? [e.chunk] : []));
const deltas = (events: ChatStreamEvent[]): Json[] => chunksOf(events).flatMap((c) => c.choices.map((ch) => ch.delta as Json));
const finishes = (events: ChatStreamEvent[]): unknown[] => chunksOf(events).flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f !== null);

describe('gemini responses', () => {
  it('text with cached prompt tokens: content, id, model, both usages', () => {
    const { response, usage, rawUsage } = decodeFixture('generate-text.json');
    expect(response).toMatchObject({ id: 'chatcmpl-4N2XaO7mNqOT1MkP-4ixiAQ', object: 'chat.completion', model: 'gemini-2.5-flash' });
    expect(response.choices).toEqual([{
      index: 0,
      message: { role: 'assistant', content: 'AI learns patterns from data to make predictions or decisions.', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    }]);
    expect(usage).toEqual({ input: 60, cachedInput: 2048, cacheWrite: 0, output: 11, reasoning: 0 });
    expect(response.usage).toEqual({
      prompt_tokens: 2108, completion_tokens: 11, total_tokens: 2119,
      prompt_tokens_details: { cached_tokens: 2048 }, completion_tokens_details: { reasoning_tokens: 0 },
    });
    expect(rawUsage).toMatchObject({ promptTokenCount: 2108 });
  });

  it('a function call: tool_calls with a call_ id, JSON arguments, the thought signature; thoughts in the usage', () => {
    const { response, usage } = decodeFixture('generate-function-call.json');
    const choice = response.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    const toolCall = choice?.message.tool_calls?.[0];
    expect(toolCall).toMatchObject({ type: 'function', function: { name: 'set_light_values' }, extra_content: { google: { thought_signature: expect.stringMatching(/^CiwB/) } } });
    expect(toolCall?.id).toMatch(/^call_[0-9a-f]{24}$/);
    if (toolCall?.type !== 'function') throw new Error('expected a function call');
    expect(JSON.parse(toolCall.function.arguments)).toEqual({ brightness: 25, color_temp: 'warm' });
    expect(usage).toEqual({ input: 105, cachedInput: 0, cacheWrite: 0, output: 66, reasoning: 44 });
    expect(response.usage).toMatchObject({ completion_tokens: 66, total_tokens: 171, completion_tokens_details: { reasoning_tokens: 44 } });
  });

  it('parallel calls after text: distinct ids, content kept', () => {
    const { response } = decodeFixture('generate-parallel-calls.json');
    const message = response.choices[0]?.message;
    expect(message?.content).toBe('Setting up the party.');
    const calls = message?.tool_calls ?? [];
    expect(calls.map((c) => (c.type === 'function' ? c.function.name : ''))).toEqual(['power_disco_ball', 'start_music', 'dim_lights']);
    expect(new Set(calls.map((c) => c.id)).size).toBe(3);
    expect(calls.every((c) => !('extra_content' in c))).toBe(true);
    expect(response.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('thought parts → reasoning_content, not content', () => {
    const { response, usage } = decodeFixture('generate-thinking.json');
    const message = response.choices[0]?.message as Json | undefined;
    expect(message?.content).toBe("Occam's Razor: the simplest explanation is usually the right one.");
    expect(message?.reasoning_content).toMatch(/^\*\*Defining Occam's Razor\*\*/);
    expect(usage).toEqual({ input: 18, cachedInput: 0, cacheWrite: 0, output: 1087, reasoning: 1073 });
  });

  it('SAFETY stop and a blocked prompt → content_filter', () => {
    const safety = decodeFixture('generate-safety.json');
    expect(safety.response.choices).toEqual([{ index: 0, message: { role: 'assistant', content: null, refusal: null }, logprobs: null, finish_reason: 'content_filter' }]);
    expect(safety.usage).toEqual({ input: 12, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 });
    const blocked = decodeFixture('generate-blocked.json');
    expect(blocked.response.choices).toEqual([{ index: 0, message: { role: 'assistant', content: null, refusal: null }, logprobs: null, finish_reason: 'content_filter' }]);
    expect(blocked.usage?.input).toBe(9);
  });

  it.each([
    ['STOP', 'stop'], ['MAX_TOKENS', 'length'], ['SAFETY', 'content_filter'], ['RECITATION', 'content_filter'], ['BLOCKLIST', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'], ['SPII', 'content_filter'], ['IMAGE_SAFETY', 'content_filter'], ['OTHER', 'stop'],
    ['MALFORMED_FUNCTION_CALL', 'stop'], [undefined, 'stop'],
  ])('finishReason %s → %s', (reason, expected) => {
    const { response } = decode({ candidates: [{ content: { parts: [{ text: 'x' }], role: 'model' }, finishReason: reason }] });
    expect(response.choices[0]?.finish_reason).toBe(expected);
  });

  it('several candidates, logprobs, and the fallbacks for id, model and usage', () => {
    const { response, usage } = decode({
      candidates: [
        { content: { parts: [{ text: 'A' }], role: 'model' }, finishReason: 'STOP', index: 0, logprobsResult: { chosenCandidates: [{ token: 'A', logProbability: -0.1 }], topCandidates: [{ candidates: [{ token: 'A', logProbability: -0.1 }, { token: 'B', logProbability: -2.5 }] }] } },
        { content: { parts: [{ text: 'B' }], role: 'model' }, finishReason: 'MAX_TOKENS', index: 1 },
      ],
    });
    expect(response.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(response.model).toBe('gemini-up');
    expect(response.usage).toBeUndefined();
    expect(usage).toBeUndefined();
    expect(response.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([[0, 'A', 'stop'], [1, 'B', 'length']]);
    expect(response.choices[0]?.logprobs).toEqual({
      content: [{ token: 'A', logprob: -0.1, bytes: [65], top_logprobs: [{ token: 'A', logprob: -0.1, bytes: [65] }, { token: 'B', logprob: -2.5, bytes: [66] }] }],
      refusal: null,
    });
  });

  it('rejects a body that is not a GenerateContentResponse', () => {
    expect(() => decode({ hello: 'world' })).toThrow(GatewayError);
    expect(() => decode('nope')).toThrow(/GenerateContentResponse/);
  });
});

describe('gemini streams', () => {
  it('text: role chunk, content deltas, finish, usage chunk (last usageMetadata), done', async () => {
    const events = await replay('stream-text.sse');
    expect(deltas(events)[0]).toEqual({ role: 'assistant', content: '' });
    expect(deltas(events).map((d) => d.content ?? '').join('')).toBe('The sky is blue because of Rayleigh scattering.');
    expect(finishes(events)).toEqual(['stop']);
    const chunks = chunksOf(events);
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-stream-text-1']));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'gemini-2.5-flash')).toBe(true);
    const last = events.at(-2);
    expect(last?.type === 'chunk' && last.chunk.choices).toEqual([]);
    expect(last?.type === 'chunk' && last.chunk.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 43, total_tokens: 52, completion_tokens_details: { reasoning_tokens: 34 } });
    expect(last?.type === 'chunk' && last.usage).toEqual({ input: 9, cachedInput: 0, cacheWrite: 0, output: 43, reasoning: 34 });
    expect(events.filter((e) => e.type === 'chunk' && e.usage !== undefined)).toHaveLength(1);
    expect(events.at(-1)).toEqual({ type: 'done' });
    expect(events.every((e) => e.type !== 'chunk' || e.raw === undefined)).toBe(true);
  });

  it('function calls: whole calls with counting indexes, then tool_calls', async () => {
    const events = await replay('stream-function-call.sse');
    const calls = deltas(events).flatMap((d) => (Array.isArray(d.tool_calls) ? d.tool_calls : [])) as Json[];
    expect(calls.map((c) => c.index)).toEqual([0, 1]);
    expect(calls[0]).toMatchObject({ id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_current_temperature', arguments: '{"location":"London"}' }, extra_content: { google: { thought_signature: expect.any(String) } } });
    expect(calls[1]).toMatchObject({ function: { arguments: '{"location":"Paris"}' } });
    expect(calls[0]?.id).not.toBe(calls[1]?.id);
    expect(finishes(events)).toEqual(['tool_calls']);
    expect(events.at(-1)).toEqual({ type: 'done' });
  });

  it('thoughts → reasoning_content deltas; empty text parts are skipped; cached tokens in the usage', async () => {
    const events = await replay('stream-thinking.sse');
    expect(deltas(events).slice(1)).toEqual([
      { reasoning_content: '**Analyzing the puzzle**\n\nAlice is older than Bob.' },
      { content: 'Alice is the oldest.' },
      {},
    ]);
    const usage = events.flatMap((e) => (e.type === 'chunk' && e.usage ? [e.usage] : []));
    expect(usage).toEqual([{ input: 9, cachedInput: 16, cacheWrite: 0, output: 120, reasoning: 115 }]);
  });

  it('a SAFETY stop and a blocked prompt end with content_filter', async () => {
    const safety = await replay('stream-safety.sse');
    expect(deltas(safety).map((d) => d.content ?? '').join('')).toBe('Here is how');
    expect(finishes(safety)).toEqual(['content_filter']);
    expect(safety.at(-1)).toEqual({ type: 'done' });
    const blocked = await replay('stream-blocked.sse');
    expect(deltas(blocked)[0]).toEqual({ role: 'assistant', content: null });
    expect(finishes(blocked)).toEqual(['content_filter']);
    expect(blocked.at(-1)).toEqual({ type: 'done' });
  });

  it('a stream that ends before any finishReason is an error, not done', async () => {
    const events = await replay('stream-truncated.sse');
    expect(deltas(events).map((d) => d.content ?? '').join('')).toBe('Once upon a time');
    const last = events.at(-1);
    expect(last?.type).toBe('error');
    expect(last?.type === 'error' && last.error.code).toBe('upstream_bad_response');
    expect(events.some((e) => e.type === 'done' || (e.type === 'chunk' && e.usage))).toBe(false);
    expect((await replayText('')).map((e) => e.type)).toEqual(['error']);
  });

  it('an error object in the stream and a malformed frame are error events', async () => {
    const events = await replay('stream-error.sse');
    const last = events.at(-1);
    expect(last?.type === 'error' && last.error).toMatchObject({ code: 'upstream_error', status: 502 });
    expect(last?.type === 'error' && last.error.message).toContain('UNAVAILABLE');
    const bad = await replayText('data: {"candidates":[\r\n\r\n');
    expect(bad.at(-1)?.type === 'error' && bad.at(-1)).toMatchObject({ error: { code: 'upstream_bad_response' } });
  });

  it('logprobs go with the first text delta of their chunk', async () => {
    const logprobsResult = { chosenCandidates: [{ token: 'Hi', logProbability: -0.5 }], topCandidates: [{ candidates: [{ token: 'Hi', logProbability: -0.5 }] }] };
    const events = await replayText(`data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: 'Hi' }, { text: '!' }] }, finishReason: 'STOP', logprobsResult }] })}\r\n\r\n`);
    const withText = chunksOf(events).flatMap((c) => c.choices).filter((ch) => typeof ch.delta.content === 'string' && ch.delta.content !== '');
    expect(withText.map((ch) => [ch.delta.content, ch.logprobs?.content?.[0]?.token ?? null])).toEqual([['Hi', 'Hi'], ['!', null]]);
  });

  it('several candidates stream side by side and must all finish', async () => {
    const frame = (parts: string[], finish?: string): string => `data: ${JSON.stringify({ candidates: parts.map((text, index) => ({ content: { parts: [{ text }], role: 'model' }, index, ...(finish ? { finishReason: finish } : {}) })), responseId: 'n2' })}\n\n`;
    const events = await replayText(frame(['a', 'b']) + frame(['c', 'd'], 'STOP'));
    const byIndex = (i: number): string => chunksOf(events).flatMap((c) => c.choices.filter((ch) => ch.index === i).map((ch) => ch.delta.content ?? '')).join('');
    expect([byIndex(0), byIndex(1)]).toEqual(['ac', 'bd']);
    expect(finishes(events)).toEqual(['stop', 'stop']);
    expect(events.at(-1)).toEqual({ type: 'done' });
    const half = `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: 'a' }] }, index: 0, finishReason: 'STOP' }, { content: { parts: [{ text: 'b' }] }, index: 1 }] })}\n\n`;
    expect((await replayText(half)).at(-1)?.type).toBe('error');
  });
});

describe('gemini errors', () => {
  const errors = JSON.parse(fixture('errors.json')) as Record<string, Json>;
  const classify = adapter.classifyError;
  const status = (name: string, code: number, headers?: Record<string, string>): GatewayError =>
    classify({ kind: 'status', status: code, body: errors[name], message: '', ...(headers ? { headers } : {}) });

  it('maps Google statuses to the catalogue', () => {
    expect(status('invalid_argument', 400)).toMatchObject({ code: 'upstream_rejected', status: 400, failover: false });
    // Scrubbed to one line (src/domain/upstream-errors.ts): the trailing newline goes.
    expect(status('invalid_argument', 400).message).toBe('upstream returned 400 (INVALID_ARGUMENT): * GenerateContentRequest.contents: contents is not specified');
    expect(status('failed_precondition', 400)).toMatchObject({ code: 'upstream_rejected', status: 400 });
    expect(status('api_key_invalid', 400)).toMatchObject({ code: 'upstream_auth_failed', status: 502, failover: true });
    expect(status('permission_denied', 403)).toMatchObject({ code: 'upstream_auth_failed' });
    expect(classify({ kind: 'status', status: 401, message: '' })).toMatchObject({ code: 'upstream_auth_failed' });
    expect(status('not_found', 404)).toMatchObject({ code: 'upstream_rejected', status: 404 });
    for (const [name, code] of [['internal', 500], ['unavailable', 503], ['deadline_exceeded', 504]] as const) {
      expect(status(name, code)).toMatchObject({ code: 'upstream_error', failover: true });
    }
    expect(classify({ kind: 'status', status: 409, message: '' })).toMatchObject({ code: 'upstream_error' });
    expect(classify({ kind: 'status', status: 422, message: '' })).toMatchObject({ code: 'upstream_rejected', status: 422 });
  });

  it('429 RESOURCE_EXHAUSTED: rate limited, Retry-After from the header or RetryInfo', () => {
    expect(status('resource_exhausted', 429)).toMatchObject({ code: 'upstream_rate_limited', status: 429, retryAfter: 37 });
    expect(status('resource_exhausted', 429, { 'retry-after': '5' })).toMatchObject({ retryAfter: 5 });
    expect(classify({ kind: 'status', status: 429, body: [errors.resource_exhausted], message: '' }).retryAfter).toBe(37);
    expect(classify({ kind: 'status', status: 429, message: '' }).retryAfter).toBeUndefined();
  });

  it('maps transport failures like the OpenAI-compatible adapter', () => {
    expect(classify({ kind: 'connect', message: 'ECONNREFUSED' })).toMatchObject({ code: 'upstream_error', status: 502 });
    expect(classify({ kind: 'reset', message: 'ECONNRESET' }).message).toContain('closed the connection');
    for (const kind of ['connect_timeout', 'first_byte_timeout', 'idle_timeout'] as const) {
      expect(classify({ kind, message: '' })).toMatchObject({ code: 'upstream_timeout', status: 504 });
    }
    expect(classify({ kind: 'bad_response', message: 'invalid JSON' })).toMatchObject({ code: 'upstream_bad_response' });
  });
});
