// POST /v1/messages through the official @anthropic-ai/sdk, translated to an OpenAI-compatible upstream.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
let key: string;
let userId: string;
const anthropic = (apiKey = key): Anthropic => new Anthropic({ apiKey, baseURL: t.url, maxRetries: 0, timeout: 20_000 });

beforeAll(async () => {
  t = await startTestGateway();
  ({ key, userId } = await t.newUser('50'));
});
afterAll(async () => {
  await t?.close();
});

const lastUpstreamBody = (): Record<string, unknown> => (t.mock.requests.at(-1)?.body ?? {}) as Record<string, unknown>;

describe('/v1/messages → OpenAI-compatible upstream', () => {
  it('answers a message with usage and a receipt, translating system, turns and images', async () => {
    const { data, response } = await anthropic()
      .messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 100,
        system: 'be brief',
        messages: [
          { role: 'user', content: 'first' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: [{ type: 'text', text: '#reply:Bonjour' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
        ],
      })
      .withResponse();
    expect(data.type).toBe('message');
    expect(data.content).toEqual([{ type: 'text', text: 'Bonjour' }]);
    expect(data.stop_reason).toBe('end_turn');
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBe(1);
    expect(response.headers.get('x-switchyard-credits-charged')).toBe((data.usage as unknown as { cost: string }).cost);
    const upstream = lastUpstreamBody();
    expect(upstream.messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: [{ type: 'text', text: '#reply:Bonjour' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
    ]);
    expect(upstream.max_tokens).toBe(100);
  });

  it('turns tools and tool results into OpenAI function calls and back', async () => {
    const message = await anthropic().messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      tools: [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any' },
      messages: [{ role: 'user', content: '#tool:get_weather:{"city":"Oslo"}' }],
    });
    expect(message.stop_reason).toBe('tool_use');
    const use = message.content.find((b) => b.type === 'tool_use');
    expect(use?.type === 'tool_use' && use.name).toBe('get_weather');
    expect(use?.type === 'tool_use' && use.input).toEqual({ city: 'Oslo' });
    expect(lastUpstreamBody().tool_choice).toBe('required');

    const followUp = await anthropic().messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '12°C' }, { type: 'text', text: '#reply:Mild.' }] },
      ],
    });
    expect(followUp.content).toEqual([{ type: 'text', text: 'Mild.' }]);
    expect((lastUpstreamBody().messages as unknown[]).slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '12°C' },
      { role: 'user', content: '#reply:Mild.' },
    ]);
  });

  it('streams Anthropic events the SDK assembles, text and tool use', async () => {
    const stream = anthropic().messages.stream({ model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: '#words:12' }] });
    const types: string[] = [];
    stream.on('streamEvent', (event) => types.push(event.type));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: Array.from({ length: 12 }, (_, i) => `w${i + 1}`).join(' ') }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(12);
    expect(types[0]).toBe('message_start');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);

    const tools = anthropic().messages.stream({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      tools: [{ name: 'lookup', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: '#tool:lookup:{"q":"rails","n":2}' }],
    });
    const toolFinal = await tools.finalMessage();
    const use = toolFinal.content.find((b) => b.type === 'tool_use');
    expect(use?.type === 'tool_use' && use.input).toEqual({ q: 'rails', n: 2 });
    expect(toolFinal.stop_reason).toBe('tool_use');
  });

  it('reports parameters it cannot translate in x-switchyard-warnings', async () => {
    const body = { model: 'gpt-4o-mini', max_tokens: 10, top_k: 5, messages: [{ role: 'user' as const, content: 'hi' }] };
    const { response } = await anthropic().messages.create(body as Parameters<Anthropic['messages']['create']>[0] & { stream?: false }).withResponse();
    const warnings = JSON.parse(response.headers.get('x-switchyard-warnings') ?? '[]') as Array<{ param: string }>;
    expect(warnings.map((w) => w.param)).toContain('top_k');
    expect(lastUpstreamBody().top_k).toBeUndefined();
  });

  it('counts tokens locally', async () => {
    const before = t.mock.requests.length;
    const counted = await anthropic().messages.countTokens({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello, world' }] });
    expect(counted.input_tokens).toBeGreaterThan(3);
    expect(t.mock.requests.length).toBe(before);
  });
});

describe('/v1/messages errors in Anthropic shape', () => {
  it('maps auth, model, validation, balance and upstream errors to the SDK typed errors', async () => {
    await expect(anthropic('sk-sy-wrong').messages.create({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const notFound = await anthropic().messages.create({ model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(Anthropic.NotFoundError);
    expect((notFound as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const bad = await anthropic().messages.create({ model: 'gpt-4o-mini', max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    const poor = await t.newUser('0.0001');
    const broke = await anthropic(poor.key).messages.create({ model: 'gpt-4o-mini', max_tokens: 1000, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect((broke as InstanceType<typeof Anthropic.APIError>).status).toBe(402);
    expect((broke as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ error: { type: 'billing_error' } });
    const upstream = await anthropic().messages.create({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: '#status:500' }] }).catch((e: unknown) => e);
    expect((upstream as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    expect((upstream as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ error: { type: 'api_error' } });
  });

  it('a stream that fails after the first byte ends with an error event', async () => {
    const res = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 100, stream: true, messages: [{ role: 'user', content: '#words:30 #cut:3' }] }),
    });
    const text = await res.text();
    expect(text).toContain('event: message_start');
    expect(text.trim().split('\n\n').at(-1)).toMatch(/^event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    const events = (await t.admin('GET', `/usage?user=${userId}`)).json.data as Array<Record<string, unknown>>;
    expect(events[0]).toMatchObject({ endpoint: 'messages', status: 'error' });
  });
});
