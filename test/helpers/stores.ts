// Real databases for repository tests: SQLite always (a fresh temp file per open), PostgreSQL when
// SWITCHYARD_TEST_PG=1 (a fresh random schema per open, dropped when the store is closed).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../../src/storage/index.ts';
import type { Store } from '../../src/storage/types.ts';

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  open(): Promise<Store>;
  /** A store plus a second, raw connection to the same database (for tests that must tamper with it). */
  openRaw(): Promise<RawStore>;
}

export interface RawStore {
  store: Store;
  /** Runs one SQL statement on the store's database, outside the store. */
  exec(statement: string): Promise<void>;
}

export const pgTestUrl = (): string => process.env.SWITCHYARD_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
export const pgEnabled = (): boolean => process.env.SWITCHYARD_TEST_PG === '1';

/** Wraps close() so the backend's scratch space goes away with the store. */
function withCleanup(store: Store, cleanup: () => Promise<void>): Store {
  let closed = false;
  return {
    ...store,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await store.close();
      } finally {
        await cleanup();
      }
    },
  };
}

async function openSqliteRaw(): Promise<RawStore> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  const file = join(dir, 'test.db');
  const store = await openStore(`sqlite:${file}`);
  await store.migrate();
  const raw = new BetterSqlite3(file, { timeout: 5_000 });
  return {
    store: withCleanup(store, async () => {
      raw.close();
      rmSync(dir, { recursive: true, force: true });
    }),
    exec: async (statement) => {
      raw.exec(statement);
    },
  };
}

export async function openSqliteTestStore(): Promise<Store> {
  return (await openSqliteRaw()).store;
}

async function openPostgresRaw(options: { poolMax?: number } = {}): Promise<RawStore> {
  const schema = `sy_test_${randomBytes(6).toString('hex')}`;
  const store = await openStore(pgTestUrl(), { schema, ...options });
  await store.migrate();
  const client = new pg.Client({ connectionString: pgTestUrl(), options: `-c search_path=${schema}`, statement_timeout: 10_000 });
  await client.connect();
  return {
    store: withCleanup(store, async () => {
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    }),
    exec: async (statement) => {
      await client.query(statement);
    },
  };
}

export async function openPostgresTestStore(options: { poolMax?: number } = {}): Promise<Store> {
  return (await openPostgresRaw(options)).store;
}

export function storeBackends(): StoreBackend[] {
  const backends: StoreBackend[] = [{ name: 'sqlite', open: openSqliteTestStore, openRaw: openSqliteRaw }];
  if (pgEnabled()) {
    backends.push({ name: 'postgres', open: () => openPostgresTestStore({ poolMax: 10 }), openRaw: () => openPostgresRaw({ poolMax: 10 }) });
  }
  return backends;
}
