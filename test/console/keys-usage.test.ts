// The console's API keys (create, list with spend, rotate with overlap, revoke) used by the official OpenAI SDK
// against the gateway, and the usage, balance, ledger and notification views of the same account.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { consoleUser } from '../helpers/console.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

async function works(key: string): Promise<boolean> {
  try {
    await t.client(key).models.list();
    return true;
  } catch (error) {
    if (error instanceof OpenAI.AuthenticationError) return false;
    throw error;
  }
}

describe('API keys from the console', () => {
  it('creates a key shown once, limited to models and with an expiry; lists it without the secret', async () => {
    const { c } = await consoleUser(t);
    const expires = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const created = await c.post('/keys', { name: 'ci', allowed_models: ['gpt-4o-mini'], expires_at: expires });
    expect(created.status).toBe(201);
    const key = String(created.json.key);
    expect(created.json).toMatchObject({ name: 'ci', allowed_models: ['gpt-4o-mini'], expires_at: expires, revoked_at: null, spend_credits: '0' });
    expect(key.startsWith(String(created.json.prefix))).toBe(true);

    const models = await t.client(key).models.list();
    expect(models.data.map((m) => m.id)).toEqual(['gpt-4o-mini']);

    const list = await c.get('/keys');
    expect(list.json.data).toEqual([expect.objectContaining({ id: created.json.id, name: 'ci', prefix: created.json.prefix })]);
    expect(JSON.stringify(list.json)).not.toContain(key);

    const unknownModel = await c.post('/keys', { name: 'x', allowed_models: ['no-such-model'] });
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.json.error).toMatchObject({ param: 'allowed_models[0]' });
    const past = await c.post('/keys', { name: 'x', expires_at: '2020-01-01T00:00:00.000Z' });
    expect([past.status, (past.json.error as { param: string }).param]).toEqual([400, 'expires_at']);
  });

  it('rotates a key: the new one works now, the old one until the overlap ends (0: at once)', async () => {
    const { c } = await consoleUser(t);
    const first = await c.post('/keys', { name: 'deploy', allowed_models: ['gpt-4o-mini'] });
    const oldKey = String(first.json.key);
    expect(await works(oldKey)).toBe(true);

    const rotated = await c.post(`/keys/${String(first.json.id)}/rotate`);
    expect(rotated.status).toBe(201);
    const newKey = String(rotated.json.key);
    expect(rotated.json).toMatchObject({ name: 'deploy', allowed_models: ['gpt-4o-mini'] });
    const replaces = rotated.json.replaces as { id: string; expires_at: string };
    expect(replaces.id).toBe(first.json.id);
    const overlap = Date.parse(replaces.expires_at) - Date.now();
    expect(overlap).toBeGreaterThan(23 * 3_600_000);
    expect(overlap).toBeLessThanOrEqual(24 * 3_600_000);
    expect(await works(newKey)).toBe(true);
    expect(await works(oldKey)).toBe(true); // inside the overlap

    const again = await c.post(`/keys/${String(rotated.json.id)}/rotate`, { overlap_seconds: 0 });
    expect(again.status).toBe(201);
    expect(await works(newKey)).toBe(false); // no overlap: dead at once (the auth cache was evicted)
    expect(await works(String(again.json.key))).toBe(true);
    const error = await t.client(newKey).models.list().catch((e: unknown) => e);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).message).toContain('expired');

    const keys = (await c.get('/keys')).json.data as Array<{ id: string; expires_at: string | null }>;
    expect(keys).toHaveLength(3);
  });

  it('creates a key with spend caps and rate limits, enforced on /v1, and rotation keeps them', async () => {
    const { c, userId } = await consoleUser(t);
    await t.admin('POST', `/users/${userId}/credits`, { credits: '10', reason: 'test' });
    const created = await c.post('/keys', {
      name: 'capped', spend_caps: { daily_credits: '0' }, rate_limits: { rpm: 50, tpm: null, concurrency: 2 },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      spend_caps: { daily_credits: '0', monthly_credits: null, total_credits: null },
      rate_limits: { rpm: 50, tpm: null, concurrency: 2 },
    });
    // A daily cap of 0 credits: the key may call nothing that costs, refused before anything is held.
    const refused = await t.client(String(created.json.key)).chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })
      .then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('spend_limit_exceeded');

    const rotated = await c.post(`/keys/${String(created.json.id)}/rotate`, { overlap_seconds: 0 });
    expect(rotated.json).toMatchObject({ spend_caps: { daily_credits: '0' }, rate_limits: { rpm: 50, concurrency: 2 } });

    const bad = await c.post('/keys', { name: 'x', spend_caps: { daily_credits: '-1' } });
    expect([bad.status, (bad.json.error as { param: string }).param]).toEqual([400, 'spend_caps.daily_credits']);
  });

  it('revokes a key at once and refuses to rotate a revoked key', async () => {
    const { c } = await consoleUser(t);
    const created = await c.post('/keys', { name: 'gone' });
    const key = String(created.json.key);
    expect(await works(key)).toBe(true);
    const revoked = await c.del(`/keys/${String(created.json.id)}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json.revoked_at).not.toBeNull();
    expect(await works(key)).toBe(false);
    const rotate = await c.post(`/keys/${String(created.json.id)}/rotate`);
    expect([rotate.status, (rotate.json.error as { code: string }).code]).toEqual([409, 'conflict']);
    expect((await c.del('/keys/key_doesnotexist')).status).toBe(404);
  });
});

describe('usage, balance, ledger and notifications', () => {
  it('shows each request\'s metadata, pages it by cursor, totals it per day × model × key, and the spend per key', async () => {
    const { c, userId } = await consoleUser(t);
    await t.admin('POST', `/users/${userId}/credits`, { credits: '100', reason: 'test credits' });
    const a = await c.post('/keys', { name: 'a' });
    const b = await c.post('/keys', { name: 'b' });
    const clientA = t.client(String(a.json.key));
    const clientB = t.client(String(b.json.key));
    for (let i = 0; i < 3; i++) await clientA.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 });
    await clientB.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });

    const seen: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    do {
      const page = await c.get(`/usage?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...(page.json.data as Array<Record<string, unknown>>));
      cursor = page.json.next_cursor as string | null;
    } while (cursor);
    expect(seen).toHaveLength(4);
    expect(new Set(seen.map((e) => e.request_id)).size).toBe(4);
    expect(seen[0]).toMatchObject({ key_id: b.json.id, model: 'text-embedding-3-small', status: 'ok', http_status: 200 });
    expect(seen[0]).not.toHaveProperty('channel');
    expect(seen[0]).not.toHaveProperty('user_id');
    const onlyA = await c.get(`/usage?key_id=${String(a.json.id)}`);
    expect((onlyA.json.data as unknown[]).length).toBe(3);

    const summary = await c.get('/usage/summary');
    const rows = summary.json.data as Array<{ date: string; model: string; key_id: string; requests: number; cost_credits: string }>;
    const today = new Date().toISOString().slice(0, 10);
    expect(rows).toEqual(expect.arrayContaining([
      expect.objectContaining({ date: today, model: 'gpt-4o-mini', key_id: a.json.id, requests: 3 }),
      expect.objectContaining({ date: today, model: 'text-embedding-3-small', key_id: b.json.id, requests: 1 }),
    ]));
    const keys = (await c.get('/keys')).json.data as Array<{ id: string; spend_credits: string }>;
    const spendA = keys.find((k) => k.id === a.json.id)?.spend_credits;
    expect(spendA).toBe(rows.find((r) => r.key_id === a.json.id)?.cost_credits);
    expect(Number(spendA)).toBeGreaterThan(0);

    const badRange = await c.get('/usage/summary?from=2025-02-01&to=2025-01-01');
    expect([badRange.status, (badRange.json.error as { param: string }).param]).toEqual([400, 'from']);
    const badCursor = await c.get('/usage?cursor=bm9wZQ');
    expect([badCursor.status, (badCursor.json.error as { param: string }).param]).toEqual([400, 'cursor']);
  });

  it('shows the balance and a paginated ledger whose entries add up to it', async () => {
    const { c, userId } = await consoleUser(t);
    await t.admin('POST', `/users/${userId}/credits`, { credits: '10', reason: 'welcome' });
    const key = String((await c.post('/keys', { name: 'k' })).json.key);
    await t.client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 });
    const balance = (await c.get('/balance')).json.balance_credits as string;
    const entries: Array<{ amount_credits: string; kind: string }> = [];
    let cursor: string | null = null;
    do {
      const page = await c.get(`/ledger?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      entries.push(...(page.json.data as Array<{ amount_credits: string; kind: string }>));
      cursor = page.json.next_cursor as string | null;
    } while (cursor);
    expect(entries.map((e) => e.kind).sort()).toEqual(['capture', 'grant', 'hold', 'release']);
    const micro = (s: string): bigint => {
      const [whole = '0', frac = ''] = s.replace('-', '').split('.');
      const v = BigInt(whole) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
      return s.startsWith('-') ? -v : v;
    };
    expect(entries.reduce((sum, e) => sum + micro(e.amount_credits), 0n)).toBe(micro(balance));
    expect(micro(balance)).toBeLessThan(10_000_000n);
  });

  it('lists notifications and marks one read', async () => {
    const { c, userId } = await consoleUser(t);
    await t.gateway.deps.store.notifications.create([
      { userId, kind: 'price_change', subject: 'gpt-4o-mini gets cheaper', body: 'From next month.', data: { model: 'gpt-4o-mini' } },
      { userId, kind: 'account', subject: 'Welcome', body: 'Hello.' },
    ]);
    const list = await c.get('/notifications');
    const items = list.json.data as Array<{ id: string; subject: string; read_at: string | null; data: unknown }>;
    expect(items.map((n) => n.subject).sort()).toEqual(['Welcome', 'gpt-4o-mini gets cheaper']);
    const first = items.find((n) => n.subject === 'Welcome');
    const read = await c.post(`/notifications/${first?.id ?? ''}/read`);
    expect(read.json).toEqual({ id: first?.id, read: true });
    const unread = (await c.get('/notifications?unread=true')).json.data as Array<{ subject: string }>;
    expect(unread.map((n) => n.subject)).toEqual(['gpt-4o-mini gets cheaper']);
    expect((await c.post('/notifications/ntf_nope/read')).status).toBe(404);
  });
});
