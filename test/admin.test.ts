// The admin API's user search, roles, suspension, mandatory credit reasons and the audit log of every change.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

type Json = Record<string, unknown>;

describe('admin API: users, roles, audit', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t.close();
  });

  it('searches users by email substring, status and role, with pages', async () => {
    const tag = `srch${Date.now().toString(36)}`;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(String((await t.admin('POST', '/users', { email: `${tag}.${i}@Example.com` })).json.id));
    await t.admin('PATCH', `/users/${ids[1]}`, { status: 'suspended' });
    await t.admin('PATCH', `/users/${ids[2]}`, { role: 'admin' });

    const all = await t.admin('GET', `/users?email=${tag.toUpperCase()}`);
    expect((all.json.data as Json[]).map((u) => u.id).sort()).toEqual([...ids].sort());
    expect(all.json.has_more).toBe(false);
    expect((all.json.data as Json[])[0]).toMatchObject({ email: `${tag}.0@example.com`, status: 'active', role: 'user', balance_credits: '0' });

    const first = await t.admin('GET', `/users?email=${tag}&limit=3`);
    expect(first.json).toMatchObject({ has_more: true });
    const rest = await t.admin('GET', `/users?email=${tag}&limit=3&offset=3`);
    expect([...(first.json.data as Json[]), ...(rest.json.data as Json[])].map((u) => u.id).sort()).toEqual([...ids].sort());
    expect(rest.json.has_more).toBe(false);

    expect((await t.admin('GET', `/users?email=${tag}&status=suspended`)).json.data).toMatchObject([{ id: ids[1], status: 'suspended' }]);
    expect((await t.admin('GET', `/users?email=${tag}&role=admin`)).json.data).toMatchObject([{ id: ids[2], role: 'admin' }]);
    expect((await t.admin('GET', '/users?role=owner')).status).toBe(400);
    expect((await t.admin('PATCH', `/users/${ids[0]}`, {})).status).toBe(400);
    expect((await t.admin('PATCH', `/users/${ids[0]}`, { role: 'root' })).status).toBe(400);
  });

  it('suspending stops the user\'s keys at once (403), unsuspending restores them', async () => {
    const { userId, key } = await t.newUser('5');
    const call = () => fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect((await call()).status).toBe(200);
    expect((await t.admin('PATCH', `/users/${userId}`, { status: 'suspended' })).json).toMatchObject({ status: 'suspended' });
    const refused = await call();
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: Json }).error).toMatchObject({ code: 'account_suspended' });
    await t.admin('PATCH', `/users/${userId}`, { status: 'active' });
    expect((await call()).status).toBe(200);
  });

  it('shows an account\'s rate-limit overrides and effective limits; bad rate_limits are 400 naming the field, and change nothing', async () => {
    const { userId } = await t.newUser('1');
    // No config limits here: with no override every effective limit is null (none).
    expect((await t.admin('GET', `/users/${userId}`)).json).toMatchObject({
      rate_limits: { rpm: null, tpm: null, concurrency: null }, effective_rate_limits: { rpm: null, tpm: null, concurrency: null },
    });
    const cases: Array<[Json, string | null]> = [
      [{ rate_limits: { rpm: 0 } }, 'rate_limits.rpm'],
      [{ rate_limits: { tpm: 1.5 } }, 'rate_limits.tpm'],
      [{ rate_limits: { concurrency: 1_000_000_001 } }, 'rate_limits.concurrency'],
      [{ rate_limits: { rpm: '60' } }, 'rate_limits.rpm'],
      [{ rate_limits: { rps: 5 } }, 'rate_limits.rps'], // an unknown field is named itself
      [{ rate_limits: 60 }, 'rate_limits'],
      // Nothing is applied when one field is bad, not even the valid ones.
      [{ status: 'suspended', rate_limits: { rpm: 10, tpm: -1 } }, 'rate_limits.tpm'],
      [{ limits: { rpm: 1 } }, 'limits'],
    ];
    for (const [body, param] of cases) {
      const res = await t.admin('PATCH', `/users/${userId}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error, JSON.stringify(body)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param });
      expect(String((res.json.error as Json).message), JSON.stringify(body)).toMatch(/^Invalid value for '/);
    }
    expect((await t.admin('PATCH', '/users/usr_ghost', { rate_limits: { rpm: 1 } })).status).toBe(404);
    expect((await t.admin('GET', `/users/${userId}`)).json).toMatchObject({ status: 'active', rate_limits: { rpm: null, tpm: null, concurrency: null } });
    expect((await t.admin('GET', `/audit?target=${userId}&action=user.update`)).json.data).toEqual([]);

    // Absent fields stay; the list shows the overrides too.
    await t.admin('PATCH', `/users/${userId}`, { rate_limits: { rpm: 60, tpm: 100_000 } });
    const patched = await t.admin('PATCH', `/users/${userId}`, { rate_limits: { tpm: null, concurrency: 2 } });
    expect(patched.json).toMatchObject({ rate_limits: { rpm: 60, tpm: null, concurrency: 2 }, effective_rate_limits: { rpm: 60, tpm: null, concurrency: 2 } });
    const email = String((await t.admin('GET', `/users/${userId}`)).json.email);
    expect((await t.admin('GET', `/users?email=${encodeURIComponent(email)}`)).json.data).toMatchObject([{ id: userId, rate_limits: { rpm: 60, tpm: null, concurrency: 2 } }]);
  });

  it('a credit adjustment needs a reason, kept in the ledger', async () => {
    const { userId } = await t.newUser('0');
    for (const body of [{ credits: '5' }, { credits: '5', reason: '   ' }]) {
      const res = await t.admin('POST', `/users/${userId}/credits`, body);
      expect(res.status).toBe(400);
      expect((res.json.error as Json).param).toBe('reason');
    }
    expect((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits).toBe('0');
    expect((await t.admin('POST', `/users/${userId}/credits`, { credits: '5', reason: 'goodwill' })).json.balance_credits).toBe('5');
    const [entry] = (await t.admin('GET', `/users/${userId}/ledger`)).json.data as Json[];
    expect(entry).toMatchObject({ kind: 'grant', amount_credits: '5', actor: 'admin-token', reason: 'goodwill' });
  });

  it('every change is in the audit log (actor, action, target, details, ip, outcome), refused ones too, never a key', async () => {
    const created = await t.admin('POST', '/users', { email: `audited-${Date.now()}@example.com` });
    const userId = String(created.json.id);
    await t.admin('POST', `/users/${userId}/credits`, { credits: '2.5', reason: 'trial' });
    const key = await t.admin('POST', `/users/${userId}/keys`, { name: 'ci', rate_limits: { rpm: 10 } });
    const keyId = String(key.json.id);
    await t.admin('PATCH', `/keys/${keyId}`, { spend_caps: { daily_credits: '1' } });
    await t.admin('PATCH', `/users/${userId}`, { status: 'suspended', role: 'admin' });
    await t.admin('DELETE', `/keys/${keyId}`);
    await t.admin('DELETE', `/keys/${keyId}`); // already revoked: nothing changes, recorded as 'unchanged'
    // Refused changes are recorded too, as 'failed' with their status: a bad body, a balance taken below zero.
    expect((await t.admin('PATCH', `/users/${userId}`, { status: 'deleted' })).status).toBe(400);
    expect((await t.admin('POST', `/users/${userId}/credits`, { credits: '-100', reason: 'too much' })).status).toBe(400);

    const forUser = (await t.admin('GET', `/audit?target=${userId}`)).json.data as Json[];
    const refused = forUser.slice(0, 2);
    expect(refused.map((e) => [e.action, e.outcome, e.http_status, e.details])).toEqual([
      ['POST /admin/v1/users/:id/credits', 'failed', 400, null],
      ['PATCH /admin/v1/users/:id', 'failed', 400, null],
    ]);
    forUser.splice(0, 2);
    expect(forUser.map((e) => e.action)).toEqual(['user.update', 'credits.adjust', 'user.create']);
    expect(forUser.every((e) => e.outcome === 'ok')).toBe(true);
    expect(forUser[0]).toMatchObject({
      actor: 'admin-token', target: userId, ip: '127.0.0.1',
      details: { status: { from: 'active', to: 'suspended' }, role: { from: 'user', to: 'admin' } },
    });
    expect(forUser[1]?.details).toEqual({ kind: 'grant', credits: '2.5', reason: 'trial', balance_credits: '2.5' });
    expect(forUser[2]?.details).toEqual({ email: created.json.email });

    const forKey = (await t.admin('GET', `/audit?target=${keyId}`)).json.data as Json[];
    expect(forKey.map((e) => [e.action, e.outcome])).toEqual([
      ['DELETE /admin/v1/keys/:id', 'unchanged'], ['key.revoke', 'ok'], ['key.update', 'ok'], ['key.create', 'ok'],
    ]);
    forKey.shift();
    expect(forKey[1]?.details).toEqual({ spend_caps: { daily_credits: '1', monthly_credits: null, total_credits: null } });
    expect(forKey[2]?.details).toMatchObject({ user_id: userId, name: 'ci', rate_limits: { rpm: 10, tpm: null, concurrency: null } });
    const everything = JSON.stringify((await t.admin('GET', '/audit?limit=1000')).json);
    expect(everything).not.toContain(String(key.json.key));

    const page1 = await t.admin('GET', '/audit?limit=2&action=user.create');
    expect(page1.json.has_more).toBe(true);
    const last = (page1.json.data as Json[]).at(-1);
    const page2 = await t.admin('GET', `/audit?limit=2&action=user.create&before=${String(last?.id)}`);
    expect((page2.json.data as Json[]).every((e) => Number(e.id) < Number(last?.id) && e.action === 'user.create')).toBe(true);
    expect((await t.admin('GET', '/audit?before=abc')).status).toBe(400);
  });

  it('the audit entry is written before the change: when it cannot be written, nothing changes', async () => {
    const { userId } = await t.newUser('1');
    // Another connection to the gateway's SQLite file makes every audit insert fail, as a broken table would.
    const db = new Database(join(t.dataDir, 'switchyard.db'));
    db.exec(`CREATE TRIGGER audit_down BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END`);
    try {
      expect((await t.admin('POST', `/users/${userId}/credits`, { credits: '5', reason: 'should not land' })).status).toBe(500);
      expect((await t.admin('PATCH', `/users/${userId}`, { status: 'suspended' })).status).toBe(500);
    } finally {
      db.exec('DROP TRIGGER audit_down');
      db.close();
    }
    const user = (await t.admin('GET', `/users/${userId}`)).json;
    expect(user).toMatchObject({ status: 'active', balance_credits: '1' });
    const ledger = (await t.admin('GET', `/users/${userId}/ledger`)).json.data as Json[];
    expect(ledger.map((e) => e.kind)).toEqual(['grant']);
  });

  it('a user with the admin role may use the admin API with their own API key, audited as that user', async () => {
    const { userId, key, keyId } = await t.newUser('1');
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> => {
      const res = await fetch(`${t.url}/admin/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, json: (await res.json()) as Json };
    };
    // An ordinary user's key: 403, nothing changes.
    const refused = await call('GET', '/users?limit=1');
    expect([refused.status, (refused.json.error as Json).code]).toEqual([403, 'permission_denied']);
    expect((await call('GET', '/users', undefined)).status).toBe(403);

    await t.admin('PATCH', `/users/${userId}`, { role: 'admin' });
    const other = await t.admin('POST', '/users', { email: `managed-${Date.now()}@example.com` });
    const granted = await call('POST', `/users/${String(other.json.id)}/credits`, { credits: '3', reason: 'welcome' });
    expect(granted.status).toBe(200);
    const [entry] = (await t.admin('GET', `/audit?target=${String(other.json.id)}&action=credits.adjust`)).json.data as Json[];
    expect(entry).toMatchObject({ actor: `user:${userId}` });
    const [ledgerLine] = (await t.admin('GET', `/users/${String(other.json.id)}/ledger`)).json.data as Json[];
    expect(ledgerLine).toMatchObject({ kind: 'grant', actor: `user:${userId}`, reason: 'welcome' });

    // A revoked key of an admin is refused like on /v1.
    await t.admin('DELETE', `/keys/${keyId}`);
    expect((await call('GET', '/users?limit=1')).status).toBe(401);
  });
});
