// End to end: the official openai SDK → gateway → real mock upstream socket, billed on a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, UPSTREAM_KEY, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

function lastUpstreamBody(): Record<string, unknown> {
  const last = t.mock.requests.at(-1);
  if (!last) throw new Error('no upstream request recorded');
  return last.body as Record<string, unknown>;
}

async function balance(userId: string): Promise<string> {
  return String((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits);
}

describe('POST /v1/chat/completions (non-streaming)', () => {
  it('answers through the SDK, bills the reported usage and returns a receipt', async () => {
    const { userId, key } = await t.newUser('10');
    const client = t.client(key);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#reply:Hi there' }], max_tokens: 50 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Hi there');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    const requestId = response.headers.get('x-switchyard-request-id');
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/);
    const charged = response.headers.get('x-switchyard-credits-charged');
    const usage = data.usage as typeof data.usage & { cost: string };
    expect(usage.cost).toBe(charged);
    // 0.15 $/Mtok input, 0.60 $/Mtok output → credits per token: 0.00015 and 0.0006.
    const expected = (usage.prompt_tokens * 150 + usage.completion_tokens * 600) / 1e6;
    expect(Number(charged)).toBeCloseTo(expected, 9);
    expect(await balance(userId)).toBe(String(Number((10 - expected).toFixed(6))));
    const ledger = await t.admin('GET', `/users/${userId}/ledger`);
    const kinds = (ledger.json.data as Array<{ kind: string; request_id: string | null }>).filter((e) => e.request_id === requestId).map((e) => e.kind);
    expect(kinds.sort()).toEqual(['capture', 'hold', 'release']);
    const usageEvents = await t.admin('GET', `/usage?user=${userId}`);
    const event = (usageEvents.json.data as Array<Record<string, unknown>>)[0];
    expect(event).toMatchObject({ request_id: requestId, model: 'gpt-4o-mini', status: 'ok', http_status: 200, cost_credits: charged, channel: 'main-openai/gpt-4o-mini' });
  });

  it('forwards the body unchanged except the model name, unknown fields included, with the channel key', async () => {
    const { key } = await t.newUser('100');
    const body = {
      model: 'renamed-model',
      messages: [
        { role: 'system' as const, content: 'be brief' },
        { role: 'user' as const, content: [{ type: 'text' as const, text: 'what is this?' }, { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
      ],
      response_format: { type: 'json_object' as const },
      temperature: 0.2,
      seed: 7,
      some_vendor_field: { nested: [1, 2, 3] },
    };
    await t.client(key).chat.completions.create(body as Parameters<ReturnType<TestGateway['client']>['chat']['completions']['create']>[0]);
    const forwarded = lastUpstreamBody();
    expect(forwarded).toEqual({ ...body, model: 'upstream-name' });
    const headers = t.mock.requests.at(-1)?.headers ?? {};
    expect(headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it('passes tools and tool_choice through and returns the tool call', async () => {
    const { key } = await t.newUser('10');
    const res = await t.client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: '#tool:get_weather:{"city":"Paris"}' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'auto',
    });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(lastUpstreamBody().tool_choice).toBe('auto');
  });
});

describe('POST /v1/chat/completions (streaming)', () => {
  it('pipes chunks, ends with a usage chunk carrying the cost when include_usage is set', async () => {
    const { userId, key } = await t.newUser('10');
    const stream = await t.client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: '#words:20' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: (Record<string, unknown> & { cost?: string }) | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage as unknown as Record<string, unknown> & { cost?: string };
    }
    expect(text.split(' ')).toHaveLength(20);
    expect(finish).toBe('stop');
    expect(chunks).toBeGreaterThan(20);
    expect(usage?.cost).toMatch(/^0\.\d+$/);
    const events = await t.admin('GET', `/usage?user=${userId}`);
    const event = (events.json.data as Array<Record<string, unknown>>)[0];
    expect(event).toMatchObject({ stream: true, status: 'ok', cost_credits: usage?.cost });
    expect((event?.tokens as Record<string, number>).output).toBe(usage?.completion_tokens);
    expect(await balance(userId)).toBe(String(Number((10 - Number(usage?.cost)).toFixed(6))));
  });

  it('asks the upstream for usage but hides the usage chunk from a client that did not ask', async () => {
    const { userId, key } = await t.newUser('10');
    const stream = await t.client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#words:5' }], stream: true });
    const withUsage: unknown[] = [];
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) withUsage.push(chunk.usage);
    }
    expect(text).toBe('w1 w2 w3 w4 w5');
    expect(withUsage).toEqual([]);
    expect((lastUpstreamBody().stream_options as Record<string, unknown>).include_usage).toBe(true);
    const event = ((await t.admin('GET', `/usage?user=${userId}`)).json.data as Array<Record<string, unknown>>)[0];
    expect(Number(event?.cost_credits)).toBeGreaterThan(0);
  });

  it('streams tool-call arguments that the SDK reassembles', async () => {
    const { key } = await t.newUser('10');
    const runner = t.client(key).chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: '#tool:lookup:{"q":"switchyard","n":3}' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ q: 'switchyard', n: 3 });
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
  });
});

describe('GET /v1/models', () => {
  it('lists the models with prices in credits per million tokens', async () => {
    const { key } = await t.newUser('1');
    const client = t.client(key);
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids.sort()).toEqual(['gpt-4o-mini', 'renamed-model', 'text-embedding-3-small']);
    const one = (await client.models.retrieve('renamed-model')) as unknown as { pricing: Record<string, unknown> };
    // $2.5/Mtok = 2,500 credits/Mtok; cached $1.25 → 1,250; output $10 → 10,000.
    expect(one.pricing).toMatchObject({ input: '2500', cached_input: '1250', output: '10000', unit: 'credits_per_million_tokens' });
  });
});

describe('POST /v1/embeddings', () => {
  it('returns vectors the SDK decodes and bills input tokens', async () => {
    const { userId, key } = await t.newUser('1');
    const { data, response } = await t.client(key).embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta gamma'] }).withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.data[0]?.embedding.length).toBeGreaterThan(0);
    expect(typeof data.data[0]?.embedding[0]).toBe('number');
    const charged = response.headers.get('x-switchyard-credits-charged');
    expect(Number(charged)).toBeGreaterThan(0);
    expect(await balance(userId)).toBe(String(Number((1 - Number(charged)).toFixed(6))));
  });
});
