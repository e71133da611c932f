// The OpenAI-compatible adapter against documented wire samples (src/providers/openai-compatible/fixtures/).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/domain/errors.ts';
import { openAICompatibleAdapter as adapter } from '../../src/providers/openai-compatible/adapter.ts';
import { sseFrames } from '../../src/providers/shared/sse.ts';
import type { CallContext, ChatRequest, ChatStreamEvent } from '../../src/providers/shared/types.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../src/providers/openai-compatible/fixtures/${name}`, import.meta.url), 'utf8');
const call: CallContext = { settings: { baseUrl: 'https://api.example.com/v1', apiKey: 'sk-up', headers: { 'x-extra': '1' } }, upstreamModel: 'up-model', stream: false, maxOutputTokens: 4096 };

/** Replays a transcript (one SSE frame per line) through the shared SSE decoder, split at awkward places. */
async function replay(name: string): Promise<ChatStreamEvent[]> {
  const text = fixture(name).split('\n').filter(Boolean).map((line) => `${line}\n\n`).join('');
  async function* body(): AsyncGenerator<Uint8Array> {
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i < bytes.length; i += 37) yield bytes.slice(i, i + 37);
  }
  const chat = adapter.chat;
  if (!chat) throw new Error('no chat codec');
  const events: ChatStreamEvent[] = [];
  for await (const event of chat.decodeStream(sseFrames(body()), call)) events.push(event);
  return events;
}

describe('openai-compatible request', () => {
  it('forwards the body unchanged except the model, with bearer auth and extra headers', () => {
    const request = { model: 'public', messages: [{ role: 'user', content: 'hi' }], vendor_knob: { a: 1 } } as ChatRequest;
    const { upstream, warnings } = adapter.chat?.encodeRequest(request, call) ?? { upstream: undefined, warnings: [] };
    expect(upstream?.url).toBe('https://api.example.com/v1/chat/completions');
    expect(upstream?.headers).toMatchObject({ authorization: 'Bearer sk-up', 'x-extra': '1', 'content-type': 'application/json' });
    expect(JSON.parse(upstream?.body ?? '')).toEqual({ ...request, model: 'up-model' });
    expect(warnings).toEqual([]);
    expect(request.model).toBe('public'); // the caller's object is not mutated
  });

  it('asks for usage on streams, keeping the other stream_options', () => {
    const request = { model: 'm', messages: [], stream: true, stream_options: { include_obfuscation: false } } as unknown as ChatRequest;
    const body = JSON.parse(adapter.chat?.encodeRequest(request, { ...call, stream: true }).upstream.body ?? '') as Record<string, unknown>;
    expect(body.stream_options).toEqual({ include_obfuscation: false, include_usage: true });
  });
});

describe('openai-compatible responses', () => {
  it('normalizes usage: cached prompt tokens apart, reasoning inside output', () => {
    const result = adapter.chat?.decodeResponse(JSON.parse(fixture('chat-completion.json')), call);
    expect(result?.usage).toEqual({ input: 93, cachedInput: 1024, cacheWrite: 0, output: 46, reasoning: 0 });
    expect(result?.response.choices[0]?.message.content).toContain('boardwalk');
  });

  it('decodes a tool call and an embeddings list', () => {
    const tool = adapter.chat?.decodeResponse(JSON.parse(fixture('chat-tool-call.json')), call);
    expect(tool?.response.choices[0]?.message.tool_calls?.[0]).toMatchObject({ id: 'call_abc123', type: 'function' });
    expect(tool?.usage).toEqual({ input: 82, cachedInput: 0, cacheWrite: 0, output: 17, reasoning: 0 });
    const embeddings = adapter.embeddings?.decodeResponse(JSON.parse(fixture('embeddings.json')), call);
    expect(embeddings?.usage?.input).toBe(8);
    expect(embeddings?.response.data[0]?.embedding).toHaveLength(3);
  });

  it('rejects a body that is not a chat completion', () => {
    expect(() => adapter.chat?.decodeResponse({ hello: 'world' }, call)).toThrow(GatewayError);
  });
});

describe('openai-compatible streams', () => {
  it('yields each chunk with its raw text, the usage chunk, then done', async () => {
    const events = await replay('chat-stream.sse');
    const chunks = events.filter((e) => e.type === 'chunk');
    expect(chunks).toHaveLength(5);
    expect(chunks.map((e) => e.chunk.choices[0]?.delta.content ?? '').join('')).toBe('Hello!');
    expect(chunks.every((e) => typeof e.raw === 'string' && JSON.parse(e.raw ?? '') !== null)).toBe(true);
    expect(chunks.at(-1)?.usage).toEqual({ input: 9, cachedInput: 0, cacheWrite: 0, output: 2, reasoning: 0 });
    expect(events.at(-1)).toEqual({ type: 'done' });
  });

  it('passes tool-call fragments through', async () => {
    const events = await replay('chat-stream-tool-call.sse');
    const args = events.flatMap((e) => (e.type === 'chunk' ? (e.chunk.choices[0]?.delta.tool_calls ?? []) : [])).map((t) => t.function?.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({ location: 'Paris' });
  });

  it('turns an error object mid-stream into an error event', async () => {
    const events = await replay('chat-stream-error.sse');
    const last = events.at(-1);
    expect(last?.type).toBe('error');
    expect(last?.type === 'error' && last.error.code).toBe('upstream_error');
    expect(last?.type === 'error' && last.error.message).toContain('server_error');
  });
});

describe('openai-compatible errors', () => {
  const classify = adapter.classifyError;
  it('maps statuses to the catalogue', () => {
    const rejected = classify({ kind: 'status', status: 400, body: JSON.parse(fixture('error-400.json')), message: '' });
    expect(rejected).toMatchObject({ code: 'upstream_rejected', status: 400, failover: false });
    expect(rejected.message).toContain("Invalid value for 'temperature'");
    expect(classify({ kind: 'status', status: 422, message: '' })).toMatchObject({ code: 'upstream_rejected', status: 422 });
    expect(classify({ kind: 'status', status: 401, message: '' })).toMatchObject({ code: 'upstream_auth_failed', status: 502, failover: true });
    expect(classify({ kind: 'status', status: 429, headers: { 'retry-after': '7' }, message: '' })).toMatchObject({ code: 'upstream_rate_limited', status: 429, retryAfter: 7 });
    for (const status of [408, 409, 500, 503, 529]) expect(classify({ kind: 'status', status, message: '' })).toMatchObject({ code: 'upstream_error', failover: true });
  });

  it('maps transport failures', () => {
    expect(classify({ kind: 'connect', message: 'ECONNREFUSED' })).toMatchObject({ code: 'upstream_error', status: 502 });
    expect(classify({ kind: 'reset', message: 'ECONNRESET' }).message).toContain('closed the connection');
    for (const kind of ['connect_timeout', 'first_byte_timeout', 'idle_timeout'] as const) {
      expect(classify({ kind, message: '' })).toMatchObject({ code: 'upstream_timeout', status: 504 });
    }
    expect(classify({ kind: 'bad_response', message: 'invalid JSON' })).toMatchObject({ code: 'upstream_bad_response', status: 502 });
  });
});
