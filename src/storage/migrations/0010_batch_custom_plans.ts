// 0010: the group-commit functions of 0007 plan their statements for the batch at hand, every call.
//
// PL/pgSQL caches each statement's plan per connection, and after a few calls it may keep a *generic* plan, made
// without the parameter values and with the table statistics of that moment. sy_hold_batch's
// `holds.request_id = ANY(p_req)` was planned that way on a new database, when `holds` was empty: a sequential
// scan. Nothing replans until the table is analyzed, so every batch read the whole table and a hold cost more the
// longer the gateway ran (measured on a fresh database: 0.14 → 0.45 ms of PostgreSQL CPU per hold over 38,400
// holds; with this migration, a flat 0.04–0.05 ms). sy_settle_batch joins the batch against `holds` the same way;
// it was not measured slower, but it has the same hazard and gets the same setting.
// `plan_cache_mode = force_custom_plan` for the two functions makes each call plan with its real arrays and the
// table's current size — an index lookup per request id — at a planning cost shared by the whole batch.
// SQLite: nothing (no such functions).

import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

const HOLD_BATCH = sql.raw('sy_hold_batch(text[], text[], bigint[], bigint[], bigint, text[], text[], text[], boolean[])');
const SETTLE_BATCH = sql.raw('sy_settle_batch(text[], bigint[], bigint, jsonb)');

export function batchCustomPlans(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect !== 'postgres') return;
      await sql`ALTER FUNCTION ${HOLD_BATCH} SET plan_cache_mode = force_custom_plan`.execute(db);
      await sql`ALTER FUNCTION ${SETTLE_BATCH} SET plan_cache_mode = force_custom_plan`.execute(db);
    },
    async down(db: Kysely<unknown>): Promise<void> {
      if (dialect !== 'postgres') return;
      await sql`ALTER FUNCTION ${HOLD_BATCH} RESET plan_cache_mode`.execute(db);
      await sql`ALTER FUNCTION ${SETTLE_BATCH} RESET plan_cache_mode`.execute(db);
    },
  };
}
