// Real databases for repository tests: SQLite always (a fresh temp file per open), PostgreSQL when
// SWITCHYARD_TEST_PG=1 (a fresh random schema per open, dropped when the store is closed).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from '../../src/storage/index.ts';
import type { Store } from '../../src/storage/types.ts';

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  open(): Promise<Store>;
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

export async function openSqliteTestStore(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  const store = await openStore(`sqlite:${join(dir, 'test.db')}`);
  await store.migrate();
  return withCleanup(store, async () => rmSync(dir, { recursive: true, force: true }));
}

export async function openPostgresTestStore(options: { poolMax?: number } = {}): Promise<Store> {
  const schema = `sy_test_${randomBytes(6).toString('hex')}`;
  const store = await openStore(pgTestUrl(), { schema, ...options });
  await store.migrate();
  return withCleanup(store, async () => {
    const client = new pg.Client({ connectionString: pgTestUrl() });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end();
    }
  });
}

export function storeBackends(): StoreBackend[] {
  const backends: StoreBackend[] = [{ name: 'sqlite', open: openSqliteTestStore }];
  if (pgEnabled()) backends.push({ name: 'postgres', open: () => openPostgresTestStore({ poolMax: 10 }) });
  return backends;
}
