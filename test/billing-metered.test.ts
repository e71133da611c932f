// billing.mode: metered (docs/billing.md "Billing modes"): every request's usage and cost are recorded, no credit
// moves — no hold, no 402 for an empty balance, no ledger line — and the receipt still shows what it cost.
// SQLite always; PostgreSQL too with SWITCHYARD_TEST_PG=1 (npm run test:pg).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const backends: Array<'sqlite' | 'postgres'> = process.env.SWITCHYARD_TEST_PG === '1' ? ['sqlite', 'postgres'] : ['sqlite'];

const micro = (credits: string | null): bigint => {
  const value = credits === null ? undefined : parseCredits(credits);
  if (value === undefined) throw new Error(`not credits: ${String(credits)}`);
  return value;
};

interface Generation {
  status: string;
  http_status: number | null;
  error_code: string | null;
  total_cost: string;
  credits: { held: string; charged: string; released: string };
  ledger: unknown[];
}

describe.each(backends)('metered billing (%s)', (backend) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ backend, env: { SWITCHYARD_BILLING_MODE: 'metered' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const receipt = async (client: OpenAI, id: string): Promise<Generation> => (await client.get<{ data: Generation }>('/generation', { query: { id } })).data;

  it('serves a user with no credits, records the full cost and moves no credit', async () => {
    const { userId, key } = await t.newUser('0');
    const client = t.client(key);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#words:300' }], max_tokens: 4000 })
      .withResponse();
    expect(data.choices[0]?.message.content).toContain('w300');
    const id = response.headers.get('x-switchyard-request-id') ?? '';
    const charged = micro(response.headers.get('x-switchyard-credits-charged'));
    expect(charged).toBeGreaterThan(0n);

    const g = await receipt(client, id);
    expect(g).toMatchObject({ status: 'ok', http_status: 200, ledger: [] });
    expect(micro(g.total_cost)).toBe(charged);
    expect(micro(g.credits.held)).toBe(0n);
    expect(micro(g.credits.charged)).toBe(charged);

    const user = await t.admin('GET', `/users/${userId}`);
    expect(user.json.balance_credits).toBe('0');
    const ledger = await t.admin('GET', `/users/${userId}/ledger?limit=100`);
    expect(ledger.json.data).toEqual([]);
  });

  it('a stream is recorded with its cost once it ends', async () => {
    const { key } = await t.newUser('0');
    const client = t.client(key);
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#words:12' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    let text = '';
    let completion = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      completion = chunk.usage?.completion_tokens ?? completion;
    }
    expect(text).toContain('w12');
    expect(completion).toBe(12);
    const id = response.headers.get('x-switchyard-request-id') ?? '';
    const g = await receipt(client, id);
    expect(g.status).toBe('ok');
    expect(micro(g.total_cost)).toBeGreaterThan(0n);
    expect(g.ledger).toEqual([]);
  });

  it('a failed upstream is recorded at no cost, and the ledger stays balanced', async () => {
    const { userId, key } = await t.newUser('0');
    const client = t.client(key);
    const failure = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#status:400' }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    const usage = await t.admin('GET', `/usage?user=${userId}&limit=10`);
    const events = usage.json.data as Array<{ status: string; http_status: number; cost_credits: string }>;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: 'error', http_status: 400, cost_credits: '0' });

    const verify = await t.admin('GET', '/ledger/verify');
    expect(verify.status).toBe(200);
    expect(verify.json.ok).toBe(true);
  });
});
