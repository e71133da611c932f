// Issue 11, "Dependencies down": PostgreSQL and Redis behind a TCP proxy (test/helpers/tcp-proxy.ts) that refuses,
// resets and black-holes. An unreachable database answers 503 service_unavailable + Retry-After within the bound,
// never 500; /readyz flips to 503 and back by itself; no credit is lost; a black-holed Redis trips the limit
// store's breaker to local limits instead of taxing every request.
// Bounds below are generous for a loaded 2-core machine; the figures measured are printed (console.info).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { parseCredits } from '../src/domain/money.ts';
import { isUnavailable, openStore, type Store } from '../src/storage/index.ts';
import { defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { pgEnabled, pgTestUrl } from './helpers/stores.ts';
import { TcpProxy } from './helpers/tcp-proxy.ts';

const redisEnabled = (): boolean => process.env.SWITCHYARD_TEST_REDIS === '1';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const email = (): string => `u-${randomBytes(5).toString('hex')}@example.com`;

/** The test database's URL with the proxy's port and our schema. */
function viaProxy(proxy: TcpProxy, schema: string): string {
  const url = new URL(pgTestUrl());
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  url.searchParams.set('schema', schema);
  return url.toString();
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgTestUrl() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Polls until `check` holds (or fails the test after `withinMs`). */
async function eventually(check: () => Promise<boolean>, withinMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < withinMs) {
    if (await check()) return Date.now() - started;
    await sleep(100);
  }
  throw new Error(`not within ${withinMs} ms: ${what}`);
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: Math.round(performance.now() - started) };
}

interface Answer {
  status: number;
  retryAfter: string | null;
  charged: bigint;
  body: { error?: { code?: string; type?: string; message?: string } };
}

async function chat(t: TestGateway, key: string): Promise<Answer> {
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: '#reply:ok' }] }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as Answer['body'];
  const charged = res.headers.get('x-switchyard-credits-charged');
  return { status: res.status, retryAfter: res.headers.get('retry-after'), charged: charged === null ? 0n : (parseCredits(charged) ?? 0n), body };
}

async function readyz(t: TestGateway): Promise<{ status: number; json: { status?: string; checks?: Record<string, string> } }> {
  const res = await fetch(`${t.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, json: (await res.json()) as { status?: string; checks?: Record<string, string> } };
}

function expect503(answer: Answer): void {
  expect(answer.status).toBe(503);
  expect(Number(answer.retryAfter)).toBeGreaterThan(0);
  expect(answer.body.error).toMatchObject({ code: 'service_unavailable', type: 'server_error' });
}

describe('database config', () => {
  it('has safe defaults, reads the database: section and lets SWITCHYARD_DB_* override it', () => {
    const base = { SWITCHYARD_ADMIN_TOKEN: 'x'.repeat(24), SWITCHYARD_SECRET: 'y'.repeat(32) };
    expect(loadConfig({ env: base, cwd: '/tmp', yamlText: '' }).database).toEqual({
      connectTimeoutMs: 2_000, statementTimeoutMs: 10_000, probeTimeoutMs: 1_000, busyTimeoutMs: 5_000,
    });
    const yamlText = 'database:\n  connect_timeout_ms: 1500\n  statement_timeout_ms: 4000\n  busy_timeout_ms: 250\n';
    const config = loadConfig({ env: { ...base, SWITCHYARD_DB_PROBE_TIMEOUT_MS: '700', SWITCHYARD_DB_STATEMENT_TIMEOUT_MS: '3000' }, cwd: '/tmp', yamlText });
    expect(config.database).toEqual({ connectTimeoutMs: 1_500, statementTimeoutMs: 3_000, probeTimeoutMs: 700, busyTimeoutMs: 250 });
    expect(() => loadConfig({ env: { ...base, SWITCHYARD_DB_CONNECT_TIMEOUT_MS: '5' }, cwd: '/tmp', yamlText: '' })).toThrow(/SWITCHYARD_DB_CONNECT_TIMEOUT_MS/);
    expect(() => loadConfig({ env: base, cwd: '/tmp', yamlText: 'database:\n  statement_timeout_ms: -1\n' })).toThrow(/database\.statement_timeout_ms/);
  });
});

describe('isUnavailable: what counts as "the database cannot be reached"', () => {
  const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });
  it('takes network failures, connection/shutdown/timeout SQLSTATEs, pool and SQLite lock errors; not the request\'s own errors', () => {
    for (const error of [
      withCode('ECONNREFUSED'), withCode('ECONNRESET'), withCode('ETIMEDOUT'), withCode('08006'), withCode('57P01'), withCode('57014'),
      withCode('53300'), withCode('SQLITE_BUSY'), withCode('SQLITE_BUSY_SNAPSHOT'), new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated unexpectedly'), new Error('Query read timeout'), new AggregateError([withCode('ECONNREFUSED')]),
      new Error('wrapped', { cause: withCode('ECONNRESET') }),
    ]) expect(isUnavailable(error), String((error as { code?: string }).code ?? error.message)).toBe(true);
    for (const error of [withCode('23505'), withCode('22003'), withCode('42P01'), withCode('SQLITE_CONSTRAINT'), new RangeError('bad amount'), 'text', null]) {
      expect(isUnavailable(error)).toBe(false);
    }
  });
});

describe('SQLite locked by another process past the busy timeout', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ env: { SWITCHYARD_DB_BUSY_TIMEOUT_MS: '200' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 503 + Retry-After (not 500) while the write lock is held, and serves again once it is free', async () => {
    const { userId, key } = await t.newUser('10');
    const first = await chat(t, key);
    expect(first.status).toBe(200);
    const other = new BetterSqlite3(join(t.dataDir, 'switchyard.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      expect503(await chat(t, key));
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const after = await chat(t, key);
    expect(after.status).toBe(200);
    await expectBooksBalanced(t, userId, 10n * 1_000_000n - first.charged - after.charged);
  });
});

describe.runIf(pgEnabled())('PostgreSQL behind a failing network: the store', () => {
  let proxy: TcpProxy;
  const schemas: string[] = [];
  const stores: Store[] = [];
  beforeAll(async () => {
    proxy = await TcpProxy.start({ host: new URL(pgTestUrl()).hostname, port: Number(new URL(pgTestUrl()).port || 5432) });
  });
  afterEach(async () => {
    await proxy.pass();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await proxy.close();
    await Promise.all(schemas.map(dropSchema));
  });
  const open = async (options: { poolMax?: number; connectTimeoutMs?: number } = {}): Promise<Store> => {
    const schema = `sy_down_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const store = await openStore(viaProxy(proxy, schema), { probeTimeoutMs: 300, connectTimeoutMs: 1_000, ...options });
    stores.push(store);
    await store.migrate();
    return store;
  };

  it('refused, black-holed, reset: StorageUnavailableError within the bound, ready() follows, and it recovers', async () => {
    const store = await open();
    const user = await store.users.create(email());
    expect((await store.ready()).ok).toBe(true);

    await proxy.refuse();
    const refused = await timed(() => store.users.get(user.id).catch((error: unknown) => error));
    expect(refused.value).toMatchObject({ name: 'StorageUnavailableError' });
    expect(refused.ms).toBeLessThan(2_000);
    await eventually(async () => !(await store.ready()).ok, 3_000, 'ready() false while refused');
    await proxy.pass();
    await eventually(async () => (await store.ready()).ok, 5_000, 'ready() true again');
    expect((await store.users.get(user.id))?.id).toBe(user.id);

    proxy.blackhole();
    const holed = await timed(() => store.users.get(user.id).catch((error: unknown) => error));
    expect(holed.value).toMatchObject({ name: 'StorageUnavailableError' });
    expect(holed.ms).toBeLessThan(3_000);
    // Down: the next call does not wait for anything.
    const next = await timed(() => store.users.get(user.id).catch((error: unknown) => error));
    expect(next.value).toMatchObject({ name: 'StorageUnavailableError' });
    expect(next.ms).toBeLessThan(holed.ms);
    expect((await store.ready()).ok).toBe(false);
    console.info(`store: refused → ${refused.ms} ms, black-holed → ${holed.ms} ms (probe 300 ms), then ${next.ms} ms`);
    await proxy.pass();
    await eventually(async () => (await store.ready()).ok, 5_000, 'ready() true after the black hole');
    expect((await store.users.get(user.id))?.id).toBe(user.id);

    // Every live connection reset: the pool drops them and opens new ones.
    proxy.reset();
    await eventually(async () => (await store.users.get(user.id).then((u) => u?.id === user.id, () => false)), 5_000, 'works after a reset');
  });

  it('a pool exhausted past the connect timeout answers StorageUnavailableError, not a hang', async () => {
    const store = await open({ poolMax: 1, connectTimeoutMs: 400 });
    const user = await store.users.create(email());
    const schema = schemas.at(-1) ?? '';
    const locker = new pg.Client({ connectionString: pgTestUrl() });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${schema}".users IN ACCESS EXCLUSIVE MODE`);
      const stuck = store.users.get(user.id).catch((error: unknown) => error); // holds the only connection
      await sleep(100);
      const waiting = await timed(() => store.users.get(user.id).catch((error: unknown) => error));
      expect(waiting.value).toMatchObject({ name: 'StorageUnavailableError' });
      expect(waiting.ms).toBeLessThan(3_000);
      await locker.query('ROLLBACK');
      expect(await stuck).toMatchObject({ id: user.id });
      expect((await store.ready()).ok).toBe(true); // a busy pool is not an unreachable database
    } finally {
      await locker.end();
    }
  });
});

describe.runIf(pgEnabled())('PostgreSQL behind a failing network: the gateway', () => {
  let proxy: TcpProxy;
  let t: TestGateway;
  beforeAll(async () => {
    proxy = await TcpProxy.start({ host: new URL(pgTestUrl()).hostname, port: Number(new URL(pgTestUrl()).port || 5432) });
    t = await startTestGateway({
      backend: 'postgres',
      env: { DATABASE_URL: viaProxy(proxy, `t_${randomBytes(6).toString('hex')}`), SWITCHYARD_HOLD_TTL_MS: '2000' },
      // Holds whose request got a 503 mid-way expire quickly here, so the test sees them released.
      yaml: (mockUrl) => `${defaultYaml(mockUrl)}\nholds:\n  sweep_interval_ms: 250\n`,
    });
  });
  afterEach(async () => {
    await proxy.pass();
  });
  afterAll(async () => {
    await t.close();
    await proxy.close();
  });

  it('refused → 503 + Retry-After at once; /readyz flips and recovers without a restart; no credit lost', async () => {
    const { userId, key } = await t.newUser('10');
    let charged = 0n;
    const ok = await chat(t, key);
    expect(ok.status).toBe(200);
    charged += ok.charged;
    expect((await readyz(t)).status).toBe(200);

    await proxy.refuse();
    const refused = await timed(() => chat(t, key));
    expect503(refused.value);
    expect(refused.ms).toBeLessThan(2_000);
    const flipped = await eventually(async () => (await readyz(t)).status === 503, 5_000, '/readyz 503 while refused');
    expect((await readyz(t)).json).toMatchObject({ status: 'unavailable', checks: { database: 'unavailable' } });
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200); // liveness is not readiness

    await proxy.pass();
    const back = await eventually(async () => (await readyz(t)).status === 200, 10_000, '/readyz 200 again');
    const after = await chat(t, key);
    expect(after.status).toBe(200);
    charged += after.charged;
    console.info(`gateway, refused: 503 in ${refused.ms} ms; /readyz 503 after ${flipped} ms; 200 again ${back} ms after pass`);
    await expectBooksBalanced(t, userId, 10n * 1_000_000n - charged);
    expect(t.logs()).not.toContain('internal error');
  });

  it('black-holed → 503 within the bound (not 500, not a hang), fast while down, then recovers; no credit lost', async () => {
    const { userId, key } = await t.newUser('10');
    let charged = 0n;
    for (let i = 0; i < 3; i += 1) {
      const ok = await chat(t, key);
      expect(ok.status).toBe(200);
      charged += ok.charged;
    }

    proxy.blackhole();
    // Several at once: each is answered, none waits for the statement timeout.
    const first = await Promise.all([0, 1, 2].map(() => timed(() => chat(t, key))));
    for (const answer of first) {
      expect503(answer.value);
      expect(answer.ms).toBeLessThan(5_000);
    }
    const down = await timed(() => chat(t, key));
    expect503(down.value);
    expect((await readyz(t)).status).toBe(503);

    await proxy.pass();
    const back = await eventually(async () => (await readyz(t)).status === 200, 10_000, '/readyz 200 after the black hole');
    const after = await chat(t, key);
    expect(after.status).toBe(200);
    charged += after.charged;
    console.info(`gateway, black-holed: 503 in ${first.map((a) => a.ms).join(', ')} ms; while down ${down.ms} ms; /readyz 200 ${back} ms after pass`);
    // Holds written when the network healed (their requests had their 503) expire and are released.
    await expectBooksBalanced(t, userId, 10n * 1_000_000n - charged);
    expect(t.logs()).not.toContain('internal error');
  });

  it('live connections reset → requests are answered 200 or 503, never 500, and then served again', async () => {
    const { key } = await t.newUser('10');
    expect((await chat(t, key)).status).toBe(200);
    proxy.reset();
    const during = await chat(t, key);
    expect([200, 503]).toContain(during.status);
    await eventually(async () => (await chat(t, key)).status === 200, 10_000, 'served after a reset');
  });
});

/** Σ ledger = balance for the user, nothing held any more, and the balance is exactly what was charged. */
async function expectBooksBalanced(t: TestGateway, userId: string, expectedMicro: bigint): Promise<void> {
  await eventually(async () => {
    const report = await t.admin('GET', '/ledger/verify?all=true&limit=1000');
    const rows = report.json.data as Array<{ user_id: string; open_holds: number }>;
    return report.status === 200 && rows.find((r) => r.user_id === userId)?.open_holds === 0;
  }, 15_000, 'every hold settled or released');
  const report = await t.admin('GET', '/ledger/verify?all=true&limit=1000');
  expect(report.json).toMatchObject({ ok: true, users_with_drift: 0 });
  const row = (report.json.data as Array<Record<string, unknown>>).find((r) => r.user_id === userId);
  expect(row).toMatchObject({ ok: true, drift_credits: '0', open_holds: 0 });
  const balance = await t.admin('GET', `/users/${userId}/balance`);
  expect(parseCredits(String(balance.json.balance_credits))).toBe(expectedMicro);
}

describe.runIf(pgEnabled() && redisEnabled())('Redis behind a failing network', () => {
  let proxy: TcpProxy;
  let t: TestGateway;
  let direct: Redis;
  const prefix = `sy_test_${randomBytes(5).toString('hex')}:`;
  const RPM = 12;
  beforeAll(async () => {
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: 6379 });
    direct = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
    await direct.connect();
    t = await startTestGateway({
      backend: 'postgres',
      env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, SWITCHYARD_REDIS_PREFIX: prefix },
      yaml: (mockUrl) => `${defaultYaml(mockUrl)}\nlimits:\n  account: { rpm: ${RPM} }\n`,
    });
  });
  afterAll(async () => {
    await t.close();
    await proxy.close();
    const keys = await direct.keys(`${prefix}*`);
    if (keys.length > 0) await direct.del(...keys);
    await direct.quit();
  });

  it('black-holed: the breaker trips, requests no longer wait on Redis, limits hold locally; /readyz; recovery', async () => {
    const a = await t.newUser('10');
    const baseline: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const answer = await timed(() => chat(t, a.key));
      expect(answer.value.status).toBe(200);
      baseline.push(answer.ms);
    }
    expect(await direct.keys(`${prefix}rl:*`)).not.toEqual([]); // the counts were shared
    expect((await readyz(t)).json.checks).toMatchObject({ database: 'ok', redis: 'ok' });

    proxy.blackhole();
    const b = await t.newUser('10'); // a fresh account: its count starts in this replica's memory
    const during: number[] = [];
    for (let i = 0; i < RPM; i += 1) {
      const answer = await timed(() => chat(t, b.key));
      expect(answer.value.status).toBe(200);
      during.push(answer.ms);
    }
    // The limit is still enforced, locally.
    const refused = await chat(t, b.key);
    expect(refused.status).toBe(429);
    const afterTrip = during.slice(2);
    const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
    console.info(
      `redis black-holed: baseline median ${median(baseline)} ms (${baseline.join(', ')}); ` +
      `during: ${during.join(', ')} ms; median after the trip ${median(afterTrip)} ms`,
    );
    // Without the breaker each of these would wait out the 500 ms command timeout at least once.
    expect(afterTrip.reduce((x, y) => x + y, 0)).toBeLessThan(afterTrip.length * 250);
    await eventually(async () => (await readyz(t)).status === 503, 5_000, '/readyz 503 while Redis is black-holed');
    expect((await readyz(t)).json.checks).toMatchObject({ database: 'ok', redis: 'unavailable' });

    await proxy.pass();
    const back = await eventually(async () => (await readyz(t)).status === 200, 10_000, '/readyz 200 when Redis answers');
    // Shared again: a new account's count is in Redis.
    const c = await t.newUser('10');
    expect((await chat(t, c.key)).status).toBe(200);
    const shared = await direct.keys(`${prefix}rl:req*`);
    expect(shared.some((k) => k.includes(c.userId))).toBe(true);
    console.info(`redis: /readyz 200 again ${back} ms after pass`);
  });
});
