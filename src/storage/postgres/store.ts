// PostgreSQL store: one pg Pool shared by Kysely (admin/list queries, migrations, prices) and the
// single-statement hot path (./ledger.ts). Every call is bounded: connect (and waiting for a pooled
// connection) by connectTimeoutMs, a statement by statement_timeout on the server and a read timeout on the
// client; a dead peer is noticed by TCP keepalive, a black-holed one by ../availability.ts.

import pg from 'pg';
import { Kysely, PostgresDialect, type PostgresCursor, type PostgresPool, type PostgresPoolClient, type PostgresQueryResult } from 'kysely';
import type { Store } from '../types.ts';
import { Availability, guardStore, isUnavailable } from '../availability.ts';
import type { Database } from '../db.ts';
import { accountQueries, sessionQueries, tokenQueries, usageConsoleQueries } from '../accounts.ts';
import { migrateToLatest } from '../migrations/index.ts';
import { auditRepo } from '../audit.ts';
import {
  createKey, createUser, getBalance, getKey, getUser, keySpend, listEntries, listKeysByUser, listUsers, notificationsRepo,
  requestEntries, revokeKey, setKeyExpiry, setKeyScopes, setUserRole, setUserRateLimits, setUserStatus, sumEntries, usageRepo, verifyLedger,
} from '../repos.ts';
import { pgAccountOps } from './accounts.ts';
import { pgOps } from './ledger.ts';
import { pgReconcile } from './prices.ts';
import { pricesRepo } from '../prices.ts';

export interface PostgresOptions {
  /** Server-side statement_timeout and (plus 1 s) the client-side query timeout. Default 10 s. */
  statementTimeoutMs?: number;
  /** Opening a connection, or waiting for a free pooled one. Default 2 s. */
  connectTimeoutMs?: number;
  /** Bound of a reachability probe (and of a stall that triggers one): see ../availability.ts. Default 1 s. */
  probeTimeoutMs?: number;
  /** Told when the database becomes unreachable and when it is back (metadata only). */
  onAvailabilityChange?: (up: boolean, reason: string) => void;
  /** Schema to create (if missing) and put alone on every pooled connection's search_path. */
  schema?: string;
  /** Pool size. Default 10. */
  poolMax?: number;
}

const INT8_OID = 20;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** int8 → bigint for this pool only (the global pg.types stay untouched); everything else as pg does. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => BigInt(value);
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export async function openPostgres(connectionString: string, options: PostgresOptions = {}): Promise<Store> {
  const timeout = options.statementTimeoutMs ?? 10_000;
  const connectTimeout = options.connectTimeoutMs ?? 2_000;
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new RangeError('storage: schema must match /^[a-z_][a-z0-9_]{0,62}$/');
  }
  const pool = new pg.Pool({
    connectionString,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: connectTimeout,
    statement_timeout: timeout,
    query_timeout: timeout + 1_000,
    idle_in_transaction_session_timeout: timeout,
    // A peer that vanished (host down, connection state lost) is noticed by the kernel, not only by a timeout.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
    types,
  });
  // An idle client's connection error must not crash the process: the pool discards that client.
  pool.on('error', () => undefined);

  try {
    if (schema !== undefined) await ensureSchema(pool, schema);
  } catch (error) {
    await pool.end();
    throw error;
  }

  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: discardingBroken(pool) }) });
  const ops = pgOps(pool);
  const accountOps = pgAccountOps(pool);

  const availability = new Availability({
    probe: (ms) => probe(connectionString, ms),
    ...(options.probeTimeoutMs !== undefined ? { probeTimeoutMs: options.probeTimeoutMs } : {}),
    ...(options.onAvailabilityChange ? { onChange: options.onAvailabilityChange } : {}),
  });

  const store: Store = {
    dialect: 'postgres',
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
      findByHash: ops.findByHash,
      touch: ops.touch,
    },
    ledger: {
      credit: async (input) => ({ balance: await ops.credit({ ...input, paymentId: input.paymentId ?? null }) }),
      hold: ops.hold,
      settle: ops.settle,
      batching: ops.batching,
      releaseExpired: ops.releaseExpired,
      balance: getBalance(kysely),
      entries: listEntries(kysely),
      sum: sumEntries(kysely),
      requestEntries: requestEntries(kysely),
      verify: verifyLedger(kysely),
    },
    usage: { ...usageRepo(kysely), ...usageConsoleQueries(kysely), record: (event) => ops.recordUsage(event) },
    notifications: notificationsRepo(kysely),
    audit: auditRepo(kysely),
    prices: pricesRepo(kysely, pgReconcile(kysely)),
    accounts: { ...accountQueries(kysely), ...accountOps },
    sessions: sessionQueries(kysely),
    tokens: tokenQueries(kysely),
    async migrate() {
      // Kysely's bookkeeping tables must live in the schema being migrated (see migrations/index.ts).
      const current = await pool.query<{ schema: string | null }>('SELECT current_schema() AS schema');
      const target = schema ?? current.rows[0]?.schema ?? 'public';
      await migrateToLatest(kysely as Kysely<unknown>, 'postgres', target);
    },
    ready: () => availability.ready(),
    async close() {
      availability.close();
      await kysely.destroy(); // ends the pool if Kysely ever used it…
      if (!pool.ended) await pool.end(); // …and this covers a store only the hot path touched.
    },
  };
  return guardStore(store, availability);
}

/**
 * The pool as Kysely sees it: a connection whose query failed because the connection itself is broken or stuck
 * (reset, read timeout), or that reported an error while lent out, goes back with the error, so the pool destroys
 * it instead of lending it out again. (pool.query, the hot path's, does both by itself.)
 */
function discardingBroken(pool: pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      let broken: Error | undefined;
      // While lent out the pool does not listen: a reset between two queries would otherwise crash the process.
      const onError = (error: Error): void => {
        broken = error;
      };
      client.on('error', onError);
      const note = (error: unknown): never => {
        if (isUnavailable(error) && error instanceof Error) broken = error;
        throw error;
      };
      function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
      function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
      function query<R>(first: string | PostgresCursor<R>, parameters: ReadonlyArray<unknown> = []): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
        if (typeof first !== 'string') return (client as unknown as { query(cursor: PostgresCursor<R>): PostgresCursor<R> }).query(first);
        return client.query(first, [...parameters]).then((result) => result as unknown as PostgresQueryResult<R>, note);
      }
      return {
        query,
        release: () => {
          client.off('error', onError);
          client.release(broken);
        },
      };
    },
    end: () => pool.end(),
  };
}

/** A fresh connection (never a pooled one, which may be the stuck part), SELECT 1, closed: within `timeoutMs`. */
async function probe(connectionString: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, statement_timeout: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    // Ends at once on a live peer; a silent one's socket is destroyed rather than left half-closed.
    void client.end().catch(() => undefined);
    const stream = client.connection.stream;
    setTimeout(() => stream.destroy(), timeoutMs).unref();
  }
}

async function ensureSchema(pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } catch (error) {
    // Two processes creating the same schema at once: IF NOT EXISTS can still race (23505 / 42P06).
    const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
    if (code !== '23505' && code !== '42P06') throw error;
  }
}
