// openStore: URL forms, migrations, pragmas, schemas, timeouts and exact bigint money on both dialects.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../../src/storage/index.ts';
import { pgEnabled, pgTestUrl, storeBackends } from '../helpers/stores.ts';
import { email, inAMinute, rid } from './fixtures.ts';

const scratch = mkdtempSync(join(tmpdir(), 'switchyard-open-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('openStore (sqlite)', () => {
  it('resolves a relative path against the working directory, creates parent dirs, and persists', async () => {
    const absolute = join(scratch, 'nested', 'deeper', 'switchyard.db');
    const url = `sqlite:${relative(process.cwd(), absolute)}`;
    const store = await openStore(url);
    await store.migrate();
    await store.migrate(); // idempotent
    const user = await store.users.create(email());
    await store.close();
    expect(existsSync(absolute)).toBe(true);

    const raw = new BetterSqlite3(absolute, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();

    const reopened = await openStore(url);
    await reopened.migrate();
    expect((await reopened.users.get(user.id))?.email).toBe(user.email);
    await reopened.close();
  });

  it('opens a private in-memory database', async () => {
    const a = await openStore('sqlite::memory:');
    const b = await openStore('sqlite::memory:');
    await a.migrate();
    await b.migrate();
    const user = await a.users.create(email());
    expect(await a.users.get(user.id)).toBeDefined();
    expect(await b.users.get(user.id)).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('rejects unsupported URLs', async () => {
    await expect(openStore('mysql://localhost/db')).rejects.toThrow(/unsupported database URL/);
    await expect(openStore('sqlite:')).rejects.toThrow(/needs a path/);
  });

  it('gives up on a write lock held by another connection after the busy timeout', async () => {
    const file = join(scratch, 'busy.db');
    const store = await openStore(`sqlite:${file}`, { busyTimeoutMs: 150 });
    await store.migrate();
    const user = await store.users.create(email());
    await store.ledger.credit({ userId: user.id, kind: 'grant', amount: 100n, actor: 't', reason: null });
    const other = new BetterSqlite3(file);
    other.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    await expect(store.ledger.hold({ requestId: rid(), userId: user.id, amount: 1n, expiresAt: inAMinute() }))
      .rejects.toMatchObject({ name: 'StorageUnavailableError', cause: { code: 'SQLITE_BUSY' } }); // → 503 + Retry-After
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    other.exec('ROLLBACK');
    other.close();
    expect((await store.ledger.hold({ requestId: rid(), userId: user.id, amount: 1n, expiresAt: inAMinute() })).ok).toBe(true);
    await store.close();
  });
});

describe.each(storeBackends())('money is exact bigint on $name', (backend) => {
  it('round-trips amounts beyond 2^53 without loss', async () => {
    const store = await backend.open();
    try {
      const user = await store.users.create(email());
      // Beyond 2^53, within the ledger's limit (MAX_CREDITS ≈ 2^59.8, domain/money.ts).
      const big = 2n ** 59n + 12_345n;
      expect((await store.ledger.credit({ userId: user.id, kind: 'grant', amount: big, actor: 't', reason: null })).balance).toBe(big);
      const requestId = rid();
      expect((await store.ledger.hold({ requestId, userId: user.id, amount: 2n ** 58n + 1n, expiresAt: inAMinute() })).ok).toBe(true);
      expect(await store.ledger.balance(user.id)).toBe(big - 2n ** 58n - 1n);
      expect(await store.ledger.sum(user.id)).toBe(big - 2n ** 58n - 1n);
      const [hold] = await store.ledger.entries(user.id, { limit: 1 });
      expect(hold?.amount).toBe(-(2n ** 58n) - 1n);
      expect(typeof hold?.balanceAfter).toBe('bigint');
    } finally {
      await store.close();
    }
  });
});

describe.runIf(pgEnabled())('openStore (postgres)', () => {
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: pgTestUrl() });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  const dropSchema = (schema: string) => admin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));

  it('creates the ?schema= schema, migrates into it and isolates stores', async () => {
    const s1 = `sy_open_${randomBytes(5).toString('hex')}`;
    const s2 = `sy_open_${randomBytes(5).toString('hex')}`;
    const sep = pgTestUrl().includes('?') ? '&' : '?';
    const a = await openStore(`${pgTestUrl()}${sep}schema=${s1}`);
    const b = await openStore(pgTestUrl().replace(/^postgres:/, 'postgresql:'), { schema: s2 });
    try {
      await a.migrate();
      await a.migrate(); // idempotent
      await b.migrate();
      const tables = await admin((c) => c.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, [s1]));
      expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(
        ['api_keys', 'holds', 'kysely_migration', 'ledger', 'model_prices', 'usage_events', 'users']));
      const user = await a.users.create(email());
      expect(await a.users.get(user.id)).toBeDefined();
      expect(await b.users.get(user.id)).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([dropSchema(s1), dropSchema(s2)]);
    }
  });

  it('rejects an unsafe schema name', async () => {
    await expect(openStore(pgTestUrl(), { schema: 'x"; DROP TABLE users; --' })).rejects.toThrow(RangeError);
  });

  it('cancels a statement that runs past statementTimeoutMs', async () => {
    const schema = `sy_open_${randomBytes(5).toString('hex')}`;
    const store = await openStore(pgTestUrl(), { schema, statementTimeoutMs: 300 });
    const locker = new pg.Client({ connectionString: pgTestUrl() });
    try {
      await store.migrate();
      const user = await store.users.create(email());
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${schema}".users IN ACCESS EXCLUSIVE MODE`);
      const started = Date.now();
      // query_canceled → 503 + Retry-After
      await expect(store.users.get(user.id)).rejects.toMatchObject({ name: 'StorageUnavailableError', cause: { code: '57014' } });
      expect(Date.now() - started).toBeLessThan(5_000);
      await locker.query('ROLLBACK');
      expect((await store.users.get(user.id))?.id).toBe(user.id);
    } finally {
      await locker.end();
      await store.close();
      await dropSchema(schema);
    }
  });
});
