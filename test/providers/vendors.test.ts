// OpenAI-compatible vendors as data (src/providers/openai-compatible/vendors/*.ts): each vendor's quirks as
// encodeRequest applies them — warnings, removed parameters, auth header, stream_options policy — and the
// base-URL defaulting done where channels are resolved.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { adapterFor } from '../../src/providers/index.ts';
import { openAICompatible } from '../../src/providers/openai-compatible/adapter.ts';
import type { Vendor } from '../../src/providers/openai-compatible/vendor.ts';
import { VENDORS } from '../../src/providers/openai-compatible/vendors/index.ts';
import { sseFrames } from '../../src/providers/shared/sse.ts';
import type { CallContext, ChatRequest, ChatStreamEvent, Encoded } from '../../src/providers/shared/types.ts';
import { resolveChannels } from '../../src/routing/channels.ts';

const call = (over: Partial<CallContext> = {}): CallContext => ({
  settings: { baseUrl: 'https://vendor.example/v1', apiKey: 'sk-up', headers: {} },
  upstreamModel: 'some-model',
  stream: false,
  maxOutputTokens: 4096,
  ...over,
});

function encode(vendor: Vendor, request: Record<string, unknown>, context: CallContext = call()): { encoded: Encoded; body: Record<string, unknown> } {
  const chat = openAICompatible(vendor).chat;
  if (!chat) throw new Error('no chat codec');
  const encoded = chat.encodeRequest({ model: 'public', messages: [{ role: 'user', content: 'hi' }], ...request } as ChatRequest, context);
  return { encoded, body: JSON.parse(encoded.upstream.body ?? '{}') as Record<string, unknown> };
}

const vendor = (id: string): Vendor => {
  const found = VENDORS.find((v) => v.id === id);
  if (!found) throw new Error(`no vendor ${id}`);
  return found;
};

/** A value for a parameter the vendor refuses, so the test can send every one of them at once. */
function requestWith(params: readonly string[]): Record<string, unknown> {
  const request: Record<string, unknown> = { messages: [{ role: 'user', content: 'hi' }] };
  for (const p of params) {
    if (p === 'messages[].name') request.messages = [{ role: 'user', content: 'hi', name: 'alice' }];
    else if (p === 'stream_options') request.stream_options = { include_obfuscation: false };
    else request[p] = p === 'n' ? 2 : p === 'logit_bias' ? { '1': 1 } : 1;
  }
  return request;
}

describe('every vendor data file', () => {
  it('is registered under its type, with a docs URL and (hosted ones) a default base URL', () => {
    const ids = VENDORS.map((v) => v.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['openai-compatible', 'openai', 'deepseek', 'groq', 'mistral', 'xai', 'openrouter', 'together', 'fireworks', 'moonshot', 'qwen', 'ollama', 'vllm']));
    for (const v of VENDORS) {
      const adapter = adapterFor(v.id);
      expect(adapter?.id).toBe(v.id);
      expect(adapter?.protocol).toBe('openai');
      expect(v.docsUrl).toMatch(/^https:\/\//);
      expect(adapter?.describe?.defaultBaseUrl).toBe(v.defaultBaseUrl);
      expect(Boolean(adapter?.embeddings)).toBe(v.capabilities.embeddings);
    }
    const selfHosted = VENDORS.filter((v) => v.defaultBaseUrl === undefined).map((v) => v.id);
    expect(selfHosted).toEqual(['openai-compatible', 'vllm']);
    for (const v of VENDORS) if (v.defaultBaseUrl && v.id !== 'ollama') expect(v.defaultBaseUrl).toMatch(/^https:\/\//);
  });

  it.each(VENDORS.map((v) => [v.id, v] as const))('%s: removes each unsupported parameter with a warning, keeps the rest', (_id, v) => {
    const { encoded, body } = encode(v, { ...requestWith(v.unsupportedParams), temperature_unknown_field: 'kept' });
    expect(encoded.warnings.map((w) => w.param)).toEqual([...v.unsupportedParams]);
    for (const w of encoded.warnings) {
      expect(w.code).toBe('unsupported_parameter');
      expect(w.message).toContain(v.name);
    }
    for (const p of v.unsupportedParams) {
      if (p === 'messages[].name') expect((body.messages as Array<Record<string, unknown>>)[0]).not.toHaveProperty('name');
      else expect(body).not.toHaveProperty(p);
    }
    expect(body).toMatchObject({ model: 'some-model', temperature_unknown_field: 'kept' });
    expect(encoded.upstream.url).toBe('https://vendor.example/v1/chat/completions');
    expect(encoded.upstream.headers.authorization).toBe('Bearer sk-up');
  });

  it.each(VENDORS.map((v) => [v.id, v] as const))('%s: stream_options follows the vendor\'s streaming-usage policy', (_id, v) => {
    const { encoded, body } = encode(v, { stream: true, stream_options: { include_usage: true } }, call({ stream: true }));
    if (v.streamUsage === 'include_usage') expect(body.stream_options).toEqual({ include_usage: true });
    else expect(body).not.toHaveProperty('stream_options');
    expect(encoded.warnings).toEqual([]);
    const unasked = encode(v, { stream: true }, call({ stream: true })).body;
    expect(unasked.stream_options).toEqual(v.streamUsage === 'include_usage' ? { include_usage: true } : undefined);
  });
});

describe('vendor quirks', () => {
  it('openai-compatible: the body goes upstream unchanged but for the model', () => {
    const request = { messages: [{ role: 'user', content: 'hi', name: 'a' }], logit_bias: { '1': 2 }, n: 3, vendor_knob: { x: 1 } };
    const { encoded, body } = encode(vendor('openai-compatible'), request);
    expect(encoded.warnings).toEqual([]);
    expect(body).toEqual({ model: 'some-model', ...request });
  });

  it('groq: n above 1 is lowered with a warning; messages[].name is removed without touching the caller\'s messages', () => {
    const messages = [{ role: 'user', content: 'hi', name: 'alice' }];
    const { encoded, body } = encode(vendor('groq'), { messages, n: 3 });
    expect(body.n).toBe(1);
    expect(encoded.warnings.map((w) => w.param)).toEqual(['messages[].name', 'n']);
    expect(messages[0]).toHaveProperty('name', 'alice');
    expect(encode(vendor('groq'), { n: 1 }).encoded.warnings).toEqual([]);
  });

  it('a null parameter is dropped without a warning (nothing was asked)', () => {
    const { encoded, body } = encode(vendor('groq'), { logprobs: null });
    expect(body).not.toHaveProperty('logprobs');
    expect(encoded.warnings).toEqual([]);
  });

  it('mistral: seed and max_completion_tokens are renamed; other stream_options keys are refused', () => {
    const { encoded, body } = encode(vendor('mistral'), { seed: 7, max_completion_tokens: 100, stream: true, stream_options: { include_usage: true, include_obfuscation: false } }, call({ stream: true }));
    expect(body).toMatchObject({ random_seed: 7, max_tokens: 100 });
    expect(body).not.toHaveProperty('seed');
    expect(body).not.toHaveProperty('stream_options');
    expect(encoded.warnings.map((w) => w.param)).toEqual(['stream_options']);
  });

  it('deepseek-reasoner: per-model quirks apply only to that model', () => {
    const request = { temperature: 0.2, top_p: 0.9, logprobs: true };
    const reasoner = encode(vendor('deepseek'), request, call({ upstreamModel: 'deepseek-reasoner' }));
    expect(reasoner.encoded.warnings.map((w) => w.param)).toEqual(['temperature', 'top_p', 'logprobs']);
    expect(reasoner.encoded.warnings[0]?.message).toContain('for model deepseek-reasoner');
    expect(reasoner.body).not.toHaveProperty('temperature');
    const chat = encode(vendor('deepseek'), request, call({ upstreamModel: 'deepseek-chat' }));
    expect(chat.encoded.warnings).toEqual([]);
    expect(chat.body).toMatchObject(request);
  });

  it('openai: o-series models drop sampling parameters and take max_completion_tokens', () => {
    const o = encode(vendor('openai'), { temperature: 0.5, max_tokens: 50 }, call({ upstreamModel: 'o3-mini' }));
    expect(o.body).toMatchObject({ max_completion_tokens: 50 });
    expect(o.body).not.toHaveProperty('max_tokens');
    expect(o.encoded.warnings.map((w) => w.param)).toEqual(['temperature']);
    expect(encode(vendor('openai'), { temperature: 0.5, max_tokens: 50 }, call({ upstreamModel: 'gpt-4o' })).body).toMatchObject({ temperature: 0.5, max_tokens: 50 });
  });

  it('xai: reasoning models refuse penalties and stop; non-reasoning ones do not', () => {
    const request = { presence_penalty: 1, stop: ['x'] };
    expect(encode(vendor('xai'), request, call({ upstreamModel: 'grok-4' })).encoded.warnings.map((w) => w.param)).toEqual(['presence_penalty', 'stop']);
    expect(encode(vendor('xai'), request, call({ upstreamModel: 'grok-4-fast-non-reasoning' })).encoded.warnings).toEqual([]);
  });

  it('capabilities the vendor lacks are warned about but forwarded unchanged', () => {
    const image = { role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } }] };
    const { encoded, body } = encode(vendor('deepseek'), { messages: [image], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } });
    expect(encoded.warnings.map((w) => [w.code, w.param])).toEqual([
      ['unsupported_capability', 'response_format'],
      ['unsupported_capability', 'messages'],
    ]);
    expect(body.messages).toEqual([image]);
    expect(body.response_format).toMatchObject({ type: 'json_schema' });
  });

  it('auth styles: none sends no key; a header style sends the raw key in that header', () => {
    const base = vendor('openai-compatible');
    const none = encode({ ...base, auth: 'none' }, {}).encoded.upstream.headers;
    expect(none).not.toHaveProperty('authorization');
    const header = encode({ ...base, auth: { header: 'X-Api-Key' } }, {}).encoded.upstream.headers;
    expect(header['x-api-key']).toBe('sk-up');
    expect(header).not.toHaveProperty('authorization');
    const keyless = encode(base, {}, call({ settings: { baseUrl: 'http://x', apiKey: undefined, headers: {} } })).encoded.upstream.headers;
    expect(keyless).not.toHaveProperty('authorization');
  });

  it('streamUsage never: no stream_options upstream, and a client that asked for usage is told', () => {
    const never: Vendor = { ...vendor('openai-compatible'), name: 'Quiet', streamUsage: 'never' };
    const { encoded, body } = encode(never, { stream: true, stream_options: { include_usage: true } }, call({ stream: true }));
    expect(body).not.toHaveProperty('stream_options');
    expect(encoded.warnings).toEqual([expect.objectContaining({ param: 'stream_options.include_usage' })]);
    expect(encode(never, { stream: true }, call({ stream: true })).encoded.warnings).toEqual([]);
  });

  it('reads streamed usage from choices[0].usage when the chunk has none of its own (Moonshot)', async () => {
    const text =
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"kimi","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n' +
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"kimi","choices":[{"index":0,"delta":{},"finish_reason":"stop","usage":{"prompt_tokens":8,"completion_tokens":2,"total_tokens":10}}]}\n\n' +
      'data: [DONE]\n\n';
    async function* body(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode(text);
    }
    const events: ChatStreamEvent[] = [];
    const chat = openAICompatible(vendor('moonshot')).chat;
    for await (const e of chat?.decodeStream(sseFrames(body()), call()) ?? []) events.push(e);
    const usages = events.flatMap((e) => (e.type === 'chunk' && e.usage ? [e.usage] : []));
    expect(usages).toEqual([{ input: 8, cachedInput: 0, cacheWrite: 0, output: 2, reasoning: 0 }]);
  });
});

describe('base URL defaults (resolved with the channels, config/ stays free of provider imports)', () => {
  const load = (provider: string) =>
    loadConfig({
      env: { SWITCHYARD_DATA_DIR: mkdtempSync(join(tmpdir(), 'sy-vendors-')) },
      yamlText: `providers:\n${provider}\nmodels:\n  - id: m\n    channels:\n      - provider: p\n    price: { input_per_mtok_usd: 1, output_per_mtok_usd: 1 }\n`,
    });

  it('a hosted vendor without base_url gets its default', () => {
    const channel = resolveChannels(load('  - id: p\n    type: deepseek\n    api_key: k')).get('m')?.[0];
    expect(channel?.settings.baseUrl).toBe('https://api.deepseek.com');
    expect(channel?.adapter.id).toBe('deepseek');
  });

  it('a configured base_url wins over the default', () => {
    expect(resolveChannels(load('  - id: p\n    type: groq\n    base_url: http://proxy.local/groq/')).get('m')?.[0]?.settings.baseUrl).toBe('http://proxy.local/groq');
  });

  it('a type without a default still requires base_url, naming the field', () => {
    expect(() => resolveChannels(load('  - id: p\n    type: openai-compatible'))).toThrow(/providers\[0\]\.base_url: required for type "openai-compatible"/);
    expect(() => resolveChannels(load('  - id: p\n    type: vllm'))).toThrow(/providers\[0\]\.base_url/);
  });

  it('api_version is refused where the type does not read it', () => {
    expect(() => resolveChannels(load('  - id: p\n    type: deepseek\n    api_version: "2024-10-21"'))).toThrow(/providers\[0\]\.api_version/);
  });
});
