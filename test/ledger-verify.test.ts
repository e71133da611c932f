// GET /admin/v1/ledger/verify (issue 5, item 1): every balance against the sum of its ledger, every open hold
// against the hold entries without a release; totals; pages by user id; a tampered database is reported.
import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

interface Row {
  user_id: string;
  ok: boolean;
  balance_credits: string;
  ledger_sum_credits: string;
  drift_credits: string;
  open_holds: number;
  open_holds_credits: string;
  unreleased_hold_entries: number;
  unreleased_hold_credits: string;
}

interface Report {
  object: string;
  ok: boolean;
  checked_users: number;
  users_with_drift: number;
  users_with_hold_mismatch: number;
  totals: Record<string, string | number>;
  data: Row[];
  has_more: boolean;
  next_after: string | null;
}

async function verify(query = ''): Promise<Report> {
  const res = await t.admin('GET', `/ledger/verify${query}`);
  expect(res.status).toBe(200);
  return res.json as unknown as Report;
}

async function chat(key: string, prompt: string): Promise<number> {
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: prompt }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('GET /admin/v1/ledger/verify', () => {
  it('reports a consistent ledger with its totals, open holds of requests in flight included', async () => {
    const a = await t.newUser('10');
    const b = await t.newUser('5');
    expect(await chat(a.key, '#reply:one')).toBe(200);
    expect(await chat(b.key, '#status:503')).toBe(502);
    // A request in flight: its hold is open and its hold entry has no release yet, on both sides of the check.
    const inFlight = chat(a.key, '#delay:1500 #reply:later');
    const until = Date.now() + 5_000;
    while (t.mock.stats.inFlight === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));

    const report = await verify('?all=true');
    expect(report).toMatchObject({ object: 'ledger.verification', ok: true, users_with_drift: 0, users_with_hold_mismatch: 0, has_more: false, next_after: null });
    expect(report.checked_users).toBe(report.data.length);
    const rowA = report.data.find((r) => r.user_id === a.userId);
    expect(rowA).toMatchObject({ ok: true, drift_credits: '0', open_holds: 1, unreleased_hold_entries: 1 });
    expect(rowA?.balance_credits).toBe(rowA?.ledger_sum_credits);
    expect(rowA?.open_holds_credits).toBe(rowA?.unreleased_hold_credits);
    expect(report.data.find((r) => r.user_id === b.userId)).toMatchObject({ ok: true, balance_credits: '5', ledger_sum_credits: '5', open_holds: 0, unreleased_hold_entries: 0 });
    expect(report.totals.drift_credits).toBe('0');
    expect(report.totals.balance_credits).toBe(report.totals.ledger_sum_credits);
    expect(report.totals.open_holds).toBeGreaterThanOrEqual(1);
    // Without all=true only the users that disagree are listed.
    expect((await verify()).data).toEqual([]);
    expect(await inFlight).toBe(200);
    expect((await verify('?all=true')).data.find((r) => r.user_id === a.userId)).toMatchObject({ open_holds: 0, unreleased_hold_entries: 0 });
  });

  it('pages through the users by id', async () => {
    for (let i = 0; i < 3; i++) await t.newUser('1');
    const everyone = (await verify('?all=true&limit=10000')).data.map((r) => r.user_id);
    expect(everyone.length).toBeGreaterThanOrEqual(3);
    const paged: string[] = [];
    let after: string | null = null;
    do {
      const page: Report = await verify(`?all=true&limit=2${after ? `&after=${after}` : ''}`);
      expect(page.data.length).toBeLessThanOrEqual(2);
      paged.push(...page.data.map((r) => r.user_id));
      after = page.next_after;
      expect(page.has_more).toBe(after !== null);
    } while (after);
    expect(paged).toEqual(everyone);
  });

  it('finds a balance changed behind the ledger’s back and a hold marked settled without its release', async () => {
    const drifted = await t.newUser('10');
    const hung = await t.newUser('10');
    const inFlight = chat(hung.key, '#delay:2000 #reply:slow');
    const until = Date.now() + 5_000;
    while (t.mock.stats.inFlight === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const db = new BetterSqlite3(join(t.dataDir, 'switchyard.db'), { timeout: 5_000 });
    try {
      db.prepare('UPDATE users SET balance = balance + 1500000 WHERE id = ?').run(drifted.userId);
      db.prepare(`UPDATE holds SET status = 'settled' WHERE user_id = ? AND status = 'held'`).run(hung.userId);
    } finally {
      db.close();
    }
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.users_with_drift).toBe(1);
    expect(report.users_with_hold_mismatch).toBe(1);
    expect(report.totals.drift_credits).toBe('1.5');
    const rows = new Map(report.data.map((r) => [r.user_id, r]));
    expect(rows.get(drifted.userId)).toMatchObject({ ok: false, balance_credits: '11.5', ledger_sum_credits: '10', drift_credits: '1.5' });
    expect(rows.get(hung.userId)).toMatchObject({ ok: false, drift_credits: '0', open_holds: 0, unreleased_hold_entries: 1 });
    expect(await inFlight).toBe(200);
  });

  it('needs the admin token and a valid page size', async () => {
    const anonymous = await fetch(`${t.url}/admin/v1/ledger/verify`);
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${t.url}/admin/v1/ledger/verify`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } });
    expect(wrong.status).toBe(401);
    const bad = await t.admin('GET', '/ledger/verify?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'invalid_request', param: 'limit' });
  });
});

describe('POST /admin/v1/users/{id}/credits', () => {
  it('takes credits back only with a reason (an adjustment), recording it', async () => {
    const { userId } = await t.newUser('10');
    const refused = await t.admin('POST', `/users/${userId}/credits`, { credits: '-2' });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'invalid_request', param: 'reason' });
    const done = await t.admin('POST', `/users/${userId}/credits`, { credits: '-2', reason: 'refunded outside the gateway' });
    expect(done.json).toMatchObject({ balance_credits: '8' });
    const [latest] = (await t.admin('GET', `/users/${userId}/ledger`)).json.data as Array<Record<string, unknown>>;
    expect(latest).toMatchObject({ kind: 'adjustment', amount_credits: '-2', actor: 'admin-token', reason: 'refunded outside the gateway', payment_id: null });
  });
});
