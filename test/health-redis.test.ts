// Shared channel health (routing/health-redis.ts): two "replicas" in one process, each with its own registry
// and its own two Redis connections. Needs Redis at 127.0.0.1:6379: SWITCHYARD_TEST_REDIS=1 (npm run test:pg).
// Keys use a unique prefix per run and are deleted afterwards. The "Redis unreachable" case needs no Redis.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ChannelHealth, type HealthOutcome } from '../src/routing/health.ts';
import { RedisHealthSync } from '../src/routing/health-redis.ts';
import { logSink } from './helpers/logs.ts';
import { startTestGateway } from './helpers/gateway.ts';

const REDIS_URL = process.env.SWITCHYARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const enabled = process.env.SWITCHYARD_TEST_REDIS === '1';
const PREFIX = `sy-test-${randomBytes(5).toString('hex')}:`;
const CHANNEL = 'p/m';
const FAIL: HealthOutcome = { ok: false, blame: true, code: 'upstream_error' };

interface Replica {
  health: ChannelHealth;
  sync: RedisHealthSync;
  logs: () => string;
}

const started: Replica[] = [];

async function replica(url = REDIS_URL, prefix = PREFIX): Promise<Replica> {
  const health = new ChannelHealth({ cooldownMs: 5_000 });
  health.breaker(CHANNEL);
  health.breaker('other/m');
  const { logger, text } = logSink();
  const sync = new RedisHealthSync(health, url, { logger, prefix, connectTimeoutMs: 300, commandTimeoutMs: 500 });
  await sync.start();
  const r = { health, sync, logs: text };
  started.push(r);
  return r;
}

async function within(ms: number, check: () => boolean): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - start;
}

function trip(r: Replica): void {
  for (let i = 0; i < 5; i++) r.health.record(CHANNEL, FAIL);
}

afterAll(async () => {
  await Promise.all(started.map((r) => r.sync.close()));
  if (!enabled) return;
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe.skipIf(!enabled)('shared channel health (Redis)', () => {
  it('an opening on one replica is seen by another within 1 s, and stored with its TTL', async () => {
    const a = await replica();
    const b = await replica();
    expect(a.sync.connected() && b.sync.connected()).toBe(true);
    expect(b.health.view(CHANNEL).state).toBe('closed');
    trip(a);
    expect(a.health.view(CHANNEL).state).toBe('open');
    const ms = await within(1_000, () => b.health.view(CHANNEL).state === 'open');
    expect(ms).toBeLessThan(1_000);
    expect(b.health.available(CHANNEL)).toBe(false);
    expect(b.health.view(CHANNEL)).toMatchObject({ openReason: 'consecutive_failures', cooldownMs: 5_000, consecutiveFailures: 0 });
    expect(b.health.view('other/m').state).toBe('closed');

    const redis = new Redis(REDIS_URL);
    const ttl = await redis.pttl(a.sync.keyOf('breaker', CHANNEL));
    await redis.quit();
    expect(ttl).toBeGreaterThan(3_000);
    expect(ttl).toBeLessThanOrEqual(5_000);

    // A replica that starts later reads the opening from the key.
    const c = await replica();
    expect(c.health.view(CHANNEL).state).toBe('open');
    expect(c.health.view(CHANNEL).openUntil ?? 0).toBeGreaterThan(Date.now() + 3_000);

    // A closing (here: the other replica's forced attempt succeeded) is shared too, and removes the key.
    b.health.record(CHANNEL, { ok: true, ttfbMs: 10 });
    await within(1_000, () => a.health.view(CHANNEL).state === 'closed' && c.health.view(CHANNEL).state === 'closed');
    const check = new Redis(REDIS_URL);
    expect(await check.exists(a.sync.keyOf('breaker', CHANNEL))).toBe(0);
    await check.quit();
  });

  it('shares an upstream’s Retry-After', async () => {
    const a = await replica();
    const b = await replica();
    a.health.record('other/m', { ...FAIL, code: 'upstream_rate_limited', retryAfterS: 2 });
    await within(1_000, () => !b.health.available('other/m'));
    expect(b.health.view('other/m')).toMatchObject({ state: 'closed' });
    expect(b.health.view('other/m').retryAfterUntil ?? 0).toBeGreaterThan(Date.now() + 1_000);
  });

  it('catches up after its subscription was cut: missed openings are read from the keys on reconnect', async () => {
    const prefix = `${PREFIX}reconnect:`;
    const a = await replica(REDIS_URL, prefix);
    const b = await replica(REDIS_URL, prefix);
    const admin = new Redis(REDIS_URL);
    try {
      const list = String(await admin.call('CLIENT', 'LIST'));
      const line = list.split('\n').find((l) => l.includes(`name=switchyard:health:sub:${b.sync.origin}`));
      const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
      expect(id).toBeDefined();
      await admin.call('CLIENT', 'KILL', 'ID', String(id));
      trip(a); // published while b is not listening
      await within(5_000, () => b.health.view(CHANNEL).state === 'open');
      await within(2_000, () => b.sync.connected());
      expect(b.logs()).toContain('Redis unavailable');
      expect(b.logs()).toContain('Redis reachable again');
    } finally {
      await admin.quit();
    }
  });
});

describe.skipIf(!enabled)('the gateway with REDIS_URL', () => {
  it('shares its channel health through Redis (GET /admin/v1/channels says so)', async () => {
    const t = await startTestGateway({ env: { REDIS_URL } });
    try {
      const res = await t.admin('GET', '/channels');
      expect(res.json.sharing).toEqual({ backend: 'redis', connected: true });
    } finally {
      await t.close();
    }
  });
});

const closedPort = (): Promise<number> =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

describe('shared channel health with Redis unreachable', () => {
  it('starts, serves with local health, warns once, and closes', async () => {
    const port = await closedPort();
    const begun = performance.now();
    const r = await replica(`redis://127.0.0.1:${port}`, `${PREFIX}down:`);
    expect(performance.now() - begun).toBeLessThan(2_000);
    expect(r.sync.connected()).toBe(false);
    expect(r.health.sharing()).toEqual({ backend: 'redis', connected: false });
    trip(r);
    expect(r.health.view(CHANNEL).state).toBe('open');
    expect(r.health.available(CHANNEL)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 700)); // a few reconnect attempts
    expect(r.logs().match(/Redis unavailable/g)).toHaveLength(1);
  });

  it('does not stop the gateway from starting and serving', async () => {
    const t = await startTestGateway({ env: { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` } });
    try {
      const { key } = await t.newUser('10');
      const reply = await t.client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#reply:fine' }] });
      expect(reply.choices[0]?.message.content).toBe('fine');
      expect((await t.admin('GET', '/channels')).json.sharing).toEqual({ backend: 'redis', connected: false });
      expect(t.logs()).toContain('Redis unavailable');
    } finally {
      await t.close();
    }
  });
});
