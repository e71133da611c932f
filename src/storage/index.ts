// The storage entry point: `openStore(url)` picks the dialect from the URL; `store.migrate()` creates the
// tables. Only storage/ imports Kysely and the drivers; everything else uses the interfaces in ./types.ts.
//
//   sqlite:./data/switchyard.db     file relative to the working directory (parent directory created)
//   sqlite:/var/lib/switchyard.db   absolute path
//   sqlite::memory:                 private in-memory database (tests)
//   postgres://user@host:5432/db    also postgresql://; `?schema=NAME` (or options.schema) creates NAME if
//                                   missing and sets search_path=NAME on every pooled connection;
//                                   `?pool_max=N` (or options.poolMax) sizes the pool (default 10)

import { resolve } from 'node:path';
import type { Store } from './types.ts';
import { openSqlite } from './sqlite/store.ts';
import { openPostgres } from './postgres/store.ts';

export type * from './types.ts';
export { StorageConflictError } from './db.ts';
export { StorageUnavailableError, isUnavailable } from './availability.ts';
export { BalanceLimitError, InsufficientBalanceError, UnknownUserError } from './ledger.ts';

export interface OpenStoreOptions {
  /** PostgreSQL statement_timeout (and, plus 1 s, the client-side read timeout) in ms. Default 10 000. */
  statementTimeoutMs?: number;
  /** PostgreSQL: opening a connection or waiting for a free pooled one, in ms. Default 2 000. */
  connectTimeoutMs?: number;
  /** PostgreSQL: bound of a reachability probe and the stall that triggers one (availability.ts). Default 1 000. */
  probeTimeoutMs?: number;
  /** PostgreSQL schema (overrides `?schema=`). */
  schema?: string;
  /** PostgreSQL pool size (overrides `?pool_max=`). Default 10. */
  poolMax?: number;
  /** SQLite busy timeout in ms (waiting for another process's write lock). Default 5 000. */
  busyTimeoutMs?: number;
  /** PostgreSQL: told when the database becomes unreachable and when it is back (metadata only). */
  onAvailabilityChange?: (up: boolean, reason: string) => void;
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    if (rest === '') throw new RangeError('storage: sqlite URL needs a path, e.g. sqlite:./data/switchyard.db');
    const file = rest === ':memory:' ? ':memory:' : resolve(process.cwd(), rest);
    return openSqlite(file, options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {});
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const parsed = new URL(url);
    const schema = options.schema ?? (parsed.searchParams.get('schema') || undefined);
    const poolParam = parsed.searchParams.get('pool_max');
    const poolMax = options.poolMax ?? (poolParam ? Number.parseInt(poolParam, 10) : undefined);
    if (poolMax !== undefined && !(Number.isSafeInteger(poolMax) && poolMax > 0)) {
      throw new RangeError('storage: pool_max must be a positive integer');
    }
    // Our own parameters are not libpq's: strip them before pg parses the connection string.
    parsed.searchParams.delete('schema');
    parsed.searchParams.delete('pool_max');
    const { busyTimeoutMs: _sqliteOnly, schema: _schema, poolMax: _poolMax, ...timeouts } = options;
    return openPostgres(parsed.toString(), {
      ...timeouts,
      ...(schema !== undefined ? { schema } : {}),
      ...(poolMax !== undefined ? { poolMax } : {}),
    });
  }
  throw new RangeError('storage: unsupported database URL (expected sqlite:… or postgres://…)');
}
