// The Azure OpenAI adapter: URL and header building for chat and embeddings with both api-version styles,
// the OpenAI codec reused for responses and streams, and the content filter's errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { azureAdapter as adapter } from '../../src/providers/azure/adapter.ts';
import { azureUrl } from '../../src/providers/azure/request.ts';
import { sseFrames } from '../../src/providers/shared/sse.ts';
import type { CallContext, ChannelSettings, ChatRequest, ChatStreamEvent, EmbeddingsRequest } from '../../src/providers/shared/types.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../src/providers/azure/fixtures/${name}`, import.meta.url), 'utf8');
const settings = (apiVersion?: string, baseUrl = 'https://res.openai.azure.com'): ChannelSettings => ({ baseUrl, apiKey: 'az-key', headers: { 'x-ms-client': 't' }, apiVersion });
const call = (apiVersion?: string, over: Partial<CallContext> = {}): CallContext => ({ settings: settings(apiVersion), upstreamModel: 'my deployment', stream: false, maxOutputTokens: 4096, ...over });
const request = { model: 'public', messages: [{ role: 'user', content: 'hi' }] } as ChatRequest;

function chatCodec() {
  if (!adapter.chat) throw new Error('no chat');
  return adapter.chat;
}

describe('azure URLs', () => {
  it('dated api-version: the deployment route with the version as a query parameter', () => {
    expect(azureUrl(settings('2024-10-21'), 'gpt4o', 'chat/completions')).toBe('https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21');
    expect(azureUrl(settings('2025-04-01-preview'), 'emb', 'embeddings')).toBe('https://res.openai.azure.com/openai/deployments/emb/embeddings?api-version=2025-04-01-preview');
  });

  it('v1 or no api-version: the /openai/v1 route; preview adds ?api-version=preview', () => {
    expect(azureUrl(settings(undefined), 'gpt4o', 'chat/completions')).toBe('https://res.openai.azure.com/openai/v1/chat/completions');
    expect(azureUrl(settings('v1'), 'gpt4o', 'embeddings')).toBe('https://res.openai.azure.com/openai/v1/embeddings');
    expect(azureUrl(settings('preview'), 'gpt4o', 'chat/completions')).toBe('https://res.openai.azure.com/openai/v1/chat/completions?api-version=preview');
  });

  it('tolerates a base_url that already ends in /openai or /openai/v1, and encodes the deployment', () => {
    expect(azureUrl(settings('v1', 'https://res.openai.azure.com/openai/v1'), 'd', 'chat/completions')).toBe('https://res.openai.azure.com/openai/v1/chat/completions');
    expect(azureUrl(settings('2024-10-21', 'https://res.openai.azure.com/openai/'), 'a/b c', 'chat/completions')).toBe('https://res.openai.azure.com/openai/deployments/a%2Fb%20c/chat/completions?api-version=2024-10-21');
  });
});

describe('azure requests', () => {
  it('chat: api-key header (no bearer), extra headers kept, the deployment as model', () => {
    const { upstream, warnings } = chatCodec().encodeRequest(request, call('2024-10-21'));
    expect(upstream.url).toBe('https://res.openai.azure.com/openai/deployments/my%20deployment/chat/completions?api-version=2024-10-21');
    expect(upstream.headers).toMatchObject({ 'api-key': 'az-key', 'x-ms-client': 't', 'content-type': 'application/json' });
    expect(upstream.headers).not.toHaveProperty('authorization');
    expect(JSON.parse(upstream.body ?? '')).toEqual({ ...request, model: 'my deployment' });
    expect(warnings).toEqual([]);
  });

  it('chat on the v1 route streams with include_usage', () => {
    const { upstream } = chatCodec().encodeRequest({ ...request, stream: true } as ChatRequest, call(undefined, { stream: true }));
    expect(upstream.url).toBe('https://res.openai.azure.com/openai/v1/chat/completions');
    expect(JSON.parse(upstream.body ?? '')).toMatchObject({ model: 'my deployment', stream_options: { include_usage: true } });
  });

  it('embeddings: both api-version styles', () => {
    const embed = { model: 'public', input: 'hello' } as EmbeddingsRequest;
    const dated = adapter.embeddings?.encodeRequest(embed, call('2024-10-21'));
    expect(dated?.upstream.url).toBe('https://res.openai.azure.com/openai/deployments/my%20deployment/embeddings?api-version=2024-10-21');
    expect(dated?.upstream.headers['api-key']).toBe('az-key');
    const v1 = adapter.embeddings?.encodeRequest(embed, call('v1'));
    expect(v1?.upstream.url).toBe('https://res.openai.azure.com/openai/v1/embeddings');
    expect(JSON.parse(v1?.upstream.body ?? '')).toEqual({ model: 'my deployment', input: 'hello' });
  });

  it('declares api_version as a provider config field and has no default base URL', () => {
    expect(adapter.describe?.configFields).toEqual(['api_version']);
    expect(adapter.describe?.defaultBaseUrl).toBeUndefined();
    expect(adapter.describe?.auth).toEqual({ header: 'api-key' });
  });
});

describe('azure responses and errors', () => {
  it('finish_reason content_filter passes through the shared OpenAI decoder', async () => {
    const body = {
      id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Partial' }, finish_reason: 'content_filter', content_filter_results: { violence: { filtered: true, severity: 'medium' } } }],
      usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
    };
    const result = chatCodec().decodeResponse(body, call('v1'));
    expect(result.response.choices[0]?.finish_reason).toBe('content_filter');
    expect(result.usage).toMatchObject({ input: 5, output: 1 });

    const text = fixture('chat-stream-content-filter.sse').split('\n').filter(Boolean).map((line) => `${line}\n\n`).join('');
    async function* frames(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode(text);
    }
    const events: ChatStreamEvent[] = [];
    for await (const e of chatCodec().decodeStream(sseFrames(frames()), call('v1'))) events.push(e);
    expect(events.map((e) => e.type)).toEqual(['chunk', 'chunk', 'chunk', 'chunk', 'chunk', 'done']);
    const finish = events[3];
    expect(finish?.type === 'chunk' && finish.chunk.choices[0]?.finish_reason).toBe('content_filter');
    const usage = events[4];
    expect(usage?.type === 'chunk' && usage.usage).toEqual({ input: 12, cachedInput: 0, cacheWrite: 0, output: 2, reasoning: 0 });
  });

  it('a 400 content_filter becomes upstream_rejected (400) naming the filtered categories', () => {
    const error = adapter.classifyError({ kind: 'status', status: 400, message: 'HTTP 400', body: JSON.parse(fixture('error-content-filter.json')) });
    expect(error).toMatchObject({ code: 'upstream_rejected', status: 400, failover: false, blameChannel: false, param: 'messages' });
    expect(error.message).toContain('content filter');
    expect(error.message).toContain('(hate)');
    expect(error.message).not.toContain('violence');
  });

  it('other errors are classified as OpenAI\'s', () => {
    expect(adapter.classifyError({ kind: 'status', status: 400, message: '', body: { error: { code: 'invalid_value', message: 'bad temperature' } } })).toMatchObject({ code: 'upstream_rejected', status: 400 });
    expect(adapter.classifyError({ kind: 'status', status: 429, headers: { 'retry-after': '3' }, message: '' })).toMatchObject({ code: 'upstream_rate_limited', retryAfter: 3 });
    expect(adapter.classifyError({ kind: 'status', status: 401, message: '' })).toMatchObject({ code: 'upstream_auth_failed' });
  });
});
