// /v1/responses to an upstream that serves the Responses API itself (the `openai` vendor): the client's body
// goes up unchanged but for the model; the upstream's response and events come back unchanged but for the
// receipt (usage.cost), and the ledger charges the usage the upstream reported.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { startMockResponses, type MockResponses } from './upstreams/openai-responses.ts';

let t: TestGateway;
let upstream: MockResponses;
let key: string;
let userId: string;
const client = (): OpenAI => new OpenAI({ apiKey: key, baseURL: `${t.url}/v1`, maxRetries: 0, timeout: 20_000 });

beforeAll(async () => {
  upstream = await startMockResponses('sk-openai-upstream');
  t = await startTestGateway({
    yaml: (mockUrl) =>
      defaultYaml(
        mockUrl,
        `  - { id: openai-direct, type: openai, base_url: ${upstream.url}, api_key: sk-openai-upstream }`,
        `  - { id: gpt-5, max_output_tokens: 1000, channels: [{ provider: openai-direct, upstream_model: gpt-5-2025-08-07 }], price: { input_per_mtok_usd: 1.25, output_per_mtok_usd: 10 } }`,
      ),
  });
  ({ key, userId } = await t.newUser('100'));
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});

const lastEvent = async (): Promise<Record<string, unknown>> => ((await t.admin('GET', `/usage?user=${userId}`)).json.data as Array<Record<string, unknown>>)[0] ?? {};

describe('Responses → Responses pass-through', () => {
  it('the official SDK parses the mock directly (the mock speaks the documented format)', async () => {
    const direct = new OpenAI({ apiKey: 'sk-openai-upstream', baseURL: upstream.url, maxRetries: 0 });
    expect((await direct.responses.create({ model: 'm', input: '#reply:direct' })).output_text).toBe('direct');
    expect((await direct.responses.stream({ model: 'm', input: '#words:3' }).finalResponse()).output_text).toBe('w1 w2 w3');
  });

  it('forwards the body unchanged but for the model, including fields the gateway does not know', async () => {
    const body = { model: 'gpt-5', input: [{ role: 'user' as const, content: '#reply:Salut' }], instructions: 'be brief', reasoning: { effort: 'low' as const }, text: { verbosity: 'low' as const }, store: false, some_new_field: { x: 1 } };
    const { data, response } = await client().responses.create(body as OpenAI.Responses.ResponseCreateParamsNonStreaming).withResponse();
    expect(upstream.requests.at(-1)?.body).toEqual({ ...body, model: 'gpt-5-2025-08-07' });
    expect(upstream.requests.at(-1)?.path).toBe('/v1/responses');
    expect(data.id).toMatch(/^resp_mock/); // the upstream's own response, not a translation
    expect(data.output_text).toBe('Salut');
    const usage = data.usage as unknown as { input_tokens: number; output_tokens: number; cost: string };
    // $1.25 input, $10 output per Mtok → 1250 and 10000 micro-credits per token.
    expect(parseCredits(usage.cost)).toBe(BigInt(usage.input_tokens) * 1250n + BigInt(usage.output_tokens) * 10000n);
    expect(response.headers.get('x-switchyard-credits-charged')).toBe(usage.cost);
    expect(await lastEvent()).toMatchObject({ endpoint: 'responses', status: 'ok', cost_credits: usage.cost, channel: 'openai-direct/gpt-5-2025-08-07' });
  });

  it('pipes the events through in order, with the cost in response.completed', async () => {
    const res = await fetch(`${t.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-5', input: '#words:5', stream: true }),
    });
    const frames = (await res.text()).trim().split('\n\n');
    const events = frames.map((f) => JSON.parse(f.split('\ndata: ')[1] ?? '{}') as { type: string; sequence_number: number; response?: { usage?: { cost?: string } } });
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i)); // the upstream's own numbering
    expect(events[0]?.type).toBe('response.created');
    expect(events.filter((e) => e.type === 'response.output_text.delta')).toHaveLength(5);
    const completed = events.at(-1);
    expect(completed?.type).toBe('response.completed');
    expect(Number(completed?.response?.usage?.cost)).toBeGreaterThan(0);
    expect(await lastEvent()).toMatchObject({ stream: true, status: 'ok', cost_credits: completed?.response?.usage?.cost });
  });

  it('the SDK assembles a passed-through tool call', async () => {
    const final = await client()
      .responses.stream({ model: 'gpt-5', input: '#tool:lookup:{"q":"yard"}', tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object' }, strict: false }] })
      .finalResponse();
    const call = final.output.find((o) => o.type === 'function_call');
    expect(call?.type === 'function_call' && JSON.parse(call.arguments)).toEqual({ q: 'yard' });
  });

  it('an upstream error event is passed on once; a cut stream gets one error event; both bill only what was delivered', async () => {
    const post = (input: string): Promise<Response> =>
      fetch(`${t.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-5', input, stream: true }) });
    const errored = (await (await post('#words:9 #error_event')).text()).trim().split('\n\n');
    expect(errored.filter((f) => f.startsWith('event: response.created'))).toHaveLength(1);
    expect(errored.at(-1)).toMatch(/^event: error\n/);
    expect(errored.filter((f) => f.startsWith('event: error'))).toHaveLength(1);
    expect(await lastEvent()).toMatchObject({ status: 'error' });

    const cut = (await (await post('#words:9 #cut:3')).text()).trim().split('\n\n');
    expect(cut.filter((f) => f.startsWith('event: response.created'))).toHaveLength(1);
    expect(cut.at(-1)).toMatch(/^event: error\n/);
    const event = await lastEvent();
    expect(event.status).toBe('error');
    expect((event.tokens as { output: number }).output).toBeGreaterThan(0);
  });

  it('other upstreams are still translated: same client, an OpenAI-compatible channel', async () => {
    const r = await client().responses.create({ model: 'gpt-4o-mini', input: '#reply:translated' });
    expect(r.output_text).toBe('translated');
    expect(r.id).toMatch(/^resp_[0-9a-f]{32}$/); // the gateway's own id: a translation
  });
});
