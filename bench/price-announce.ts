// How long announcing a price change takes on a large usage table: the one aggregate query that finds the
// model's users of the last 90 days (PricesRepo.recentUsers), then the whole announce (query + notification
// inserts). On SQLite the query runs on the gateway's own connection, so its duration is event-loop time.
//
//   node --import tsx bench/price-announce.ts
//   env: BENCH_EVENTS (usage events, default 1,000,000), BENCH_USERS (default 20,000), BENCH_MODELS (default 20),
//        BENCH_PG=1 (also PostgreSQL at SWITCHYARD_TEST_PG_URL or postgres://root@127.0.0.1:5432/test, in a
//        scratch schema dropped afterwards)
//
// Events are spread evenly over the last 120 days (so a 90-day window holds 3/4 of them); users take turns, and
// each full turn of the users is on the next model (so every model has every user in its window).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { announce, RECENT_USE_MS } from '../src/billing/prices.ts';
import { tokenRates } from '../src/domain/usage.ts';
import { openStore } from '../src/storage/index.ts';
import type { Store } from '../src/storage/types.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const USERS = Number(process.env.BENCH_USERS ?? 20_000);
const MODELS = Number(process.env.BENCH_MODELS ?? 20);
const DAY = 24 * 60 * 60 * 1000;
const now = Date.now();

const eventAt = (i: number): number => now - Math.floor((i / EVENTS) * 120 * DAY);

async function fillSqlite(file: string): Promise<void> {
  const db = new BetterSqlite3(file);
  const user = db.prepare('INSERT INTO users (id, email, status, balance, created_at) VALUES (?, ?, ?, 0, ?)');
  const event = db.prepare(
    `INSERT INTO usage_events (request_id, user_id, key_id, model, endpoint, stream, input_tokens, cached_input_tokens,
       cache_write_tokens, output_tokens, reasoning_tokens, held, cost, price_version, status, http_status, latency_ms, created_at)
     VALUES (?, ?, 'key_bench', ?, 'chat', 0, 100, 0, 0, 50, 0, 1000, 900, 1, 'ok', 200, 100, ?)`,
  );
  db.transaction(() => {
    for (let u = 0; u < USERS; u++) user.run(`usr_${u}`, `u${u}@bench.test`, 'active', now);
  })();
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) event.run(`req_${i}`, `usr_${i % USERS}`, `model-${Math.floor(i / USERS) % MODELS}`, eventAt(i));
  });
  for (let i = 0; i < EVENTS; i += 100_000) batch(i, Math.min(EVENTS, i + 100_000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.exec('ANALYZE');
  db.close();
}

async function fillPostgres(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET search_path = "${schema}"`);
    await client.query(`INSERT INTO users (id, email, status, balance, created_at)
      SELECT 'usr_' || u, 'u' || u || '@bench.test', 'active', 0, $1::bigint FROM generate_series(0, $2::int - 1) AS u`, [now, USERS]);
    await client.query(`INSERT INTO usage_events (request_id, user_id, key_id, model, endpoint, stream, input_tokens,
        cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, held, cost, price_version, status,
        http_status, latency_ms, created_at)
      SELECT 'req_' || i, 'usr_' || (i % $2::int), 'key_bench', 'model-' || ((i / $2::int) % $3::int), 'chat', false, 100, 0, 0, 50, 0,
        1000, 900, 1, 'ok', 200, 100, $4::bigint - floor(i::numeric / $1::int * 120 * $5::bigint)::bigint
      FROM generate_series(0, $1::int - 1) AS i`, [EVENTS, USERS, MODELS, now, DAY]);
    await client.query('ANALYZE usage_events');
  } finally {
    await client.end();
  }
}

async function measure(name: string, store: Store): Promise<string> {
  const since = new Date(now - RECENT_USE_MS);
  const times: number[] = [];
  let users = 0;
  for (let run = 0; run < 3; run++) {
    const t = performance.now();
    users = (await store.prices.recentUsers(`model-${run}`, since)).length;
    times.push(performance.now() - t);
  }
  const version = await store.prices.add({
    model: 'model-5', rates: tokenRates({ inputPerMtok: 1n, cachedInputPerMtok: 1n, cacheWritePerMtok: 1n, outputPerMtok: 1n }),
    effectiveFrom: new Date(now + 15 * DAY), source: 'admin', actor: 'bench', reason: null,
  });
  const t = performance.now();
  const notified = await announce(store, version, now);
  const announceMs = performance.now() - t;
  const median = [...times].sort((a, b) => a - b)[1] ?? 0;
  return `| ${name} | ${EVENTS.toLocaleString('en')} | ${users.toLocaleString('en')} | ${median.toFixed(0)} ms | ${notified.toLocaleString('en')} | ${announceMs.toFixed(0)} ms |`;
}

const rows: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-announce-'));
try {
  const file = join(dir, 'bench.db');
  const sqlite = await openStore(`sqlite:${file}`);
  await sqlite.migrate();
  await sqlite.close();
  await fillSqlite(file);
  const store = await openStore(`sqlite:${file}`);
  rows.push(await measure('SQLite', store));
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (process.env.BENCH_PG === '1') {
  const url = process.env.SWITCHYARD_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const store = await openStore(url, { schema, statementTimeoutMs: 60_000 });
  try {
    await store.migrate();
    await fillPostgres(url, schema);
    rows.push(await measure('PostgreSQL', store));
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

process.stdout.write(
  ['| database | usage events | users of the model in 90 days | recentUsers (median of 3) | notifications written | announce (query + inserts) |', '|---|---|---|---|---|---|', ...rows, ''].join('\n'),
);
