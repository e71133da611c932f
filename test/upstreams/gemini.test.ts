/**
 * Fidelity of the mock Gemini upstream (test/upstreams/gemini.ts): the official `@google/genai` SDK, pointed
 * at the mock (httpOptions.baseUrl = the mock's origin; the SDK adds /v1beta itself), parses every kind of
 * answer, and the mock reads exactly what the SDK sends. Plus protocol details the SDK hides (framing, auth).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { startMockGemini, type MockGemini } from './gemini.ts';

const API_KEY = 'AIza-mock-test-key-0123456789';
const MODEL = 'gemini-2.5-flash';

let mock: MockGemini;
let ai: GoogleGenAI;

beforeAll(async () => {
  mock = await startMockGemini({ apiKey: API_KEY });
  ai = new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: mock.origin, apiVersion: 'v1beta' } });
});
afterAll(async () => {
  await mock.close();
});

async function waitFor(cond: () => boolean, timeoutMs = 2_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function raw(path: string, body: string, headers: Record<string, string> = { 'x-goog-api-key': API_KEY }): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${mock.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('mock Gemini upstream: @google/genai fidelity', () => {
  it('generateContent: text, usage, model version, response id; reads what the SDK sends', async () => {
    const res = await ai.models.generateContent({
      model: MODEL,
      contents: 'hi',
      config: { systemInstruction: 'be brief', temperature: 0.5, maxOutputTokens: 100 },
    });
    expect(res.text).toBe('Hello from mock.');
    expect(res.candidates?.[0]?.finishReason).toBe('STOP');
    expect(res.modelVersion).toBe(MODEL);
    expect(res.responseId).toEqual(expect.any(String));
    // prompt: ceil((2 + 8) chars / 4) = 3, + 3 for the content + 3 for the system instruction = 9
    expect(res.usageMetadata).toMatchObject({ promptTokenCount: 9, candidatesTokenCount: 4, totalTokenCount: 13 });
    const recorded = mock.requests.at(-1);
    expect(recorded?.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(recorded?.headers['x-goog-api-key']).toBe(API_KEY);
    expect(recorded?.body).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
      systemInstruction: { parts: [{ text: 'be brief' }] },
      generationConfig: { temperature: 0.5, maxOutputTokens: 100 },
    });
  });

  it('generateContent: a function call (with its thought signature)', async () => {
    const res = await ai.models.generateContent({
      model: MODEL,
      contents: 'weather?\n#tool:get_weather:{"city":"Paris","unit":"c"}',
      config: { tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT' as never, properties: { city: { type: 'STRING' as never } } } }] }] },
    });
    expect(res.functionCalls).toEqual([{ name: 'get_weather', args: { city: 'Paris', unit: 'c' } }]);
    expect(res.candidates?.[0]?.content?.parts?.[0]?.thoughtSignature).toEqual(expect.any(String));
    expect(res.candidates?.[0]?.finishReason).toBe('STOP');
    expect(mock.requests.at(-1)?.body).toMatchObject({ tools: [{ functionDeclarations: [{ name: 'get_weather' }] }] });
  });

  it('generateContent: a thought part, thoughtsTokenCount, cached tokens, several candidates', async () => {
    const res = await ai.models.generateContent({
      model: MODEL,
      contents: '#thought:Let me think about it.\n#cached:2',
      config: { candidateCount: 2, thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } },
    });
    const parts = res.candidates?.[0]?.content?.parts ?? [];
    expect(parts[0]).toEqual({ text: 'Let me think about it.', thought: true });
    expect(res.text).toBe('Hello from mock.');
    expect(res.candidates?.map((c) => c.index)).toEqual([0, 1]);
    // 6 thought pieces and 4 reply pieces per candidate
    expect(res.usageMetadata).toMatchObject({ thoughtsTokenCount: 12, candidatesTokenCount: 8, cachedContentTokenCount: 2 });
    expect(mock.requests.at(-1)?.body).toMatchObject({ generationConfig: { candidateCount: 2, thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } } });
  });

  it('generateContent: #safety and #blocked', async () => {
    const safety = await ai.models.generateContent({ model: MODEL, contents: '#safety' });
    expect(safety.candidates?.[0]?.finishReason).toBe('SAFETY');
    expect(safety.candidates?.[0]?.safetyRatings?.some((r) => r.blocked === true)).toBe(true);
    const blocked = await ai.models.generateContent({ model: MODEL, contents: '#blocked' });
    expect(blocked.candidates).toBeUndefined();
    expect(blocked.promptFeedback?.blockReason).toBe('SAFETY');
    expect(blocked.text).toBeUndefined();
  });

  it('generateContentStream: text assembled from several chunks, running usage, MAX_TOKENS', async () => {
    const stream = await ai.models.generateContentStream({ model: MODEL, contents: '#words:5 #maxtokens' });
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(5);
    expect(chunks.map((c) => c.text).join('')).toBe('w1 w2 w3 w4 w5');
    expect(chunks.map((c) => c.usageMetadata?.candidatesTokenCount)).toEqual([1, 2, 3, 4, 5]);
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe('MAX_TOKENS');
    expect(chunks.slice(0, -1).every((c) => c.candidates?.[0]?.finishReason === undefined)).toBe(true);
    expect(mock.requests.at(-1)).toMatchObject({ path: `/v1beta/models/${MODEL}:streamGenerateContent`, query: { alt: 'sse' } });
  });

  it('generateContentStream: a thought, then the answer; a cut stream fails', async () => {
    const stream = await ai.models.generateContentStream({ model: MODEL, contents: '#thought:Hmm.\n#reply:Done here.' });
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]?.candidates?.[0]?.content?.parts?.[0]).toEqual({ text: 'Hmm.', thought: true });
    expect(chunks.map((c) => c.text ?? '').join('')).toBe('Done here.');
    expect(chunks.at(-1)?.usageMetadata?.thoughtsTokenCount).toBe(2);

    const cut = await ai.models.generateContentStream({ model: MODEL, contents: '#words:6 #cut:2' });
    const seen: string[] = [];
    await expect((async () => {
      for await (const chunk of cut) seen.push(chunk.text ?? '');
    })()).rejects.toThrow();
    expect(seen).toEqual(['w1', ' w2']);
  });

  it.each([
    [400, 'INVALID_ARGUMENT'],
    [403, 'PERMISSION_DENIED'],
    [404, 'NOT_FOUND'],
    [429, 'RESOURCE_EXHAUSTED'],
    [500, 'INTERNAL'],
    [503, 'UNAVAILABLE'],
    [504, 'DEADLINE_EXCEEDED'],
  ] as const)('#status:%i → ApiError with status %s', async (status, name) => {
    const err: unknown = await ai.models.generateContent({ model: MODEL, contents: `#status:${status}` }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    if (!(err instanceof ApiError)) return;
    expect(err.status).toBe(status);
    expect(err.message).toContain(name);
  });

  it('errors also reach generateContentStream before any chunk; a wrong key is 400 API_KEY_INVALID', async () => {
    await expect(ai.models.generateContentStream({ model: MODEL, contents: '#status:429' })).rejects.toMatchObject({ status: 429 });
    const wrong = new GoogleGenAI({ apiKey: 'AIza-wrong', httpOptions: { baseUrl: mock.origin } });
    const err: unknown = await wrong.models.generateContent({ model: MODEL, contents: 'hi' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err instanceof ApiError && err.status).toBe(400);
    expect(err instanceof ApiError && err.message).toContain('API_KEY_INVALID');
  });

  it('an aborted request is counted', async () => {
    const before = mock.stats.aborted;
    const controller = new AbortController();
    const pending = ai.models.generateContent({ model: MODEL, contents: '#hang', config: { abortSignal: controller.signal } }).then(() => 'ok', () => 'aborted');
    await waitFor(() => mock.stats.inFlight > 0);
    controller.abort();
    expect(await pending).toBe('aborted');
    await waitFor(() => mock.stats.aborted === before + 1);
  });
});

describe('mock Gemini upstream: protocol details', () => {
  const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: '#words:2' }] }] });

  it('frames SSE as data: {json}\\r\\n\\r\\n; without alt=sse the stream is one JSON array', async () => {
    const sse = await raw(`/models/${MODEL}:streamGenerateContent?alt=sse`, body);
    expect(sse.type).toBe('text/event-stream');
    expect(sse.text).toMatch(/^data: \{.*\}\r\n\r\ndata: \{.*\}\r\n\r\n$/s);
    const array = await raw(`/models/${MODEL}:streamGenerateContent`, body);
    expect(JSON.parse(array.text)).toHaveLength(2);
  });

  it('auth: key in the query works; missing key → 403 PERMISSION_DENIED', async () => {
    expect((await raw(`/models/${MODEL}:generateContent?key=${API_KEY}`, body, {})).status).toBe(200);
    const missing = await raw(`/models/${MODEL}:generateContent`, body, {});
    expect(missing.status).toBe(403);
    expect(JSON.parse(missing.text)).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
  });

  it('rejects what the API rejects: bad JSON, no contents, empty parts, bad role, unknown method', async () => {
    for (const bad of ['{"contents": ', '{}', '{"contents":[{"role":"user","parts":[]}]}', '{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}']) {
      const res = await raw(`/models/${MODEL}:generateContent`, bad);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
    }
    expect((await raw(`/models/${MODEL}:embedText`, body)).status).toBe(404);
  });

  it('counts media parts and function parts in the prompt', async () => {
    const res = await raw(`/models/${MODEL}:generateContent`, JSON.stringify({
      contents: [
        { role: 'user', parts: [{ text: 'look' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }] },
        { role: 'model', parts: [{ functionCall: { name: 'f', args: { a: 1 } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'f', response: { ok: true } } }] },
      ],
    }));
    // chars: 4 + 7 ({"a":1}) + 11 ({"ok":true}) = 22 → 6; + 3 × 3 contents + 258 for the image
    expect(JSON.parse(res.text)).toMatchObject({ usageMetadata: { promptTokenCount: 6 + 9 + 258 } });
  });
});
