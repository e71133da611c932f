// Tenant isolation: user A, signed in, tries every console route against user B's things (B's key ids,
// notification ids, address, password, ledger cursor…). Nothing of B may come back and nothing of B may
// change — B's whole console view is compared before and after each attempt. The routes are read from the
// running gateway, so a new route without a case here fails the first test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRoutesOf } from '../../src/http/routes/console/index.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { ConsoleClient, uniqueEmail } from '../helpers/console.ts';
import { pgEnabled } from '../helpers/stores.ts';

const A_PASSWORD = 'alice has a long password';
const B_PASSWORD = 'bob has another long one';

interface Party {
  c: ConsoleClient;
  email: string;
  userId: string;
  keyId: string;
  key: string;
  notificationId: string;
}

const backends: Array<'sqlite' | 'postgres'> = ['sqlite', ...(pgEnabled() ? (['postgres'] as const) : [])];

describe.each(backends)('tenant isolation on %s', (backend) => {
  let t: TestGateway;
  let a: Party;
  let b: Party;

  async function party(password: string, credits: string): Promise<Party> {
    const c = new ConsoleClient(t.url);
    const email = uniqueEmail();
    const res = await c.post('/auth/signup', { email, password });
    const userId = String((res.json.user as { id: string }).id);
    await t.gateway.deps.store.accounts.markEmailVerified(userId, new Date());
    await t.admin('POST', `/users/${userId}/credits`, { credits, reason: 'setup' });
    const created = await c.post('/keys', { name: `${email} key` });
    const key = String(created.json.key);
    await t.client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
    await t.gateway.deps.store.notifications.create([{ userId, kind: 'account', subject: `for ${userId}`, body: 'private' }]);
    const notificationId = String(((await c.get('/notifications')).json.data as Array<{ id: string }>)[0]?.id);
    return { c, email, userId, keyId: String(created.json.id), key, notificationId };
  }

  /** Everything B can see of B's account, minus what B's own use changes (last_used_at). */
  async function snapshotB(): Promise<unknown> {
    const parts = await Promise.all(['/profile', '/keys', '/balance', '/ledger', '/notifications', '/usage'].map((p) => b.c.get(p)));
    for (const p of parts) expect(p.status).toBe(200);
    return JSON.parse(JSON.stringify(parts.map((p) => p.json), (k, v: unknown) => (k === 'last_used_at' ? undefined : v)));
  }

  const bIdsIn = (body: unknown): string[] => [b.userId, b.email, b.keyId, b.key, b.notificationId].filter((id) => JSON.stringify(body).includes(id));

  beforeAll(async () => {
    t = await startTestGateway({ backend });
    a = await party(A_PASSWORD, '10');
    b = await party(B_PASSWORD, '20');
  });
  afterAll(async () => {
    await t?.close();
  });

  /** One case per route: A's attempt on B, with its own assertions; B's snapshot is checked after each. */
  const cases: Record<string, () => Promise<void>> = {
    'GET /console/v1/openapi.json': async () => {
      const res = await a.c.get('/openapi.json');
      expect(bIdsIn(res.json)).toEqual([]);
    },
    'GET /console/v1/auth/csrf': async () => {
      const res = await a.c.get('/auth/csrf');
      expect(bIdsIn(res.json)).toEqual([]);
    },
    'POST /console/v1/auth/signup': async () => {
      const res = await a.c.post('/auth/signup', { email: b.email, password: A_PASSWORD });
      expect(res.status).toBe(409);
      expect(bIdsIn(res.json)).toEqual([]);
    },
    'GET /console/v1/auth/verify-email': async () => {
      expect((await a.c.get(`/auth/verify-email?token=${b.keyId}`)).status).toBe(400);
    },
    'POST /console/v1/auth/verify-email': async () => {
      expect((await a.c.post('/auth/verify-email', { token: b.notificationId })).status).toBe(400);
    },
    'POST /console/v1/auth/verify-email/resend': async () => {
      expect((await a.c.post('/auth/verify-email/resend')).status).toBe(409); // A's own address, already verified
    },
    'POST /console/v1/auth/login': async () => {
      const res = await a.c.post('/auth/login', { email: b.email, password: A_PASSWORD });
      expect(res.status).toBe(401);
      expect((await a.c.get('/profile')).json.id).toBe(a.userId); // A's session survived the failed attempt
    },
    'POST /console/v1/auth/logout': async () => {
      expect((await a.c.post('/auth/logout')).status).toBe(204);
      expect((await a.c.post('/auth/login', { email: a.email, password: A_PASSWORD })).status).toBe(200);
    },
    'POST /console/v1/auth/password-reset': async () => {
      expect((await a.c.post('/auth/password-reset', { email: b.email })).status).toBe(202); // the link goes to B only
    },
    'GET /console/v1/auth/password-reset': async () => {
      expect((await a.c.get(`/auth/password-reset?token=${b.keyId}`)).status).toBe(400);
    },
    'POST /console/v1/auth/password-reset/confirm': async () => {
      expect((await a.c.post('/auth/password-reset/confirm', { token: b.userId, password: A_PASSWORD })).status).toBe(400);
    },
    'GET /console/v1/profile': async () => {
      const res = await a.c.get('/profile');
      expect(res.json).toMatchObject({ id: a.userId, email: a.email });
      expect(bIdsIn(res.json)).toEqual([]);
    },
    'POST /console/v1/profile/password': async () => {
      const res = await a.c.post('/profile/password', { current_password: B_PASSWORD, new_password: 'taking over bob' });
      expect(res.status).toBe(401);
    },
    'POST /console/v1/profile/close': async () => {
      expect((await a.c.post('/profile/close', { password: B_PASSWORD })).status).toBe(401);
    },
    'GET /console/v1/keys': async () => {
      const res = await a.c.get('/keys');
      expect((res.json.data as Array<{ id: string }>).map((k) => k.id)).toEqual([a.keyId]);
      expect(bIdsIn(res.json)).toEqual([]);
    },
    'POST /console/v1/keys': async () => {
      const res = await a.c.post('/keys', { name: 'a second key' });
      expect(res.status).toBe(201);
      expect((await a.c.get('/keys')).json.data).toHaveLength(2);
      await a.c.del(`/keys/${String(res.json.id)}`);
    },
    'POST /console/v1/keys/:id/rotate': async () => {
      const res = await a.c.post(`/keys/${b.keyId}/rotate`, { overlap_seconds: 0 });
      expect([res.status, (res.json.error as { code: string }).code]).toEqual([404, 'not_found']);
    },
    'DELETE /console/v1/keys/:id': async () => {
      const res = await a.c.del(`/keys/${b.keyId}`);
      expect([res.status, (res.json.error as { code: string }).code]).toEqual([404, 'not_found']);
      expect((await t.client(b.key).models.list()).data.length).toBeGreaterThan(0);
    },
    'GET /console/v1/usage': async () => {
      const mine = await a.c.get('/usage');
      expect((mine.json.data as unknown[]).length).toBe(1);
      expect(bIdsIn(mine.json)).toEqual([]);
      const theirs = await a.c.get(`/usage?key_id=${b.keyId}`);
      expect(theirs.json.data).toEqual([]);
    },
    'GET /console/v1/usage/summary': async () => {
      const res = await a.c.get('/usage/summary');
      expect((res.json.data as Array<{ key_id: string }>).map((r) => r.key_id)).toEqual([a.keyId]);
    },
    'GET /console/v1/balance': async () => {
      const res = await a.c.get('/balance');
      expect(Number(res.json.balance_credits)).toBeLessThan(10);
      expect(Number(res.json.balance_credits)).toBeGreaterThan(9);
    },
    'GET /console/v1/ledger': async () => {
      const bEntries = (await b.c.get('/ledger')).json.data as Array<{ id: string }>;
      const bIds = new Set(bEntries.map((e) => e.id));
      const highest = Math.max(...[...bIds].map(Number));
      for (const path of ['/ledger', `/ledger?cursor=${highest + 1}`]) {
        const res = await a.c.get(path);
        const ids = (res.json.data as Array<{ id: string }>).map((e) => e.id);
        expect(ids.length).toBeGreaterThan(0);
        expect(ids.filter((id) => bIds.has(id))).toEqual([]);
      }
    },
    'GET /console/v1/notifications': async () => {
      const res = await a.c.get('/notifications');
      expect((res.json.data as Array<{ id: string }>).map((n) => n.id)).toEqual([a.notificationId]);
    },
    'POST /console/v1/notifications/:id/read': async () => {
      const res = await a.c.post(`/notifications/${b.notificationId}/read`);
      expect([res.status, (res.json.error as { code: string }).code]).toEqual([404, 'not_found']);
    },
  };

  it('has a case for every console route the gateway registered', () => {
    const registered = consoleRoutesOf(t.gateway.app).map((r) => `${r.method} ${r.url}`);
    expect(registered.length).toBeGreaterThan(20);
    expect(Object.keys(cases).sort()).toEqual([...registered].sort());
  });

  it('lets A neither read nor change anything of B through any route', async () => {
    const before = await snapshotB();
    for (const route of consoleRoutesOf(t.gateway.app)) {
      const name = `${route.method} ${route.url}`;
      const attempt = cases[name];
      if (!attempt) throw new Error(`no case for ${name}`);
      await attempt();
      expect(await snapshotB(), `B changed after A's ${name}`).toEqual(before);
    }
    // And B can still sign in with B's password.
    expect((await new ConsoleClient(t.url).post('/auth/login', { email: b.email, password: B_PASSWORD })).status).toBe(200);
  });
});
