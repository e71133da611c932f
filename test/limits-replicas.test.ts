// Three gateway processes (`switchyard serve`) on one PostgreSQL schema and one Redis prefix, as replicas behind a
// load balancer: a 100 RPM key admits exactly 100 of 300 requests spread over the three, and concurrent-request
// slots held by a replica that is killed (SIGKILL) free themselves after the lease time. Needs PostgreSQL and Redis:
// SWITCHYARD_TEST_PG=1 SWITCHYARD_TEST_REDIS=1 (npm run test:pg).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { ADMIN_TOKEN, UPSTREAM_KEY, defaultYaml } from './helpers/gateway.ts';
import { pgTestUrl } from './helpers/stores.ts';
import { startMockOpenAI, type MockOpenAI } from './upstreams/openai.ts';

const enabled = process.env.SWITCHYARD_TEST_PG === '1' && process.env.SWITCHYARD_TEST_REDIS === '1';
const REDIS_URL = process.env.SWITCHYARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BIN = resolve(import.meta.dirname, '../bin/switchyard.js');
const run = promisify(execFile);

type Json = Record<string, unknown>;

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => ok(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

interface Replica {
  url: string;
  child: ChildProcess;
  output: () => string;
}

describe.skipIf(!enabled)('three replicas on PostgreSQL + Redis', () => {
  const schema = `sy_replicas_${randomBytes(5).toString('hex')}`;
  const prefix = `sy-test-${randomBytes(5).toString('hex')}:`;
  let dir: string;
  let mock: MockOpenAI;
  let env: NodeJS.ProcessEnv;
  const replicas: Replica[] = [];

  async function startReplica(): Promise<Replica> {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const until = Date.now() + 60_000;
    while (!output.includes('Switchyard listening on')) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`replica did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const replica = { url: `http://127.0.0.1:${port}`, child, output: () => output };
    replicas.push(replica);
    return replica;
  }

  async function admin(method: string, path: string, body?: unknown): Promise<Json> {
    const res = await fetch(`${replicas[0]?.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as Json;
  }

  const chat = (replica: Replica, key: string, content = 'hi'): Promise<Response> =>
    fetch(`${replica.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 10 }),
    });

  beforeAll(async () => {
    mock = await startMockOpenAI({ apiKey: UPSTREAM_KEY });
    dir = mkdtempSync(join(tmpdir(), 'switchyard-replicas-'));
    writeFileSync(join(dir, 'switchyard.yaml'), `${defaultYaml(mock.url)}\nlimits:\n  concurrency_lease_ms: 3000\n`);
    const base = pgTestUrl();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`,
      REDIS_URL,
      SWITCHYARD_REDIS_PREFIX: prefix,
      SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
      UPSTREAM_KEY,
      LOG_LEVEL: 'warn',
    };
    // One migration first, as a deployment would run it; then three replicas at once.
    await run(process.execPath, [BIN, 'migrate'], { cwd: dir, env, timeout: 60_000 });
    await Promise.all([startReplica(), startReplica(), startReplica()]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(
      replicas.map(async (r) => {
        if (r.child.exitCode !== null || r.child.signalCode !== null) return;
        const exited = new Promise((ok) => r.child.once('exit', ok));
        r.child.kill('SIGTERM');
        await exited;
      }),
    );
    await mock?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: pgTestUrl() });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('a 100 RPM key admits 100 of 300 requests spread over three replicas, and only those are billed', async () => {
    const user = await admin('POST', '/users', { email: `replicas-${randomBytes(4).toString('hex')}@example.com` });
    const userId = String(user.id);
    await admin('POST', `/users/${userId}/credits`, { credits: '100', reason: 'test' });
    const key = String((await admin('POST', `/users/${userId}/keys`, { name: 'rpm', rate_limits: { rpm: 100 } })).key);

    const statuses = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const res = await chat(replicas[i % 3]!, key);
        await res.arrayBuffer();
        return { status: res.status, replica: i % 3 };
      }),
    );
    expect(statuses.filter((s) => s.status === 200)).toHaveLength(100);
    expect(statuses.filter((s) => s.status === 429)).toHaveLength(200);
    // Every replica answered some and refused some: the count really was shared.
    for (const r of [0, 1, 2]) expect(new Set(statuses.filter((s) => s.replica === r).map((s) => s.status))).toEqual(new Set([200, 429]));

    const ledger = (await admin('GET', `/users/${userId}/ledger?limit=1000`)).data as Array<{ kind: string; amount_credits: string }>;
    expect(ledger.filter((e) => e.kind === 'hold')).toHaveLength(100);
    const sum = ledger.reduce((acc, e) => acc + (parseCredits(e.amount_credits) ?? 0n), 0n);
    expect(parseCredits(String((await admin('GET', `/users/${userId}/balance`)).balance_credits))).toBe(sum);
  }, 120_000);

  it('concurrent slots held by a replica killed with SIGKILL free themselves after the lease time', async () => {
    const user = await admin('POST', '/users', { email: `lease-${randomBytes(4).toString('hex')}@example.com` });
    const userId = String(user.id);
    await admin('POST', `/users/${userId}/credits`, { credits: '10', reason: 'test' });
    const key = String((await admin('POST', `/users/${userId}/keys`, { name: 'cc', rate_limits: { concurrency: 2 } })).key);

    const victim = await startReplica();
    // Two slow requests occupy both slots on the victim. Wait until Redis shows both leases before any other
    // request: a request on a warm replica sent alongside could otherwise take a slot first (the victim's first
    // requests are its coldest), and one slow request would then be refused.
    const slow = [chat(victim, key, '#delay:60000 #reply:slow').catch(() => undefined), chat(victim, key, '#delay:60000 #reply:slow').catch(() => undefined)];
    const redis = new Redis(REDIS_URL);
    try {
      const until = Date.now() + 15_000;
      for (;;) {
        const leaseKeys = await redis.keys(`${prefix}cc:*`);
        const counts = await Promise.all(leaseKeys.map((k) => redis.zcard(k)));
        if (counts.includes(2)) break;
        if (Date.now() > until) throw new Error(`the slow requests never took both slots (leases: ${counts.join(',') || 'none'})\n${victim.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await redis.quit();
    }
    expect((await chat(replicas[0]!, key)).status).toBe(429);
    // …then the victim dies without releasing them.
    victim.child.kill('SIGKILL');
    await new Promise((ok) => victim.child.once('exit', ok));
    await Promise.all(slow);
    const killedAt = Date.now();
    expect((await chat(replicas[1]!, key)).status).toBe(429);
    let answered: number | undefined;
    while (answered === undefined) {
      const res = await chat(replicas[1]!, key);
      if (res.status === 200) answered = Date.now() - killedAt;
      else if (Date.now() - killedAt > 10_000) throw new Error('the dead replica\'s slots were never freed');
      else await new Promise((r) => setTimeout(r, 200));
    }
    expect(answered).toBeLessThan(6_000);
  }, 60_000);
});
