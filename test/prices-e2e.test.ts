// Price versions end to end: the admin API schedules (14 days ahead, or forced with a reason) and cancels,
// the model's recent users are notified, /v1/models shows current and upcoming prices, a change takes effect at
// its effective_from without a restart, every charge recomputes from the version it recorded, and a restart
// with an edited, unscheduled price refuses to start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeCharge } from '../src/billing/recompute.ts';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { parseCredits } from '../src/domain/money.ts';
import { createGateway } from '../src/gateway.ts';
import { createLogger } from '../src/observability/logger.ts';
import { ADMIN_TOKEN, defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';

const DAY = 24 * 60 * 60 * 1000;
const THINKER = `
  - id: thinker
    channels: [{ provider: main-openai }]
    price: { input_per_mtok_usd: 1, output_per_mtok_usd: 2, reasoning_per_mtok_usd: 5, request_usd: 0.001 }
`;

interface ModelView {
  id: string;
  pricing: Record<string, unknown> & { version: number; effective_from: string };
  upcoming_pricing: Array<Record<string, unknown> & { version: number; effective_from: string }>;
}

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ yaml: (url) => defaultYaml(url, '', THINKER) });
});
afterAll(async () => {
  await t?.close();
});

async function models(key: string): Promise<Map<string, ModelView>> {
  const list = await t.client(key).models.list();
  return new Map(list.data.map((m) => [m.id, m as unknown as ModelView]));
}

/** One chat request; its usage event (tokens, cost, price version) as the store keeps it. */
async function chat(key: string, model: string, content = '#reply:Hello there'): Promise<{ requestId: string; charged: string }> {
  const { response } = await t.client(key).chat.completions.create({ model, messages: [{ role: 'user', content }], max_tokens: 100 }).withResponse();
  return { requestId: response.headers.get('x-switchyard-request-id') ?? '', charged: response.headers.get('x-switchyard-credits-charged') ?? '' };
}

async function event(requestId: string) {
  const e = await t.gateway.deps.store.usage.get(requestId);
  if (!e) throw new Error(`no usage event for ${requestId}`);
  return e;
}

describe('GET /v1/models', () => {
  it('shows the current price with its version and start, and the upcoming ones; the SDK parses it', async () => {
    const { key } = await t.newUser('1');
    const thinker = (await models(key)).get('thinker');
    expect(thinker?.pricing).toEqual({
      unit: 'credits_per_million_tokens', input: '1000', cached_input: '1000', cache_write: '1000', output: '2000', reasoning: '5000',
      request: '1', version: expect.any(Number), effective_from: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
    });
    expect(thinker?.upcoming_pricing).toEqual([]);
    const one = (await t.client(key).models.retrieve('thinker')) as unknown as ModelView;
    expect(one.pricing.version).toBe(thinker?.pricing.version);
  });

  it('bills reasoning tokens at their own rate and the request fee once', async () => {
    const { key } = await t.newUser('10');
    const { requestId, charged } = await chat(key, 'thinker', '#reasoning:40 #reply:Hi');
    const e = await event(requestId);
    expect(e.reasoningTokens).toBe(40);
    // credits: input 1000/Mtok, visible output 2000/Mtok, reasoning 5000/Mtok, 1 a request.
    const micro = BigInt(e.inputTokens) * 1_000n + BigInt(e.outputTokens - 40) * 2_000n + 40n * 5_000n + 1_000_000n;
    expect(parseCredits(charged)).toBe(micro);
    expect(e.cost).toBe(micro);
  });
});

describe('POST /admin/v1/models/{id}/prices', () => {
  const body = { input_per_mtok_usd: 0.2, output_per_mtok_usd: 0.8 };

  it('refuses a change with less than 14 days’ notice unless forced with a reason, and any date in the past', async () => {
    const soon = new Date(Date.now() + 13 * DAY).toISOString();
    const early = await t.admin('POST', '/models/gpt-4o-mini/prices', { ...body, effective_from: soon });
    expect(early.status).toBe(400);
    expect(early.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param: 'effective_from' });
    expect(String((early.json.error as { message: string }).message)).toMatch(/at least 14 days ahead .*"force": true and a "reason"/);

    const unexplained = await t.admin('POST', '/models/gpt-4o-mini/prices', { ...body, effective_from: soon, force: true });
    expect(unexplained.status).toBe(400);
    expect(unexplained.json.error).toMatchObject({ param: 'reason' });

    const past = await t.admin('POST', '/models/gpt-4o-mini/prices', { ...body, effective_from: '2020-01-01', force: true, reason: 'oops' });
    expect(past.status).toBe(400);
    expect(String((past.json.error as { message: string }).message)).toMatch(/never changes retroactively/);

    const badPrice = await t.admin('POST', '/models/gpt-4o-mini/prices', { input_per_mtok_usd: 'cheap', output_per_mtok_usd: 1, effective_from: '2099-01-01' });
    expect(badPrice.status).toBe(400);
    expect(badPrice.json.error).toMatchObject({ param: 'input_per_mtok_usd' });
    const noOutput = await t.admin('POST', '/models/gpt-4o-mini/prices', { input_per_mtok_usd: 1, effective_from: '2099-01-01' });
    expect(noOutput.json.error).toMatchObject({ param: 'output_per_mtok_usd' });
    const badDate = await t.admin('POST', '/models/gpt-4o-mini/prices', { ...body, effective_from: 'next tuesday' });
    expect(badDate.json.error).toMatchObject({ param: 'effective_from' });
    expect((await t.admin('POST', '/models/nope/prices', { ...body, effective_from: '2099-01-01' })).status).toBe(404);

    // Nothing was scheduled by any of them.
    const listed = await t.admin('GET', '/models/gpt-4o-mini/prices');
    expect((listed.json.data as unknown[]).length).toBe(1);
  });

  it('schedules 14+ days ahead, notifies the model’s recent users once, and can be cancelled before it starts', async () => {
    const user = await t.newUser('10');
    const bystander = await t.newUser('10');
    await chat(user.key, 'renamed-model');
    await chat(bystander.key, 'gpt-4o-mini');
    const when = new Date(Date.now() + 15 * DAY).toISOString();
    const res = await t.admin('POST', '/models/renamed-model/prices', { input_per_mtok_usd: 3, output_per_mtok_usd: 12, effective_from: when, reason: 'upstream price' });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      object: 'model.price', model: 'renamed-model', status: 'scheduled', effective_from: when, source: 'admin', actor: 'admin-token', reason: 'upstream price',
      pricing: { input: '3000', output: '12000', cached_input: '3000' }, price_usd: { input_per_mtok_usd: '3', output_per_mtok_usd: '12' },
      announced_at: expect.any(String), notified_users: 1,
    });
    const version = Number(res.json.version);

    const store = t.gateway.deps.store;
    const [note] = await store.notifications.list(user.userId, { limit: 5 });
    expect(note).toMatchObject({
      kind: 'price_change',
      data: { model: 'renamed-model', version, effective_from: when, old: { input: '2500', cached_input: '1250', output: '10000' }, new: { input: '3000', output: '12000' } },
    });
    expect(note?.body).toContain('input 2500 → 3000 credits per million tokens');
    expect(await store.notifications.list(bystander.userId, { limit: 5 })).toEqual([]);

    const listed = (await models(user.key)).get('renamed-model');
    expect(listed?.upcoming_pricing).toEqual([expect.objectContaining({ version, effective_from: when, input: '3000', output: '12000' })]);
    const history = await t.admin('GET', '/models/renamed-model/prices');
    expect((history.json.data as Array<{ status: string }>).map((v) => v.status)).toEqual(['current', 'scheduled']);

    const cancelled = await t.admin('DELETE', `/models/renamed-model/prices/${version}`, { reason: 'upstream kept its price' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json).toMatchObject({ status: 'cancelled', cancelled_by: 'admin-token', cancel_reason: 'upstream kept its price', notified_users: 1 });
    expect((await store.notifications.list(user.userId, { limit: 5 }))[0]).toMatchObject({ kind: 'price_change_cancelled', data: { version } });
    expect((await models(user.key)).get('renamed-model')?.upcoming_pricing).toEqual([]);

    expect((await t.admin('DELETE', `/models/renamed-model/prices/${version}`)).status).toBe(409);
    const current = listed?.pricing.version;
    const live = await t.admin('DELETE', `/models/renamed-model/prices/${current}`);
    expect(live.status).toBe(409);
    expect(String((live.json.error as { message: string }).message)).toMatch(/has already taken effect/);
    expect((await t.admin('DELETE', '/models/renamed-model/prices/999999')).status).toBe(404);
  });

  it('a forced change takes effect at its effective_from without a restart; each charge recomputes from its version', async () => {
    const { key } = await t.newUser('10');
    const before = await chat(key, 'gpt-4o-mini');
    const effectiveFrom = Date.now() + 1_500;
    const res = await t.admin('POST', '/models/gpt-4o-mini/prices', {
      ...body, effective_from: new Date(effectiveFrom).toISOString(), force: true, reason: 'test: a short notice',
    });
    expect(res.status).toBe(201);
    const version = Number(res.json.version);
    const models1 = (await models(key)).get('gpt-4o-mini');
    expect(models1?.upcoming_pricing.map((p) => p.version)).toEqual([version]);
    const old = models1?.pricing.version;

    await sleep(Math.max(0, effectiveFrom - Date.now()) + 50);
    const after = await chat(key, 'gpt-4o-mini');
    const models2 = (await models(key)).get('gpt-4o-mini');
    expect(models2?.pricing).toMatchObject({ version, input: '200', output: '800', effective_from: new Date(effectiveFrom).toISOString() });
    expect(models2?.upcoming_pricing).toEqual([]);

    const store = t.gateway.deps.store;
    const [e1, e2] = [await event(before.requestId), await event(after.requestId)];
    expect(e1.priceVersion).toBe(old);
    expect(e2.priceVersion).toBe(version);
    // Same tokens, new rates: 0.2 / 0.8 USD per Mtok = 200 / 800 credits.
    expect(e2.cost).toBe(BigInt(e2.inputTokens) * 200n + BigInt(e2.outputTokens) * 800n);
    for (const e of [e1, e2]) {
      const price = await store.prices.get(e.priceVersion ?? -1);
      if (!price) throw new Error(`no price version ${String(e.priceVersion)}`);
      expect(recomputeCharge(e, price)).toBe(e.cost);
    }
    expect(e1.cost).not.toBe(e2.cost);
  });
});

describe('restarting with an edited price', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-restart-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = { SWITCHYARD_DATA_DIR: dir, SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN };
  const yaml = (price: string, changes = '') => `
providers: [{ id: p, type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }]
models:
  - id: m
    channels: [{ provider: p }]
    price: ${price}
${changes}`;
  const start = (text: string) => createGateway(loadConfig({ env, cwd: dir, yamlText: text }), { logger: createLogger('silent') });

  it('refuses to start until the change is scheduled, then serves the old price and lists the new one as upcoming', async () => {
    await (await start(yaml('{ input_per_mtok_usd: 1, output_per_mtok_usd: 2 }'))).close();
    const edited = start(yaml('{ input_per_mtok_usd: 1, output_per_mtok_usd: 3 }'));
    await expect(edited).rejects.toBeInstanceOf(ConfigError);
    await expect(edited).rejects.toThrow(/models\[0\]\.price: differs from the current price of m .*output_per_mtok_usd 2 → 3/);

    const when = new Date(Date.now() + 20 * DAY).toISOString().slice(0, 10);
    const gateway = await start(yaml('{ input_per_mtok_usd: 1, output_per_mtok_usd: 2 }', `    price_changes: [{ effective_from: "${when}", input_per_mtok_usd: 1, output_per_mtok_usd: 3 }]`));
    try {
      expect(gateway.deps.catalogue.get('m')?.price.outputPerMtok).toBe(2_000_000_000n);
      expect(gateway.deps.catalogue.upcoming('m')).toEqual([expect.objectContaining({ outputPerMtok: 3_000_000_000n, effectiveFrom: new Date(`${when}T00:00:00Z`) })]);
    } finally {
      await gateway.close();
    }
  });
});
