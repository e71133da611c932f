// Receipts (issue 5, item 7): GET /v1/generation?id=<x-switchyard-request-id> with the caller's API key returns
// the metadata of one of its own requests and the ledger lines it wrote, so the caller can reconcile its balance.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

interface LedgerLine {
  id: string;
  kind: string;
  amount_credits: string;
  balance_after_credits: string;
  actor: string | null;
  reason: string | null;
  created_at: string;
}

interface Generation {
  id: string;
  object: string;
  created_at: string;
  status: string;
  http_status: number | null;
  error_code: string | null;
  model: string | null;
  provider: string | null;
  channel: string | null;
  endpoint: string | null;
  streamed: boolean | null;
  tokens_prompt: number | null;
  tokens_completion: number | null;
  tokens: Record<string, number> | null;
  price_version: number | null;
  total_cost: string;
  credits: { held: string; charged: string; released: string };
  latency_ms: number | null;
  ttfb_ms: number | null;
  attempts: Array<{ channel: string; outcome: string; ms: number }>;
  ledger: LedgerLine[];
}

async function receipt(client: OpenAI, id: string): Promise<Generation> {
  const body = await client.get<{ data: Generation }>('/generation', { query: { id } });
  return body.data;
}

/** The status and error body the SDK surfaces for a receipt that cannot be read. */
async function receiptError(client: OpenAI, query: Record<string, string>): Promise<{ status: number | undefined; error: unknown }> {
  const failure = await client.get('/generation', { query }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(failure).toBeInstanceOf(OpenAI.APIError);
  const e = failure as InstanceType<typeof OpenAI.APIError>;
  return { status: e.status, error: e.error };
}

const micro = (credits: string): bigint => {
  const value = parseCredits(credits);
  if (value === undefined) throw new Error(`not credits: ${credits}`);
  return value;
};

/** The receipt's ledger lines are exactly the request's lines in the user's own ledger (same ids and amounts). */
async function expectReconciles(userId: string, requestId: string, lines: LedgerLine[]): Promise<void> {
  const all = (await t.admin('GET', `/users/${userId}/ledger?limit=1000`)).json.data as Array<LedgerLine & { request_id: string | null }>;
  const mine = all.filter((e) => e.request_id === requestId).reverse();
  expect(lines.map((l) => [l.id, l.kind, l.amount_credits, l.balance_after_credits])).toEqual(mine.map((l) => [l.id, l.kind, l.amount_credits, l.balance_after_credits]));
}

describe('GET /v1/generation', () => {
  it('a JSON chat completion: model, channel, tokens, price version, credits, attempts, timings and its ledger lines', async () => {
    const { userId, key } = await t.newUser('10');
    const client = t.client(key);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#reply:Receipts please' }], max_tokens: 50 })
      .withResponse();
    const id = response.headers.get('x-switchyard-request-id') ?? '';
    const charged = response.headers.get('x-switchyard-credits-charged') ?? '';
    const g = await receipt(client, id);
    const model = t.gateway.deps.catalogue.get('gpt-4o-mini');
    expect(g).toMatchObject({
      id,
      object: 'generation',
      status: 'ok',
      http_status: 200,
      error_code: null,
      model: 'gpt-4o-mini',
      provider: 'main-openai',
      channel: 'main-openai/gpt-4o-mini',
      endpoint: 'chat.completions',
      streamed: false,
      tokens_prompt: data.usage?.prompt_tokens,
      tokens_completion: data.usage?.completion_tokens,
      tokens: { input: data.usage?.prompt_tokens, cached_input: 0, cache_write: 0, output: data.usage?.completion_tokens, reasoning: 0 },
      price_version: model?.price.version,
      total_cost: charged,
    });
    expect(Date.now() - Date.parse(g.created_at)).toBeLessThan(60_000);
    expect(g.attempts).toEqual([{ channel: 'main-openai/gpt-4o-mini', outcome: 'ok', ms: expect.any(Number) }]);
    expect(g.latency_ms).toBeGreaterThanOrEqual(0);
    expect(g.ttfb_ms).toBeGreaterThanOrEqual(0);

    // Credits: the hold came back whole and the cost was captured; released is what came back net.
    const held = micro(g.credits.held);
    expect(held).toBeGreaterThan(micro(charged));
    expect(g.credits.charged).toBe(charged);
    expect(micro(g.credits.released)).toBe(held - micro(charged));
    expect(g.ledger.map((l) => [l.kind, micro(l.amount_credits)])).toEqual([
      ['hold', -held],
      ['release', held],
      ['capture', -micro(charged)],
    ]);
    expect(g.ledger.at(-1)?.balance_after_credits).toBe((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits);
    expect(micro(g.ledger[0]?.balance_after_credits ?? '')).toBe(micro('10') - held);
    await expectReconciles(userId, id, g.ledger);
  });

  it('a stream: settled before its last bytes, so the receipt is there as soon as the stream has ended, with the charge its final usage chunk announced', async () => {
    const { userId, key } = await t.newUser('10');
    const client = t.client(key);
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: '#words:12' }] })
      .withResponse();
    let cost: string | undefined;
    for await (const chunk of stream) if (chunk.usage) cost = (chunk.usage as typeof chunk.usage & { cost: string }).cost;
    const id = response.headers.get('x-switchyard-request-id') ?? '';
    const g = await receipt(client, id);
    expect(g).toMatchObject({ status: 'ok', streamed: true, tokens_completion: 12, total_cost: cost, credits: { charged: cost } });
    await expectReconciles(userId, id, g.ledger);
  });

  it('a failed request: status error, nothing charged, the whole hold released', async () => {
    const { userId, key } = await t.newUser('10');
    const client = t.client(key);
    const failure = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#status:400' }] })
      .then(() => undefined, (e: unknown) => e);
    expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
    const id = (failure as InstanceType<typeof OpenAI.APIError>).headers?.get('x-switchyard-request-id') ?? '';
    const g = await receipt(client, id);
    expect(g).toMatchObject({ status: 'error', http_status: 400, error_code: 'upstream_rejected', total_cost: '0', credits: { charged: '0' } });
    expect(g.credits.released).toBe(g.credits.held);
    expect(g.ledger.map((l) => l.kind)).toEqual(['hold', 'release']);
    await expectReconciles(userId, id, g.ledger);
  });

  it('an Anthropic Messages request has its receipt too', async () => {
    const { userId, key } = await t.newUser('10');
    const claude = new Anthropic({ apiKey: key, baseURL: t.url, maxRetries: 0 });
    const { response } = await claude.messages.create({ model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: '#reply:Hi' }] }).withResponse();
    const id = response.headers.get('x-switchyard-request-id') ?? '';
    const g = await receipt(t.client(key), id);
    expect(g).toMatchObject({ status: 'ok', endpoint: 'messages', model: 'gpt-4o-mini', tokens_completion: 1 });
    await expectReconciles(userId, id, g.ledger);
  });

  it('a request still running shows its hold, in progress', async () => {
    const { userId, key } = await t.newUser('10');
    const client = t.client(key);
    const pending = client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#delay:1500 #reply:later' }] }).withResponse();
    // The caller learns the id from the response headers; while it runs, the hold entry names it.
    let id: string | null = null;
    const until = Date.now() + 5_000;
    while (id === null && Date.now() < until) {
      const entries = (await t.admin('GET', `/users/${userId}/ledger`)).json.data as Array<{ kind: string; request_id: string | null }>;
      id = entries.find((e) => e.kind === 'hold')?.request_id ?? null;
      if (id === null) await new Promise((r) => setTimeout(r, 20));
    }
    if (id === null) throw new Error('no hold appeared');
    const running = await receipt(client, id);
    expect(running).toMatchObject({ id, status: 'in_progress', model: null, tokens: null, total_cost: '0', credits: { charged: '0', released: '0' } });
    expect(micro(running.credits.held)).toBeGreaterThan(0n);
    expect(running.ledger.map((l) => l.kind)).toEqual(['hold']);

    const { response } = await pending;
    expect(response.headers.get('x-switchyard-request-id')).toBe(id);
    const done = await receipt(client, id);
    expect(done).toMatchObject({ status: 'ok', credits: { held: running.credits.held } });
    expect(done.ledger.map((l) => l.kind)).toEqual(['hold', 'release', 'capture']);
  });

  it("another user's request is 404 exactly like an unknown id; a missing id is 400; no key is 401", async () => {
    const owner = await t.newUser('10');
    const other = await t.newUser('10');
    const { response } = await t.client(owner.key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const id = response.headers.get('x-switchyard-request-id') ?? '';
    expect((await receipt(t.client(owner.key), id)).id).toBe(id);

    const foreign = await receiptError(t.client(other.key), { id });
    expect(foreign.status).toBe(404);
    expect(foreign.error).toMatchObject({ type: 'not_found_error', code: 'not_found', param: 'id' });
    const unknown = await receiptError(t.client(other.key), { id: 'req_00000000000000000000000000000000' });
    expect(unknown.status).toBe(404);
    expect(JSON.stringify(unknown.error).replace('req_00000000000000000000000000000000', id)).toBe(JSON.stringify(foreign.error));

    const missing = await receiptError(t.client(owner.key), {});
    expect(missing.status).toBe(400);
    expect(missing.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param: 'id' });
    expect((await receiptError(t.client(owner.key), { id: '' })).status).toBe(400);

    const anonymous = await fetch(`${t.url}/v1/generation?id=${id}`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
  });
});
