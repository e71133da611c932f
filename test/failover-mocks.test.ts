// The server-wide faults the failover tests break their primaries with (test/upstreams/*.ts, option `fault`):
// each mock, asked for a faulty upstream model, breaks exactly as documented — and for any other model it still
// answers the official SDK normally, so one mock can serve a broken channel and a healthy one side by side.
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockAnthropic, type MockAnthropic, type MockFault } from './upstreams/anthropic.ts';
import { startMockGemini, type MockGemini } from './upstreams/gemini.ts';
import { startMockOpenAI, type MockOpenAI } from './upstreams/openai.ts';

const KEY = 'mock-fault-key';
const FAULTS: Record<string, MockFault> = {
  reset: { directives: '#reset' },
  badjson: { directives: '#badjson' },
  stall: { directives: '#stall:1' },
  truncate0: { directives: '#truncate:0' },
  truncate1: { directives: '#truncate:1' },
  error: { directives: '#error_event' },
  limited: { status: 429, retryAfter: 7 },
  overloaded: { status: 529 },
};

const modelOf = (r: { path: string; body: unknown }): string => {
  const body = r.body as { model?: unknown } | undefined;
  return typeof body?.model === 'string' ? body.model : (/\/models\/([^/:]+):/.exec(r.path)?.[1] ?? '');
};
const fault = (r: { path: string; body: unknown }): MockFault | undefined => FAULTS[modelOf(r)];

let openai: MockOpenAI;
let anthropic: MockAnthropic;
let gemini: MockGemini;
beforeAll(async () => {
  openai = await startMockOpenAI({ apiKey: KEY, fault });
  anthropic = await startMockAnthropic({ apiKey: KEY, fault });
  gemini = await startMockGemini({ apiKey: KEY, fault });
});
afterAll(async () => {
  await Promise.all([openai?.close(), anthropic?.close(), gemini?.close()]);
});

const HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'x-api-key': KEY, 'x-goog-api-key': KEY, 'anthropic-version': '2023-06-01' };

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
}
const openaiChat = (model: string, stream = true): Promise<Response> =>
  post(`${openai.url}/chat/completions`, { model, stream, messages: [{ role: 'user', content: '#words:5' }] });
const anthropicMessages = (model: string, stream = true): Promise<Response> =>
  post(`${anthropic.url}/messages`, { model, stream, max_tokens: 50, messages: [{ role: 'user', content: '#words:5' }] });
const geminiGenerate = (model: string, stream = true): Promise<Response> =>
  post(`${gemini.url}/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`, { contents: [{ role: 'user', parts: [{ text: '#words:5' }] }] });

/** The SSE frames of a body that ends (cleanly: text() resolves). */
const frames = async (res: Response): Promise<string[]> => (await res.text()).split(/\r?\n\r?\n/).filter((f) => f.trim() !== '');

/** What arrives before the body goes quiet for `quietMs` (it must not end, nor fail). */
async function untilQuiet(res: Response, quietMs = 300): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const next = await Promise.race([reader.read(), new Promise<'quiet'>((r) => setTimeout(() => r('quiet'), quietMs))]);
    if (next === 'quiet') break;
    if (next.done) throw new Error('the body ended instead of stalling');
    text += decoder.decode(next.value, { stream: true });
  }
  await reader.cancel();
  return text;
}

describe('OpenAI mock faults', () => {
  it('a status fault answers before the key check, with the given Retry-After', async () => {
    const res = await fetch(`${openai.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'limited', messages: [] }) });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
  });

  it('#reset via the fault: the connection is dropped without a response', async () => {
    await expect(openaiChat('reset')).rejects.toThrow();
  });

  it('#truncate:N ends the body cleanly after the role frame + N content frames (no [DONE])', async () => {
    const sse = await frames(await openaiChat('truncate1'));
    expect(sse).toHaveLength(2);
    expect(sse[1]).toContain('"content":"w1"');
    expect(sse.some((f) => f.includes('[DONE]') || f.includes('"finish_reason":"stop"'))).toBe(false);
  });

  it('#error_event sends one content frame, then an error object, then ends', async () => {
    const sse = await frames(await openaiChat('error'));
    expect(sse).toHaveLength(3);
    expect(JSON.parse(sse[2]?.slice(6) ?? '')).toMatchObject({ error: { type: 'server_error' } });
  });

  it('any other model is answered normally (the official SDK parses it)', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: openai.url, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'healthy', messages: [{ role: 'user', content: '#reply:fine' }] });
    expect(r.choices[0]?.message.content).toBe('fine');
  });
});

describe('Anthropic mock faults', () => {
  it('a status fault answers before the key check: 529 overloaded_error; 429 with the given Retry-After', async () => {
    const overloaded = await fetch(`${anthropic.url}/messages`, { method: 'POST', body: JSON.stringify({ model: 'overloaded' }) });
    expect(overloaded.status).toBe(529);
    expect(await overloaded.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    const limited = await anthropicMessages('limited');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
  });

  it('#reset drops the connection; #badjson is a 200 whose body is not JSON', async () => {
    await expect(anthropicMessages('reset')).rejects.toThrow();
    const bad = await anthropicMessages('badjson', false);
    expect(bad.status).toBe(200);
    const text = await bad.text();
    expect(text.startsWith('{"id":"msg_')).toBe(true);
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
  });

  it('#truncate:N ends the body cleanly after message_start + N events (no message_stop)', async () => {
    const sse = await frames(await anthropicMessages('truncate1'));
    expect(sse.map((f) => /^event: (\S+)/.exec(f)?.[1])).toEqual(['message_start', 'content_block_start']);
  });

  it('#stall:N sends message_start + N events, then nothing, the connection kept open', async () => {
    const text = await untilQuiet(await anthropicMessages('stall'));
    expect([...text.matchAll(/^event: (\S+)/gm)].map((m) => m[1])).toEqual(['message_start', 'content_block_start']);
  });

  it('any other model is answered normally (the official SDK parses it)', async () => {
    const client = new Anthropic({ apiKey: KEY, baseURL: anthropic.url.replace(/\/v1$/, ''), maxRetries: 0 });
    const m = await client.messages.create({ model: 'healthy', max_tokens: 20, messages: [{ role: 'user', content: '#reply:fine' }] });
    expect(m.content).toEqual([{ type: 'text', text: 'fine' }]);
  });
});

describe('Gemini mock faults', () => {
  it('a status fault answers before the key check: 429 RESOURCE_EXHAUSTED with the given Retry-After', async () => {
    const res = await fetch(`${gemini.url}/models/limited:generateContent`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });
  });

  it('#reset drops the connection; #badjson is a 200 whose body is not JSON', async () => {
    await expect(geminiGenerate('reset')).rejects.toThrow();
    const bad = await geminiGenerate('badjson', false);
    expect(bad.status).toBe(200);
    const text = await bad.text();
    expect(text.trimStart().startsWith('{')).toBe(true);
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
  });

  it('#truncate:N sends N chunks (none finished), then ends the body cleanly; N = 0 is an empty stream', async () => {
    const empty = await geminiGenerate('truncate0');
    expect(empty.status).toBe(200);
    expect(await frames(empty)).toEqual([]);
    const one = await frames(await geminiGenerate('truncate1'));
    expect(one).toHaveLength(1);
    expect(one[0]).toContain('"text":"w1"');
    expect(one[0]).not.toContain('finishReason');
  });

  it('#error_event sends the first chunk, then a Google error object (503 UNAVAILABLE)', async () => {
    const sse = await frames(await geminiGenerate('error'));
    expect(sse).toHaveLength(2);
    expect(JSON.parse(sse[1]?.slice(6) ?? '')).toMatchObject({ error: { code: 503, status: 'UNAVAILABLE' } });
  });

  it('#stall:N sends N chunks, then nothing, the connection kept open', async () => {
    const text = await untilQuiet(await geminiGenerate('stall'));
    expect(text.split(/\r\n\r\n/).filter(Boolean)).toHaveLength(1);
    expect(text).toContain('"text":"w1"');
  });

  it('any other model is answered normally (the official SDK parses it)', async () => {
    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: gemini.origin, apiVersion: 'v1beta' } });
    const r = await ai.models.generateContent({ model: 'healthy', contents: '#reply:fine' });
    expect(r.text).toBe('fine');
  });
});
