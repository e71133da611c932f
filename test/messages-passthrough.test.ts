// /v1/messages to an Anthropic upstream: the client's body goes up unchanged but for the model, and the
// upstream's bytes come back unchanged but for the receipt (usage.cost), while billing reads the usage.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { startMockAnthropic, type MockAnthropic } from './upstreams/anthropic.ts';

let t: TestGateway;
let upstream: MockAnthropic;
let key: string;
let userId: string;
const claude = (): Anthropic => new Anthropic({ apiKey: key, baseURL: t.url, maxRetries: 0, timeout: 20_000 });

beforeAll(async () => {
  upstream = await startMockAnthropic({ apiKey: 'sk-ant-upstream' });
  t = await startTestGateway({
    yaml: (mockUrl) =>
      defaultYaml(
        mockUrl,
        `  - id: claude-direct\n    type: anthropic\n    base_url: ${upstream.url}\n    api_key: sk-ant-upstream`,
        `  - id: claude-sonnet\n    max_output_tokens: 8192\n    channels: [{ provider: claude-direct, upstream_model: claude-sonnet-4-5 }]\n    price: { input_per_mtok_usd: 3, output_per_mtok_usd: 15, cached_input_per_mtok_usd: 0.3, cache_write_per_mtok_usd: 3.75 }`,
      ),
  });
  ({ key, userId } = await t.newUser('100'));
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});

describe('Anthropic → Anthropic pass-through', () => {
  it('forwards the body unchanged but for the model, and bills the reported usage by kind', async () => {
    const body = {
      model: 'claude-sonnet',
      max_tokens: 300,
      system: [{ type: 'text' as const, text: 'sys', cache_control: { type: 'ephemeral' as const } }],
      messages: [{ role: 'user' as const, content: '#cached:100 #cache_write:50\n#reply:Hei' }],
      metadata: { user_id: 'u-1' },
    };
    const { data, response } = await claude().messages.create(body).withResponse();
    expect(data.content).toEqual([{ type: 'text', text: 'Hei' }]);
    expect(upstream.requests.at(-1)?.body).toEqual({ ...body, model: 'claude-sonnet-4-5' });
    const usage = data.usage as unknown as Record<string, number | string>;
    expect(usage.cache_read_input_tokens).toBe(100);
    expect(usage.cache_creation_input_tokens).toBe(50);
    // $3 input, $0.30 cached, $3.75 cache write, $15 output per Mtok → micro-credits per token: 3000, 300, 3750, 15000.
    const expected = BigInt(Number(usage.input_tokens)) * 3000n + 100n * 300n + 50n * 3750n + BigInt(Number(usage.output_tokens)) * 15000n;
    expect(parseCredits(String(usage.cost))).toBe(expected);
    expect(response.headers.get('x-switchyard-credits-charged')).toBe(usage.cost);
    expect(response.headers.get('x-switchyard-warnings')).toBeNull();
  });

  it('pipes the upstream events through, with the cost in the final message_delta usage', async () => {
    const res = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet', max_tokens: 300, stream: true, messages: [{ role: 'user', content: '#thinking:hmm\n#words:6' }] }),
    });
    const text = await res.text();
    const events = text.trim().split('\n\n').map((e) => e.split('\n')[0]);
    expect(events[0]).toBe('event: message_start');
    expect(events.filter((e) => e === 'event: message_stop')).toHaveLength(1);
    expect(events.at(-1)).toBe('event: message_stop');
    expect(text).toContain('"type":"thinking_delta"');
    expect(text).toContain('"type":"signature_delta"'); // only a pass-through keeps thinking signatures
    const delta = text.split('\n\n').find((e) => e.startsWith('event: message_delta'));
    const usage = (JSON.parse(delta?.split('\ndata: ')[1] ?? '{}') as { usage: { cost: string } }).usage;
    expect(Number(usage.cost)).toBeGreaterThan(0);
    const event = ((await t.admin('GET', `/usage?user=${userId}`)).json.data as Array<Record<string, unknown>>)[0];
    expect(event).toMatchObject({ endpoint: 'messages', stream: true, status: 'ok', cost_credits: usage.cost, channel: 'claude-direct/claude-sonnet-4-5' });
  });

  it('the SDK stream helper assembles the passed-through events', async () => {
    const final = await claude().messages.stream({ model: 'claude-sonnet', max_tokens: 300, messages: [{ role: 'user', content: '#tool:search:{"q":"x"}' }] }).finalMessage();
    const use = final.content.find((b) => b.type === 'tool_use');
    expect(use?.type === 'tool_use' && use.input).toEqual({ q: 'x' });
  });

  it('an upstream error event mid-stream ends the stream with the gateway\'s error event, billed only for what was delivered', async () => {
    const res = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet', max_tokens: 300, stream: true, messages: [{ role: 'user', content: '#words:20 #error_event' }] }),
    });
    const text = await res.text();
    // Not the upstream's own event (it may name the operator's organization): the gateway's, with the request id.
    expect(text.trim().split('\n\n').at(-1)).toMatch(/^event: error\ndata: .*"type":"api_error".*The upstream provider failed to answer/s);
    expect(text).not.toContain('overloaded_error');
    const event = ((await t.admin('GET', `/usage?user=${userId}`)).json.data as Array<Record<string, unknown>>)[0];
    expect(event?.status).toBe('error');
    expect(event?.upstream_error).toMatchObject({ code: 'overloaded_error' });
  });
});
