// Money bounded at the edge and every query parameter validated (issue 11, finding 3 and part of 8): out-of-range
// amounts, caps and prices are a 400 naming the field (never a 500, never a partial commit), two grants whose sum
// would pass int64 leave the account usable and the ledger consistent (SQLite, and PostgreSQL with
// SWITCHYARD_TEST_PG=1), and garbage in any query string of the admin, console and v1 routes is a 400 naming it.
import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { consoleUser, type ConsoleClient } from './helpers/console.ts';
import { defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { pgEnabled } from './helpers/stores.ts';
import { parseCredits } from '../src/domain/money.ts';

const backends: Array<'sqlite' | 'postgres'> = ['sqlite', ...(pgEnabled() ? ['postgres' as const] : [])];
const FAR = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);

interface ErrorBody { error: { code: string; type: string; param: string | null; message: string } }
const errorOf = (json: Record<string, unknown>): ErrorBody['error'] => (json as unknown as ErrorBody).error;

async function chat(t: TestGateway, key: string): Promise<number> {
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Σ of the user's ledger as the admin API lists it must equal the balance it shows. */
async function expectLedgerMatchesBalance(t: TestGateway, userId: string): Promise<string> {
  const balance = String((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits);
  const entries = (await t.admin('GET', `/users/${userId}/ledger?limit=1000`)).json.data as Array<{ amount_credits: string }>;
  const sum = entries.reduce((acc, e) => acc + (parseCredits(e.amount_credits) ?? 0n), 0n);
  expect(sum).toBe(parseCredits(balance));
  return balance;
}

function expect400(res: { status: number; json: Record<string, unknown> }, param: string | null, what: string): void {
  expect([res.status, errorOf(res.json)?.code, errorOf(res.json)?.param], what).toEqual([400, 'invalid_request', param]);
}

describe.each(backends)('money at the edge on %s', (backend) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ backend });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('two grants whose sum would pass the limit: the second is a 400, the account and the ledger stay sound', async () => {
    const { userId, key } = await t.newUser('1');
    const first = await t.admin('POST', `/users/${userId}/credits`, { credits: '600000000000', reason: 'big' });
    expect(first).toMatchObject({ status: 200, json: { balance_credits: '600000000001' } });
    const second = await t.admin('POST', `/users/${userId}/credits`, { credits: '600000000000', reason: 'bigger' });
    expect400(second, 'credits', 'second grant');
    expect(errorOf(second.json).message).toMatch(/above the limit of 1000000000000 credits/);
    // Nothing was written, nothing broke: the key still works, the reconciliation is clean.
    expect(await expectLedgerMatchesBalance(t, userId)).toBe('600000000001');
    expect(await chat(t, key)).toBe(200);
    const verify = await t.admin('GET', '/ledger/verify');
    expect(verify.status).toBe(200);
    expect(verify.json).toMatchObject({ ok: true, users_with_drift: 0 });
    await expectLedgerMatchesBalance(t, userId);
  });

  it('an amount out of range or not a decimal is a 400 naming `credits`', async () => {
    const { userId } = await t.newUser('5');
    for (const credits of [1e30, '99999999999999999999', '1000000000000.000001', '-1000000000001', '12.1234567', '1e3', 0, '0', 'NaN', '9'.repeat(5000)]) {
      expect400(await t.admin('POST', `/users/${userId}/credits`, { credits, reason: 'x' }), 'credits', `credits ${String(credits).slice(0, 30)}`);
    }
    expect(await expectLedgerMatchesBalance(t, userId)).toBe('5');
  });

  it('spend caps out of range are a 400 naming the cap; the largest one is accepted', async () => {
    const { userId, keyId } = await t.newUser('5');
    expect400(await t.admin('POST', `/users/${userId}/keys`, { name: 'k', spend_caps: { daily_credits: '1000000000001' } }), 'spend_caps.daily_credits', 'create');
    expect400(await t.admin('PATCH', `/keys/${keyId}`, { spend_caps: { total_credits: 1e300 } }), 'spend_caps.total_credits', 'patch');
    expect400(await t.admin('PATCH', `/keys/${keyId}`, { spend_caps: { monthly_credits: '-1' } }), 'spend_caps.monthly_credits', 'negative');
    const max = await t.admin('PATCH', `/keys/${keyId}`, { spend_caps: { total_credits: '1000000000000' } });
    expect(max.status).toBe(200);
    expect(max.json).toMatchObject({ spend_caps: { total_credits: '1000000000000' } });
  });

  it('prices out of range are a 400 naming the field', async () => {
    const post = (fields: Record<string, unknown>) => t.admin('POST', '/models/gpt-4o-mini/prices', { effective_from: FAR, ...fields });
    expect400(await post({ input_per_mtok_usd: 10_000_000, output_per_mtok_usd: 1 }), 'input_per_mtok_usd', 'input');
    expect400(await post({ input_per_mtok_usd: 1, output_per_mtok_usd: '1000000.000000001' }), 'output_per_mtok_usd', 'output');
    expect400(await post({ input_per_mtok_usd: 1, output_per_mtok_usd: 1, request_usd: 1e300 }), 'request_usd', 'request');
    expect400(await post({ input_per_mtok_usd: 1, output_per_mtok_usd: 1, images: { '1024x1024': { standard: 5e6 } } }), 'images.1024x1024.standard', 'image');
    const ok = await post({ input_per_mtok_usd: '1000000', output_per_mtok_usd: 1 });
    expect(ok.status).toBe(201);
  });
});

describe('a database damaged before the bounds (SQLite)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /admin/v1/ledger/verify reports a REAL balance as drift with its invalid value, never a 500', async () => {
    const { userId } = await t.newUser('1');
    // What two grants past int64 did before the fix: SQLite's integer arithmetic overflowed into a REAL.
    const db = new BetterSqlite3(join(t.dataDir, 'switchyard.db'), { timeout: 5_000 });
    try {
      db.prepare('UPDATE users SET balance = balance + 9223372036854775807 WHERE id = ?').run(userId);
    } finally {
      db.close();
    }
    const verify = await t.admin('GET', '/ledger/verify?all=true');
    expect(verify.status).toBe(200);
    expect(verify.json).toMatchObject({ ok: false, users_with_drift: 1 });
    const row = (verify.json.data as Array<Record<string, unknown>>).find((r) => r.user_id === userId);
    expect(row).toMatchObject({ ok: false, ledger_sum_credits: '1', invalid_values: 1 });
  });
});

describe('prices in the config file', () => {
  it('refuse a price out of range, naming the field', () => {
    const yaml = defaultYaml('http://127.0.0.1:9').replace('price: { input_per_mtok_usd: 0.15', 'price: { input_per_mtok_usd: 2000000');
    expect(() => loadConfig({ env: { SWITCHYARD_ADMIN_TOKEN: 'x'.repeat(32), UPSTREAM_KEY: 'k' }, cwd: '/tmp', yamlText: yaml }))
      .toThrow(/models\[0\]\.price\.input_per_mtok_usd: must be between 0 and 1000000 USD/);
  });
});

describe('query parameters', () => {
  let t: TestGateway;
  let user: { userId: string; key: string; keyId: string };
  let c: ConsoleClient;
  beforeAll(async () => {
    t = await startTestGateway();
    user = await t.newUser('5');
    ({ c } = await consoleUser(t));
  });
  afterAll(async () => {
    await t?.close();
  });

  it('garbage in any admin query string is a 400 naming the parameter, never a 500', async () => {
    const u = user.userId;
    const cases: Array<[string, string]> = [
      [`/users/${u}/ledger?before=garbage`, 'before'],
      [`/users/${u}/ledger?before=99999999999999999999`, 'before'],
      [`/users/${u}/ledger?before=9223372036854775808`, 'before'],
      [`/users/${u}/ledger?before=-1`, 'before'],
      [`/users/${u}/ledger?limit=0`, 'limit'],
      [`/users/${u}/ledger?limit=abc`, 'limit'],
      [`/users/${u}/ledger?limit=1&limit=2`, 'limit'],
      [`/users/${u}/ledger?cursor=1`, 'cursor'],
      ['/users?limit=1001', 'limit'],
      ['/users?offset=-1', 'offset'],
      ['/users?offset=1.5', 'offset'],
      ['/users?status=deleted', 'status'],
      ['/users?role=root', 'role'],
      [`/users?email=${'a'.repeat(400)}`, 'email'],
      ['/users?sort=email', 'sort'],
      ['/audit?before=garbage', 'before'],
      ['/audit?before=99999999999999999999', 'before'],
      ['/audit?limit=x', 'limit'],
      ['/audit?actor=', 'actor'],
      ['/usage?limit=-5', 'limit'],
      ['/usage?user=', 'user'],
      ['/ledger/verify?limit=0', 'limit'],
      ['/ledger/verify?all=maybe', 'all'],
      ['/ledger/verify?after=' + 'x'.repeat(300), 'after'],
      // A route that reads no parameter accepts none.
      [`/users/${u}?expand=all`, 'expand'],
      [`/users/${u}/balance?x=1`, 'x'],
      ['/channels?x=1', 'x'],
      ['/models/gpt-4o-mini/prices?x=1', 'x'],
      [`/keys/${user.keyId}?x=1`, 'x'],
      [`/users/${u}/keys?x=1`, 'x'],
    ];
    for (const [path, param] of cases) expect400(await t.admin('GET', path), param, path);
    // Valid ones still work, and a cursor at the top of the id range is just an empty page.
    expect((await t.admin('GET', `/users/${u}/ledger?before=9223372036854775807&limit=5`)).status).toBe(200);
    expect((await t.admin('GET', '/audit?before=1&limit=5')).status).toBe(200);
    expect((await t.admin('GET', '/users?limit=5&offset=0&status=active')).status).toBe(200);
  });

  it('garbage in any console query string is a 400 naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      ['/ledger?cursor=garbage', 'cursor'],
      ['/ledger?cursor=99999999999999999999', 'cursor'],
      ['/ledger?cursor=9223372036854775808', 'cursor'],
      ['/ledger?limit=201', 'limit'],
      ['/usage?cursor=garbage', 'cursor'],
      ['/usage?from=yesterday', 'from'],
      ['/usage?to=2026-02-30', 'to'],
      ['/usage?limit=abc', 'limit'],
      ['/usage?key_id=' + 'k'.repeat(100), 'key_id'],
      ['/usage/summary?from=2026-13-01', 'from'],
      ['/usage/summary?from=2026-01-02&to=2026-01-01', 'from'],
      ['/notifications?unread=maybe', 'unread'],
      ['/balance?x=1', 'x'],
      ['/profile?x=1', 'x'],
      ['/keys?x=1', 'x'],
    ];
    for (const [path, param] of cases) expect400(await c.get(path), param, path);
    expect((await c.get('/ledger?cursor=9223372036854775807')).status).toBe(200);
  });

  it('console key spend caps out of range are a 400 naming the cap', async () => {
    const res = await c.post('/keys', { name: 'capped', spend_caps: { daily_credits: '1e20' } });
    expect400(res, 'spend_caps.daily_credits', 'console cap');
  });

  it('the v1 query parameter (GET /v1/generation?id=) is validated', async () => {
    const get = async (query: string) => {
      const res = await fetch(`${t.url}/v1/generation${query}`, { headers: { authorization: `Bearer ${user.key}` } });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    for (const query of ['', '?id=', '?id=a&id=b', `?id=${'x'.repeat(300)}`]) expect400(await get(query), 'id', query);
    expect((await get('?id=req_unknown')).status).toBe(404);
  });
});
