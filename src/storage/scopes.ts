// Key scopes and the spend a capped key has counted (docs/decisions/0013-key-spend-caps.md). Admin queries, one
// statement each (see the SQLite note in ./repos.ts); the hot path (capped hold, settle) is in sqlite/ and postgres/.

import { sql, type Kysely } from 'kysely';
import { spendPeriods } from '../domain/periods.ts';
import type { ApiKeyRecord, KeyScopesPatch, KeySpend } from './types.ts';
import { KEY_LIMIT_COLUMNS, mapKey, toBig, type Database } from './db.ts';

export const KEY_COLUMNS = [
  'id', 'user_id', 'name', 'prefix', 'allowed_models', 'created_at', 'revoked_at', 'last_used_at', 'expires_at', ...KEY_LIMIT_COLUMNS,
] as const;

type ScopeColumns = Partial<{
  allowed_models: string | null;
  expires_at: number | null;
  spend_cap_day: bigint | null;
  spend_cap_month: bigint | null;
  spend_cap_total: bigint | null;
  limit_rpm: number | null;
  limit_tpm: number | null;
  limit_concurrency: number | null;
}>;

/** The api_keys columns a scopes patch sets (absent fields are left out). */
export function scopeColumns(patch: KeyScopesPatch): ScopeColumns {
  const out: ScopeColumns = {};
  if (patch.allowedModels !== undefined) out.allowed_models = patch.allowedModels === null ? null : JSON.stringify(patch.allowedModels);
  if (patch.expiresAt !== undefined) out.expires_at = patch.expiresAt === null ? null : patch.expiresAt.getTime();
  const caps = patch.spendCaps ?? {};
  if (caps.day !== undefined) out.spend_cap_day = caps.day;
  if (caps.month !== undefined) out.spend_cap_month = caps.month;
  if (caps.total !== undefined) out.spend_cap_total = caps.total;
  const limits = patch.rateLimits ?? {};
  if (limits.rpm !== undefined) out.limit_rpm = limits.rpm;
  if (limits.tpm !== undefined) out.limit_tpm = limits.tpm;
  if (limits.concurrency !== undefined) out.limit_concurrency = limits.concurrency;
  return out;
}

const hasCap = (k: ApiKeyRecord): boolean => k.spendCaps.day !== null || k.spendCaps.month !== null || k.spendCaps.total !== null;

export function getKey(db: Kysely<Database>) {
  return async (id: string): Promise<ApiKeyRecord | undefined> => {
    const row = await db.selectFrom('api_keys').select(KEY_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && mapKey(row);
  };
}

/**
 * A key's spend row, (re)started from its usage events: what it was charged this UTC day, this UTC month and
 * ever. Used when a key gets its first cap (holds of an uncapped key are not counted in key_spend).
 */
async function seedSpend(db: Kysely<Database>, key: ApiKeyRecord, now: number): Promise<void> {
  const { dayStart, monthStart } = spendPeriods(now);
  // SUM(bigint) is NUMERIC on PostgreSQL: cast back so both dialects store an int8.
  await sql`
    INSERT INTO key_spend (key_id, day_start, day_amount, month_start, month_amount, total_amount)
    SELECT CAST(${key.id} AS text), CAST(${dayStart} AS bigint),
           CAST(COALESCE(SUM(CASE WHEN created_at >= ${dayStart} THEN cost ELSE 0 END), 0) AS bigint),
           CAST(${monthStart} AS bigint),
           CAST(COALESCE(SUM(CASE WHEN created_at >= ${monthStart} THEN cost ELSE 0 END), 0) AS bigint),
           CAST(COALESCE(SUM(cost), 0) AS bigint)
      FROM usage_events WHERE user_id = ${key.userId} AND key_id = ${key.id}
    ON CONFLICT (key_id) DO UPDATE SET day_start = excluded.day_start, day_amount = excluded.day_amount,
      month_start = excluded.month_start, month_amount = excluded.month_amount, total_amount = excluded.total_amount`.execute(db);
}

export function setKeyScopes(db: Kysely<Database>) {
  const get = getKey(db);
  return async (id: string, patch: KeyScopesPatch): Promise<ApiKeyRecord | undefined> => {
    const before = await get(id);
    if (!before) return undefined;
    const columns = scopeColumns(patch);
    if (Object.keys(columns).length > 0) await db.updateTable('api_keys').set(columns).where('id', '=', id).execute();
    const after = await get(id);
    if (after && hasCap(after) && !hasCap(before)) await seedSpend(db, after, Date.now());
    return after;
  };
}

export function keySpend(db: Kysely<Database>) {
  return async (id: string, now: Date): Promise<KeySpend> => {
    const row = await db.selectFrom('key_spend').selectAll().where('key_id', '=', id).executeTakeFirst();
    if (!row) return { day: 0n, month: 0n, total: 0n };
    const { dayStart, monthStart } = spendPeriods(now.getTime());
    return {
      day: toBig(row.day_start) >= BigInt(dayStart) ? toBig(row.day_amount) : 0n,
      month: toBig(row.month_start) >= BigInt(monthStart) ? toBig(row.month_amount) : 0n,
      total: toBig(row.total_amount),
    };
  };
}
