// SQLite store: one better-sqlite3 connection shared by Kysely (admin/list queries, migrations) and the
// prepared hot-path statements (./ledger.ts).

import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Store } from '../types.ts';
import { Availability, guardStore } from '../availability.ts';
import type { Database } from '../db.ts';
import { accountQueries, sessionQueries, tokenQueries, usageConsoleQueries } from '../accounts.ts';
import { migrateToLatest } from '../migrations/index.ts';
import { auditRepo } from '../audit.ts';
import {
  createKey, createUser, getBalance, getKey, getUser, keySpend, listEntries, listKeysByUser, listUsers, notificationsRepo,
  requestEntries, revokeKey, setKeyExpiry, setKeyScopes, setUserRole, setUserRateLimits, setUserStatus, sumEntries, usageRepo, verifyLedger,
} from '../repos.ts';
import { startCheckpointer } from './checkpointer.ts';
import { GroupCommit } from './group-commit.ts';
import { sqliteAccountOps, type SqliteAccountOps } from './accounts.ts';
import { sqliteOps, type SqliteOps } from './ledger.ts';
import { sqliteReconcile } from './prices.ts';
import { pricesRepo } from '../prices.ts';

export interface SqliteOptions {
  /**
   * How long a writer waits for another process's write lock (SQLite busy timeout); past it, SQLITE_BUSY becomes
   * a 503 (../availability.ts). Default 5 s.
   */
  busyTimeoutMs?: number;
}

/**
 * The database holds account and billing data: its directory is created 0700 and the file 0600 (created here,
 * before SQLite opens it; an existing one is tightened). SQLite gives its -wal and -shm files the database
 * file's permissions.
 */
function privateFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

/** `file` is an absolute path or ':memory:'. */
export function openSqlite(file: string, options: SqliteOptions = {}): Store {
  if (file !== ':memory:') privateFile(file);
  const db = new BetterSqlite3(file, { timeout: options.busyTimeoutMs ?? 5_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // Every INTEGER comes back as bigint (money exactness); the mappers narrow small counters to number.
  db.defaultSafeIntegers(true);

  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: db }) });
  let prepared: SqliteOps | undefined;
  // Prepared on first use (or right after migrate): statements cannot be prepared before the tables exist.
  const ops = (): SqliteOps => (prepared ??= sqliteOps(db));
  let preparedAccounts: SqliteAccountOps | undefined;
  const accountOps = (): SqliteAccountOps => (preparedAccounts ??= sqliteAccountOps(db));
  const commits = new GroupCommit(db, { begin: () => ops().beginBatch(), end: () => ops().endBatch() });
  const checkpointer = file === ':memory:' ? undefined : startCheckpointer(db, file);

  // The file is local: "reachable" means the connection is open and answers.
  const availability = new Availability({
    probe: async () => {
      db.prepare('SELECT 1').get();
    },
  });

  const store: Store = {
    dialect: 'sqlite',
    users: {
      create: createUser(kysely), get: getUser(kysely), list: listUsers(kysely), setStatus: setUserStatus(kysely), setRole: setUserRole(kysely),
      setRateLimits: setUserRateLimits(kysely),
    },
    keys: {
      create: createKey(kysely),
      listByUser: listKeysByUser(kysely),
      get: getKey(kysely),
      revoke: revokeKey(kysely),
      setExpiry: setKeyExpiry(kysely),
      setScopes: setKeyScopes(kysely),
      spend: keySpend(kysely),
      findByHash: async (hash) => ops().findByHash(hash),
      touch: async (lastUsed) => ops().touch(lastUsed),
    },
    ledger: {
      credit: async (input) =>
        ({ balance: ops().credit({ ...input, paymentId: input.paymentId ?? null }) }),
      hold: (input) => commits.submit(() => ops().holdInBatch(input), () => ops().hold(input)),
      settle: (input) => commits.submit(() => ops().settleInBatch(input), () => ops().settle(input)),
      releaseExpired: async (now, limit) => ops().releaseExpired(now, limit),
      balance: getBalance(kysely),
      entries: listEntries(kysely),
      sum: sumEntries(kysely),
      requestEntries: requestEntries(kysely),
      verify: verifyLedger(kysely),
    },
    usage: {
      ...usageRepo(kysely),
      ...usageConsoleQueries(kysely),
      // One statement: inside a group commit's batch or, alone, its own implicit transaction.
      record: (event) => commits.submit(() => ops().recordUsage(event), () => ops().recordUsage(event)),
    },
    notifications: notificationsRepo(kysely),
    audit: auditRepo(kysely),
    prices: pricesRepo(kysely, sqliteReconcile(db)),
    accounts: {
      ...accountQueries(kysely),
      setPassword: async (input) => accountOps().setPassword(input),
      resetPassword: async (input) => accountOps().resetPassword(input),
      close: async (input) => accountOps().close(input),
    },
    sessions: sessionQueries(kysely),
    tokens: tokenQueries(kysely),
    async migrate() {
      await migrateToLatest(kysely as Kysely<unknown>, 'sqlite');
      ops();
    },
    ready: () => availability.ready(),
    async close() {
      availability.close();
      await checkpointer?.close();
      await kysely.destroy();
      if (db.open) db.close();
    },
  };
  return guardStore(store, availability);
}
