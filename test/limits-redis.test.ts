// The limit stores, one suite looped over memory and Redis (ARCHITECTURE §9), then what only Redis does: counts
// shared by two stores (two replicas), leases renewed by a live replica past their lease time, and
// auth evictions broadcast between two gateways (revoke / suspend on one → refused on the other within a second).
// Redis at 127.0.0.1:6379 with SWITCHYARD_TEST_REDIS=1 (npm run test:pg); keys under a unique prefix, deleted after.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Limiter, type LimitSubject } from '../src/limits/limiter.ts';
import { RedisLimitStore } from '../src/limits/redis.ts';
import { MemoryLimitStore, type LimitStore } from '../src/limits/store.ts';
import { createLogger } from '../src/observability/logger.ts';
import { logSink } from './helpers/logs.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const REDIS_URL = process.env.SWITCHYARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const enabled = process.env.SWITCHYARD_TEST_REDIS === '1';
const PREFIX = `sy-test-${randomBytes(5).toString('hex')}:`;

const logger = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));
const opened: LimitStore[] = [];

/** Cuts the connections whose name starts with `name` from the server side, as a network failure would. */
async function killClients(name: string): Promise<void> {
  const admin = new Redis(REDIS_URL);
  try {
    const lines = String(await admin.call('CLIENT', 'LIST')).split('\n').filter((l) => l.includes(`name=${name}`));
    if (lines.length === 0) throw new Error(`no Redis client named ${name}…`);
    for (const line of lines) {
      const id = /\bid=(\d+)/.exec(line)?.[1];
      if (id) await admin.call('CLIENT', 'KILL', 'ID', id);
    }
  } finally {
    await admin.quit();
  }
}

async function redisStore(options: { leaseMs?: number; logger?: ReturnType<typeof createLogger> } = {}): Promise<RedisLimitStore> {
  const store = new RedisLimitStore(REDIS_URL, { logger, prefix: PREFIX, ...options });
  await store.start();
  opened.push(store);
  return store;
}

const backends: Array<{ name: string; open: () => Promise<LimitStore> }> = [
  { name: 'memory', open: async () => new MemoryLimitStore() },
  ...(enabled ? [{ name: 'redis', open: () => redisStore() }] : []),
];

const subjectId = (): string => `k:key_${randomBytes(6).toString('hex')}`;

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  if (!enabled) return;
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe.each(backends)('limit store: $name', ({ name, open }) => {
  it('counts a window atomically, gives back, and says when it resets', async () => {
    const store = await open();
    const s = subjectId();
    const counts = await Promise.all(Array.from({ length: 50 }, () => store.add('requests', s, 1)));
    expect(counts.map((c) => c.consumed).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(counts.every((c) => c.resetMs > 0 && c.resetMs <= 60_000)).toBe(true);
    expect(counts[0]?.where).toBe(name === 'redis' ? 'shared' : 'local');
    expect((await store.add('requests', s, -10, counts[0]?.where)).consumed).toBe(40);
    expect((await store.add('tokens', s, 1_234)).consumed).toBe(1_234);
  });

  it('concurrency: exactly `limit` leases at once, idempotent per lease, freed on release', async () => {
    const store = await open();
    const s = subjectId();
    const leases = Array.from({ length: 20 }, (_, i) => `req_${i}`);
    const taken = await Promise.all(leases.map((lease) => store.acquire(s, lease, 5)));
    const ok = leases.filter((_, i) => taken[i]?.ok);
    expect(ok).toHaveLength(5);
    expect((await store.acquire(s, ok[0] ?? '', 5)).ok).toBe(true);
    await store.release(s, ok[0] ?? '', taken[0]?.where ?? 'local');
    expect((await store.acquire(s, 'req_new', 5)).ok).toBe(true);
    expect((await store.acquire(s, 'req_newer', 5)).ok).toBe(false);
  });

  it('the limiter refuses over the limit, gives back what it took, and corrects tokens at finish', async () => {
    const store = await open();
    const limiter = new Limiter(store);
    const key: LimitSubject = { id: subjectId(), label: 'this API key', limits: { rpm: 10, tpm: 1_000, concurrency: 2 } };
    const a = await limiter.admit({ requestId: 'r1', subjects: [key], tokens: 400 });
    const b = await limiter.admit({ requestId: 'r2', subjects: [key], tokens: 400 });
    if (!a.ok || !b.ok) throw new Error('refused too early');
    expect(b.admission.headers).toMatchObject({ 'x-ratelimit-limit-requests': '10', 'x-ratelimit-remaining-requests': '8', 'x-ratelimit-remaining-tokens': '200' });
    // A third request: over the concurrency limit and the tokens; everything it took is given back.
    const c = await limiter.admit({ requestId: 'r3', subjects: [key], tokens: 400 });
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.headers).toMatchObject({ 'x-ratelimit-remaining-requests': '8', 'x-ratelimit-remaining-tokens': '200' });
    a.admission.finish(100); // used 100 of its 400
    b.admission.finish(0);
    await new Promise((r) => setTimeout(r, 50)); // give-backs are not awaited by the request
    const d = await limiter.admit({ requestId: 'r4', subjects: [key], tokens: 400 });
    if (!d.ok) throw new Error(d.error.message);
    expect(d.admission.headers).toMatchObject({ 'x-ratelimit-remaining-requests': '7', 'x-ratelimit-remaining-tokens': String(1_000 - 100 - 400) });
    d.admission.finish(400);
  });
});

describe.skipIf(!enabled)('limits across replicas (Redis)', () => {
  it('two stores share one count: 100 RPM admits 100 of 300 spread over both', async () => {
    const stores = [await redisStore(), await redisStore()];
    const limiters = stores.map((s) => new Limiter(s));
    const key: LimitSubject = { id: subjectId(), label: 'this API key', limits: { rpm: 100, tpm: null, concurrency: null } };
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => limiters[i % 2]!.admit({ requestId: `r${i}`, subjects: [key], tokens: 1 })));
    expect(results.filter((r) => r.ok)).toHaveLength(100);
  });

  it('a cut connection falls back to local counts, logs it once, and shares again once reconnected', async () => {
    const logs = logSink();
    const store = await redisStore({ logger: logs.logger });
    const s = subjectId();
    expect((await store.add('requests', s, 1)).where).toBe('shared');
    await killClients(`switchyard:limits:${store.origin}`);
    const cut = Date.now();
    while (store.connected()) {
      if (Date.now() - cut > 2_000) throw new Error('the cut was not noticed');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect((await store.add('requests', s, 1)).where).toBe('local');
    expect(logs.text()).toContain('rate limits are enforced per replica');
    const started = Date.now();
    while (!store.connected() || (await store.add('requests', s, 0)).where !== 'shared') {
      if (Date.now() - started > 5_000) throw new Error('never shared again');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(logs.text()).toContain('rate limits are shared');
    // The shared count kept what was counted while it was reachable.
    expect((await store.add('requests', s, 0)).consumed).toBeGreaterThanOrEqual(1);
  });

  it('a live replica renews its leases, so they outlive the lease time (a dead one\'s do not: limits-replicas.test.ts)', async () => {
    const store = await redisStore({ leaseMs: 3_000 });
    const other = await redisStore({ leaseMs: 3_000 });
    const s = subjectId();
    expect((await store.acquire(s, 'a', 2)).ok).toBe(true);
    expect((await store.acquire(s, 'b', 2)).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 4_500));
    expect((await other.acquire(s, 'c', 2)).ok).toBe(false);
    await store.release(s, 'a', 'shared');
    expect((await other.acquire(s, 'c', 2)).ok).toBe(true);
  }, 20_000);
});

describe.skipIf(!enabled)('auth evictions across replicas (Redis)', () => {
  const gateways: TestGateway[] = [];
  afterAll(async () => {
    for (const g of gateways.reverse()) await g.close();
  });

  async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
    const start = performance.now();
    while (!(await check())) {
      if (performance.now() - start > ms) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return performance.now() - start;
  }

  it('revoke, suspend, new scopes or account limits on replica 1 → applied on replica 2 within a second (its cache TTL is 5 s)', async () => {
    const env = { REDIS_URL, SWITCHYARD_REDIS_PREFIX: PREFIX };
    const one = await startTestGateway({ env });
    gateways.push(one);
    // Replica 2 shares replica 1's SQLite file.
    const two = await startTestGateway({ env: { ...env, DATABASE_URL: one.gateway.deps.config.databaseUrl } });
    gateways.push(two);
    const status = async (g: TestGateway, key: string): Promise<number> =>
      (await fetch(`${g.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status;

    const { userId, key, keyId } = await one.newUser('5');
    expect(await status(two, key)).toBe(200); // now cached on replica 2
    expect((await one.admin('DELETE', `/keys/${keyId}`)).status).toBe(200);
    const revokedAfter = await within(1_000, async () => (await status(two, key)) === 401);
    expect(revokedAfter).toBeLessThan(1_000);

    const second = await one.admin('POST', `/users/${userId}/keys`, { name: 'second' });
    const key2 = String(second.json.key);
    expect(await status(two, key2)).toBe(200);
    await one.admin('PATCH', `/users/${userId}`, { status: 'suspended' });
    await within(1_000, async () => (await status(two, key2)) === 403);
    await one.admin('PATCH', `/users/${userId}`, { status: 'active' });
    await within(1_000, async () => (await status(two, key2)) === 200);

    // Replica 2's subscription is cut and a key revoked meanwhile: on resubscribing it forgets its whole cache.
    const third = await one.admin('POST', `/users/${userId}/keys`, { name: 'third' });
    const key3 = String(third.json.key);
    expect(await status(two, key3)).toBe(200);
    await killClients('switchyard:auth:sub:');
    await one.admin('DELETE', `/keys/${String(third.json.id)}`);
    expect(await within(3_000, async () => (await status(two, key3)) === 401)).toBeLessThan(3_000);

    // New scopes reach the other replica the same way: a model allow-list applies there at once.
    await one.admin('PATCH', `/keys/${String(second.json.id)}`, { allowed_models: ['renamed-model'] });
    await within(1_000, async () => {
      const res = await fetch(`${two.url}/v1/models`, { headers: { authorization: `Bearer ${key2}` } });
      const body = (await res.json()) as { data: Array<{ id: string }> };
      return body.data.length === 1 && body.data[0]?.id === 'renamed-model';
    });

    // An account's limit override set on replica 1 applies on replica 2 at once, though key2 is cached there.
    const ask = async (): Promise<Response> => fetch(`${two.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key2}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'renamed-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
    });
    const unlimited = await ask();
    expect([unlimited.status, unlimited.headers.get('x-ratelimit-limit-requests')]).toEqual([200, null]);
    expect((await one.admin('PATCH', `/users/${userId}`, { rate_limits: { rpm: 50 } })).status).toBe(200);
    await within(1_000, async () => (await ask()).headers.get('x-ratelimit-limit-requests') === '50');
  });
});
