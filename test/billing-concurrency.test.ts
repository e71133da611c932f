// Money under real concurrency (issue 5, item 3): gateway processes (`node bin/switchyard.js serve`, each its own
// port) share one database — 3 replicas on PostgreSQL, 1 process on SQLite — and 2,000 concurrent requests across
// them hit one key whose balance covers exactly N worst-case holds. Every admitted request is kept open at the
// upstream until every request has been decided, so no settle can give credits back early: exactly N are admitted
// and the rest get 402 insufficient_quota; the balance, sampled throughout, never goes below zero; each admitted
// request is charged exactly what the upstream's usage costs; at the end balance = Σ ledger = N × (H − C), every
// hold is settled, and GET /admin/v1/ledger/verify agrees.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { formatCredits, parseCredits } from '../src/domain/money.ts';
import { startGatewayProcess, type GatewayProcess } from './helpers/processes.ts';
import { pgEnabled, pgTestUrl } from './helpers/stores.ts';
import { startMockOpenAI } from './upstreams/openai.ts';

const TOKEN = 'admin-concurrency-token-0123456789';
const TOTAL = 2_000;
const ADMITTED = 500;
const PROMPT = '#reply:ok';
const BODY = JSON.stringify({ model: 'm', max_tokens: 50, messages: [{ role: 'user', content: PROMPT }] });
// $1 and $2 per million tokens: 1,000 and 2,000 micro-credits per token. The mock reports
// prompt_tokens = ceil(characters / 4) + 3 per message and one completion token for "ok" (test/upstreams/openai.ts).
const COST = BigInt(Math.ceil(PROMPT.length / 4) + 3) * 1_000n + 1n * 2_000n;

/** Reads the user's balance straight from the database, beside the gateways. */
interface Db {
  balance(userId: string): Promise<bigint>;
  all(sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

async function sqliteDb(file: string): Promise<Db> {
  const db = new BetterSqlite3(file, { readonly: true, timeout: 5_000 });
  db.defaultSafeIntegers(true);
  return {
    balance: async (userId) => (db.prepare('SELECT balance FROM users WHERE id = ?').get(userId) as { balance: bigint }).balance,
    all: async (sql, params) => db.prepare(sql).all(...params) as Array<Record<string, unknown>>,
    close: async () => {
      db.close();
    },
  };
}

async function pgDb(schema: string): Promise<Db> {
  const client = new pg.Client({ connectionString: pgTestUrl(), options: `-c search_path=${schema}`, statement_timeout: 10_000 });
  await client.connect();
  const pgSql = (sql: string): string => {
    let i = 0;
    return sql.replace(/\?/g, () => `$${++i}`);
  };
  return {
    balance: async (userId) => BigInt(String((await client.query<{ balance: string }>('SELECT balance FROM users WHERE id = $1', [userId])).rows[0]?.balance)),
    all: async (sql, params) => (await client.query(pgSql(sql), params)).rows as Array<Record<string, unknown>>,
    async close() {
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

const credits = (text: unknown): bigint => {
  const value = parseCredits(String(text));
  if (value === undefined) throw new Error(`not credits: ${String(text)}`);
  return value;
};

const backends = [
  { name: 'sqlite', replicas: 1 },
  ...(pgEnabled() ? [{ name: 'postgres', replicas: 3 }] : []),
] as const;

describe.each(backends)('$replicas gateway process(es) on $name', ({ name, replicas }) => {
  it(`${TOTAL} concurrent requests on a balance for exactly ${ADMITTED} holds: ${ADMITTED} admitted, the rest 402, every charge exact`, async () => {
    // The upstream: every request waits at the gate while the gate is closed.
    let gateOpen = true;
    const waiting: Array<() => void> = [];
    const mock = await startMockOpenAI({ apiKey: 'up-key', maxRecorded: 0, gate: () => (gateOpen ? undefined : new Promise<void>((r) => waiting.push(r))) });
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-replicas-'));
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const databaseUrl = name === 'sqlite' ? `sqlite:${join(dir, 'switchyard.db')}` : `${pgTestUrl()}?schema=${schema}&pool_max=20`;
    writeFileSync(
      join(dir, 'switchyard.yaml'),
      `providers:\n  - { id: up, type: openai-compatible, base_url: "${mock.url}", api_key: up-key }\n` +
        'models:\n  - id: m\n    channels: [{ provider: up }]\n    price: { input_per_mtok_usd: 1, output_per_mtok_usd: 2 }\n',
    );
    // 2000 connections from one address: past the per-address connection cap, which is not what this test is about.
    const env = { SWITCHYARD_ADMIN_TOKEN: TOKEN, DATABASE_URL: databaseUrl, SWITCHYARD_MAX_CONNECTIONS_PER_IP: '0' };
    const gateways: GatewayProcess[] = [];
    const agent = new Agent({ connections: TOTAL, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
    let db: Db | undefined;
    let sampler: NodeJS.Timeout | undefined;
    try {
      // The first process migrates the fresh database; the other replicas start together once it has.
      gateways.push(await startGatewayProcess(dir, env));
      gateways.push(...(await Promise.all(Array.from({ length: replicas - 1 }, () => startGatewayProcess(dir, env)))));
      db = name === 'sqlite' ? await sqliteDb(join(dir, 'switchyard.db')) : await pgDb(schema);

      const call = async (url: string, method: 'GET' | 'POST', path: string, auth: string, body?: string) => {
        const res = await request(`${url}${path}`, {
          method,
          dispatcher: agent,
          headers: { authorization: `Bearer ${auth}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body,
        });
        return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
      };
      const admin = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
        const res = await call(gateways[0]?.url ?? '', method, `/admin/v1${path}`, TOKEN, body === undefined ? undefined : JSON.stringify(body));
        expect(res.status, JSON.stringify(res.json)).toBeLessThan(300);
        return res.json;
      };
      const newUser = async (email: string, grant: bigint) => {
        const userId = String((await admin('POST', '/users', { email })).id);
        await admin('POST', `/users/${userId}/credits`, { credits: formatCredits(grant), reason: 'test' });
        return { userId, key: String((await admin('POST', `/users/${userId}/keys`, { name: 'k' })).key) };
      };

      // A first request shows the worst-case hold H the gateway quotes for this body, and its exact charge.
      const probe = await newUser('probe@example.com', credits('100'));
      expect((await call(gateways[0]?.url ?? '', 'POST', '/v1/chat/completions', probe.key, BODY)).status).toBe(200);
      const [probeEvent] = (await admin('GET', `/usage?user=${probe.userId}`)).data as Array<Record<string, unknown>>;
      const H = credits(probeEvent?.held_credits);
      expect(credits(probeEvent?.cost_credits)).toBe(COST);
      expect(H).toBeGreaterThan(COST);

      const initial = BigInt(ADMITTED) * H;
      const { userId, key } = await newUser('load@example.com', initial);

      // Sample the balance while the requests run.
      let lowest = initial;
      let highest = initial;
      let samples = 0;
      const sample = async (): Promise<void> => {
        const b = await db?.balance(userId);
        if (b === undefined) return;
        samples += 1;
        if (b < lowest) lowest = b;
        if (b > highest) highest = b;
      };
      let sampling = Promise.resolve();
      sampler = setInterval(() => {
        sampling = sampling.then(sample);
      }, 20);

      gateOpen = false;
      let answered = 0;
      const started = Date.now();
      const results = Array.from({ length: TOTAL }, (_, i) =>
        call(gateways[i % replicas]?.url ?? '', 'POST', '/v1/chat/completions', key, BODY).then((res) => {
          answered += 1;
          return res;
        }),
      );
      // Every request decided: refused (answered) or admitted (waiting at the upstream). Then let them finish.
      const until = Date.now() + 45_000;
      while (answered + waiting.length < TOTAL && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const atGate = waiting.length;
      gateOpen = true;
      for (const release of waiting.splice(0)) release();
      const outcomes = await Promise.all(results);
      const elapsed = Date.now() - started;
      clearInterval(sampler);
      sampler = undefined;
      await sampling;
      await sample();

      expect(atGate).toBe(ADMITTED);
      const statuses = new Map<number, number>();
      for (const o of outcomes) statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
      expect(Object.fromEntries(statuses)).toEqual({ 200: ADMITTED, 402: TOTAL - ADMITTED });
      for (const o of outcomes) {
        if (o.status === 402) expect(o.json.error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' });
        else expect((o.json.usage as Record<string, unknown>).cost).toBe(formatCredits(COST));
      }

      // The balance never went below zero nor above what was granted, and ends exactly where the arithmetic says.
      expect(samples).toBeGreaterThan(5);
      expect(lowest).toBeGreaterThanOrEqual(0n);
      expect(highest).toBeLessThanOrEqual(initial);
      const expected = initial - BigInt(ADMITTED) * COST;
      expect(await db.balance(userId)).toBe(expected);
      const [sum] = await db.all('SELECT CAST(SUM(amount) AS BIGINT) AS total FROM ledger WHERE user_id = ?', [userId]);
      expect(BigInt(String(sum?.total))).toBe(expected);

      // Every admitted request's hold was settled: one hold, its whole release, a capture of exactly C.
      const holds = await db.all('SELECT status, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS amount FROM holds WHERE user_id = ? GROUP BY status', [userId]);
      expect(holds.map((h) => [h.status, Number(h.n), BigInt(String(h.amount))])).toEqual([['settled', ADMITTED, BigInt(ADMITTED) * H]]);
      const kinds = await db.all(
        'SELECT kind, COUNT(*) AS n, MIN(amount) AS lo, MAX(amount) AS hi FROM ledger WHERE user_id = ? GROUP BY kind ORDER BY kind',
        [userId],
      );
      expect(kinds.map((k) => [k.kind, Number(k.n), BigInt(String(k.lo)), BigInt(String(k.hi))])).toEqual([
        ['capture', ADMITTED, -COST, -COST],
        ['grant', 1, initial, initial],
        ['hold', ADMITTED, -H, -H],
        ['release', ADMITTED, H, H],
      ]);
      const usage = await db.all('SELECT status, COUNT(*) AS n, MIN(cost) AS lo, MAX(cost) AS hi FROM usage_events WHERE user_id = ? GROUP BY status', [userId]);
      expect(usage.map((u) => [u.status, Number(u.n), BigInt(String(u.lo)), BigInt(String(u.hi))])).toEqual([['ok', ADMITTED, COST, COST]]);

      const verify = await admin('GET', '/ledger/verify');
      expect(verify).toMatchObject({ ok: true, checked_users: 2, data: [], totals: { drift_credits: '0', open_holds: 0, unreleased_hold_entries: 0 } });
      process.stdout.write(`[billing-concurrency] ${name}: ${TOTAL} requests over ${replicas} process(es) in ${elapsed} ms, ${samples} balance samples\n`);
    } finally {
      if (sampler) clearInterval(sampler);
      gateOpen = true;
      for (const release of waiting.splice(0)) release();
      await Promise.all(gateways.map((g) => g.stop()));
      await agent.close();
      await mock.close();
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
