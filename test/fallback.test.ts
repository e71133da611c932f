// Model aliases, and fallback models named in the request (OpenRouter's `models`), billed at the model used.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({
    yaml: (mockUrl) =>
      defaultYaml(
        mockUrl,
        `  - { id: dead, type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }`,
        `  - { id: dead-model, max_output_tokens: 100, channels: [{ provider: dead }], price: { input_per_mtok_usd: 50, output_per_mtok_usd: 50 } }
  - { id: cheap-model, aliases: [cheap, cheap-latest], max_output_tokens: 100, channels: [{ provider: main-openai, upstream_model: cheap-upstream }], price: { input_per_mtok_usd: 1, output_per_mtok_usd: 2 } }`,
      ),
  });
});
afterAll(async () => {
  await t?.close();
});

type Event = { model: string; cost_credits: string; attempts: string | null; tokens: { input: number; output: number } };
const lastEvent = async (userId: string): Promise<Event | undefined> => ((await t.admin('GET', `/usage?user=${userId}`)).json.data as Event[])[0];

describe('model aliases', () => {
  it('an alias serves the model under its own id, and is not listed twice', async () => {
    const { key, userId } = await t.newUser('5');
    const client = t.client(key);
    const r = await client.chat.completions.create({ model: 'cheap', messages: [{ role: 'user', content: '#reply:via alias' }], max_tokens: 10 });
    expect(r.choices[0]?.message.content).toBe('via alias');
    expect(t.mock.requests.at(-1)?.body).toMatchObject({ model: 'cheap-upstream' });
    expect((await lastEvent(userId))?.model).toBe('cheap-model');
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids.filter((id) => id.startsWith('cheap'))).toEqual(['cheap-model']);
    expect((await client.models.retrieve('cheap-latest')).id).toBe('cheap-model');
  });
});

describe('fallback models in the request', () => {
  it('falls back to the next model when every channel of the first fails, billed at the model used', async () => {
    const { key, userId } = await t.newUser('50');
    const body = { model: 'dead-model', models: ['cheap-model'], messages: [{ role: 'user' as const, content: '#reply:from the fallback' }], max_tokens: 20 };
    const { data, response } = await t.client(key).chat.completions.create(body as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    expect(data.choices[0]?.message.content).toBe('from the fallback');
    expect(response.headers.get('x-switchyard-attempts')).toMatch(/^dead\/dead-model;upstream_error;\d+ms, main-openai\/cheap-upstream;ok;\d+ms$/);
    expect(t.mock.requests.at(-1)?.body).not.toHaveProperty('models');
    const event = await lastEvent(userId);
    expect(event?.model).toBe('cheap-model');
    expect(event?.attempts).toBe(response.headers.get('x-switchyard-attempts'));
    // cheap-model's price: $1 input, $2 output per Mtok → 1000 and 2000 micro-credits per token.
    expect(parseCredits(event?.cost_credits ?? '')).toBe(BigInt(event?.tokens.input ?? 0) * 1000n + BigInt(event?.tokens.output ?? 0) * 2000n);
  });

  it('holds the dearest candidate: a balance that covers only the cheap model is refused', async () => {
    const { key } = await t.newUser('0.5'); // cheap-model's worst case fits; dead-model's ($50/Mtok) does not
    const cheapOnly = await t.client(key).chat.completions.create({ model: 'cheap-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 });
    expect(cheapOnly.choices[0]?.message.content).toBe('Hello from mock.');
    const both = await t.client(key).chat.completions
      .create({ model: 'cheap-model', models: ['dead-model'], messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect((both as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
  });

  it('an unknown fallback model is a 404 naming `models`', async () => {
    const { key } = await t.newUser('5');
    const err = await t.client(key).chat.completions
      .create({ model: 'cheap-model', models: ['no-such-model'], messages: [{ role: 'user', content: 'x' }] } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.APIError>).param).toBe('models');
  });
});
