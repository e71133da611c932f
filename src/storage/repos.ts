// Admin and list queries, written once with Kysely for both dialects. The hot path (key lookup, hold,
// settle) and multi-statement writes live in sqlite/ and postgres/ instead.
//
// SQLite note: Kysely and the hot path share one better-sqlite3 connection, so nothing here may open an
// interactive (awaiting) transaction on SQLite: every function below is a single statement.

import { sql, type Kysely } from 'kysely';
import type { MicroCredits } from '../domain/money.ts';
import type {
  AccountRateLimits, ApiKeyRecord, KeyScopesPatch, LedgerCheck, LedgerEntry, MailableNotification, NewNotification, NotificationRecord, NotificationsRepo, UsageEvent,
  UsageRepo, UserFilter, UserRecord, UserRole, UserStatus,
} from './types.ts';
import {
  LEDGER_COLUMNS, StorageConflictError, isUniqueViolation, mapKey, mapLedger, mapUser, newKeyId, newNotificationId,
  newUserId, toBig, toDate, toDateOrNull, toNum, type Database,
} from './db.ts';
import { mapUsage } from './usage-rows.ts';
import { checkLimit } from './ledger.ts';
import { KEY_COLUMNS, scopeColumns } from './scopes.ts';

export { getKey, keySpend, setKeyScopes } from './scopes.ts';

/** A new active user (with a password hash when signing up; without when an admin creates it). */
export async function insertUser(db: Kysely<Database>, email: string, passwordHash: string | null = null): Promise<UserRecord> {
  const row = {
    id: newUserId(), email, status: 'active', role: 'user', balance: 0n, created_at: Date.now(), password_hash: passwordHash,
    limit_rpm: null, limit_tpm: null, limit_concurrency: null,
  };
  try {
    await db.insertInto('users').values(row).execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new StorageConflictError('a user with this email already exists', { cause: error });
    throw error;
  }
  return mapUser(row);
}

export function createUser(db: Kysely<Database>) {
  return (email: string): Promise<UserRecord> => insertUser(db, email);
}

export function getUser(db: Kysely<Database>) {
  return async (id: string): Promise<UserRecord | undefined> => {
    const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && mapUser(row);
  };
}

/** A LIKE pattern (escape character: backslash) matching `text` anywhere, `%` and `_` literally. */
function likeSubstring(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function listUsers(db: Kysely<Database>) {
  return async (page: UserFilter): Promise<UserRecord[]> => {
    let query = db.selectFrom('users').selectAll();
    if (page.email !== undefined && page.email !== '') {
      query = query.where(sql<boolean>`lower(email) LIKE ${likeSubstring(page.email)} ESCAPE '\\'`);
    }
    if (page.status !== undefined) query = query.where('status', '=', page.status);
    if (page.role !== undefined) query = query.where('role', '=', page.role);
    const rows = await query
      .orderBy('created_at')
      .orderBy('id')
      .limit(checkLimit(page.limit))
      .offset(checkLimit(page.offset))
      .execute();
    return rows.map(mapUser);
  };
}

export function setUserStatus(db: Kysely<Database>) {
  return async (id: string, status: UserStatus): Promise<boolean> => {
    // A closed account stays closed (its data is erased; reopening it would revive nothing).
    const result = await db.updateTable('users').set({ status }).where('id', '=', id).where('status', '<>', 'closed').executeTakeFirst();
    return result.numUpdatedRows > 0n;
  };
}

export function setUserRole(db: Kysely<Database>) {
  return async (id: string, role: UserRole): Promise<boolean> => {
    const result = await db.updateTable('users').set({ role }).where('id', '=', id).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  };
}

/** Sets an account's rate-limit overrides: absent fields unchanged, null clears (back to the config default). */
export function setUserRateLimits(db: Kysely<Database>) {
  return async (id: string, patch: Partial<AccountRateLimits>): Promise<boolean> => {
    const columns: { limit_rpm?: number | null; limit_tpm?: number | null; limit_concurrency?: number | null } = {};
    if (patch.rpm !== undefined) columns.limit_rpm = patch.rpm;
    if (patch.tpm !== undefined) columns.limit_tpm = patch.tpm;
    if (patch.concurrency !== undefined) columns.limit_concurrency = patch.concurrency;
    // Nothing to change: still says whether the user exists.
    if (Object.keys(columns).length === 0) {
      return (await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
    }
    const result = await db.updateTable('users').set(columns).where('id', '=', id).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  };
}

export function createKey(db: Kysely<Database>) {
  return async (input: {
    userId: string; name: string; hash: string; prefix: string; allowedModels?: string[] | null; expiresAt?: Date | null;
    scopes?: KeyScopesPatch;
  }): Promise<ApiKeyRecord> => {
    const row = {
      id: newKeyId(),
      user_id: input.userId,
      name: input.name,
      hash: input.hash,
      prefix: input.prefix,
      allowed_models: input.allowedModels == null ? null : JSON.stringify(input.allowedModels),
      created_at: Date.now(),
      revoked_at: null,
      last_used_at: null,
      expires_at: input.expiresAt == null ? null : input.expiresAt.getTime(),
      spend_cap_day: null,
      spend_cap_month: null,
      spend_cap_total: null,
      limit_rpm: null,
      limit_tpm: null,
      limit_concurrency: null,
      ...scopeColumns(input.scopes ?? {}),
    };
    try {
      await db.insertInto('api_keys').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new StorageConflictError('an API key with this hash already exists', { cause: error });
      throw error;
    }
    return mapKey(row);
  };
}

export function listKeysByUser(db: Kysely<Database>) {
  return async (userId: string): Promise<ApiKeyRecord[]> => {
    const rows = await db
      .selectFrom('api_keys')
      .select(KEY_COLUMNS)
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(mapKey);
  };
}

export function revokeKey(db: Kysely<Database>) {
  return async (id: string): Promise<boolean> => {
    const result = await db
      .updateTable('api_keys')
      .set({ revoked_at: Date.now() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  };
}

export function setKeyExpiry(db: Kysely<Database>) {
  return async (id: string, expiresAt: Date | null): Promise<boolean> => {
    const result = await db
      .updateTable('api_keys')
      .set({ expires_at: expiresAt === null ? null : expiresAt.getTime() })
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  };
}

export function getBalance(db: Kysely<Database>) {
  return async (userId: string): Promise<MicroCredits | undefined> => {
    const row = await db.selectFrom('users').select('balance').where('id', '=', userId).executeTakeFirst();
    return row && toBig(row.balance);
  };
}

export function listEntries(db: Kysely<Database>) {
  return async (userId: string, page: { limit: number; beforeId?: string }): Promise<LedgerEntry[]> => {
    let query = db.selectFrom('ledger').select(LEDGER_COLUMNS).where('user_id', '=', userId);
    if (page.beforeId !== undefined) {
      if (!/^\d+$/.test(page.beforeId)) throw new RangeError('storage: beforeId must be a ledger entry id');
      query = query.where('id', '<', BigInt(page.beforeId));
    }
    const rows = await query.orderBy('id', 'desc').limit(checkLimit(page.limit)).execute();
    return rows.map(mapLedger);
  };
}

/**
 * Σ of an integer expression, exact on both dialects: SQLite's sum() fails on an integer overflow (a sum can pass
 * int64 where no single value does, e.g. a database damaged before the ledger's bounds), so the high and low 32
 * bits are summed apart — neither sum can overflow — and joined in bigint (joinSum). PostgreSQL's NUMERIC sums
 * are cast back to int8. `as` names the two columns `<as>_hi` and `<as>_lo`.
 */
function splitSum(expression: string, as: string) {
  const part = (bits: string) => `cast(coalesce(sum((${expression}) ${bits}), 0) as bigint)`;
  return sql.raw(`${part('>> 32')} AS ${as}_hi, ${part('& 4294967295')} AS ${as}_lo`);
}

/** A value read back from a money column; a REAL left by an old overflow is truncated, never a thrown 500. */
function lenientBig(value: unknown): bigint {
  if (typeof value === 'number') return Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n;
  return value === null || value === undefined ? 0n : toBig(value);
}

const joinSum = (hi: unknown, lo: unknown): bigint => (lenientBig(hi) << 32n) + lenientBig(lo);

export function sumEntries(db: Kysely<Database>) {
  return async (userId: string): Promise<MicroCredits> => {
    const { rows } = await sql<{ total_hi: unknown; total_lo: unknown }>`
      SELECT ${splitSum('amount', 'total')} FROM ledger WHERE user_id = ${userId}`.execute(db);
    const row = rows[0];
    return row ? joinSum(row.total_hi, row.total_lo) : 0n;
  };
}

export function requestEntries(db: Kysely<Database>) {
  return async (userId: string, requestId: string): Promise<LedgerEntry[]> => {
    // The (request_id, kind) unique index finds the few entries of one request.
    const rows = await db
      .selectFrom('ledger')
      .select(LEDGER_COLUMNS)
      .where('request_id', '=', requestId)
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute();
    return rows.map(mapLedger);
  };
}

interface CheckRow {
  user_id: string;
  balance: unknown;
  balance_invalid: unknown;
  total_hi: unknown;
  total_lo: unknown;
  invalid_entries: unknown;
  open_holds: unknown;
  open_amount_hi: unknown;
  open_amount_lo: unknown;
  hold_entries: unknown;
  held_hi: unknown;
  held_lo: unknown;
  release_entries: unknown;
  released_hi: unknown;
  released_lo: unknown;
}

/**
 * One statement per page of users (decision 0008): the page, then the ledger and the open holds of exactly those
 * users, each aggregated with GROUP BY over an index range (user_id between the page's first and last id), so a
 * page costs what its users' entries cost and every figure comes from one snapshot. Amounts are summed exactly
 * (splitSum), and a value that is not an integer (a REAL from an overflow before the ledger's bounds; SQLite only)
 * is counted, so a damaged database is reported, never answered with a 500.
 */
export function verifyLedger(db: Kysely<Database>) {
  return async (page: { afterUserId?: string; limit: number }): Promise<LedgerCheck[]> => {
    const after = page.afterUserId ?? '';
    const limit = checkLimit(page.limit);
    const int8 = (expression: string) => sql.raw(`cast(coalesce(${expression}, 0) as bigint)`);
    const { rows } = await sql<CheckRow>`
      WITH page AS (
        SELECT id, balance FROM users WHERE id > ${after} ORDER BY id LIMIT ${limit}
      ), bounds AS (
        SELECT min(id) AS lo, max(id) AS hi FROM page
      ), l AS (
        SELECT user_id,
               ${splitSum('amount', 'total')},
               sum(CASE WHEN amount = cast(amount AS bigint) THEN 0 ELSE 1 END) AS invalid_entries,
               sum(CASE WHEN kind = 'hold' THEN 1 ELSE 0 END) AS hold_entries,
               ${splitSum("CASE WHEN kind = 'hold' THEN -amount ELSE 0 END", 'held')},
               sum(CASE WHEN kind = 'release' THEN 1 ELSE 0 END) AS release_entries,
               ${splitSum("CASE WHEN kind = 'release' THEN amount ELSE 0 END", 'released')}
          FROM ledger
         WHERE user_id >= (SELECT lo FROM bounds) AND user_id <= (SELECT hi FROM bounds)
         GROUP BY user_id
      ), h AS (
        SELECT user_id, count(*) AS open_holds, ${splitSum('amount', 'open_amount')}
          FROM holds
         WHERE status = 'held' AND user_id >= (SELECT lo FROM bounds) AND user_id <= (SELECT hi FROM bounds)
         GROUP BY user_id
      )
      SELECT page.id AS user_id, page.balance,
             CASE WHEN page.balance = cast(page.balance AS bigint) THEN 0 ELSE 1 END AS balance_invalid,
             ${int8('l.total_hi')} AS total_hi, ${int8('l.total_lo')} AS total_lo, ${int8('l.invalid_entries')} AS invalid_entries,
             ${int8('h.open_holds')} AS open_holds,
             ${int8('h.open_amount_hi')} AS open_amount_hi, ${int8('h.open_amount_lo')} AS open_amount_lo,
             ${int8('l.hold_entries')} AS hold_entries, ${int8('l.held_hi')} AS held_hi, ${int8('l.held_lo')} AS held_lo,
             ${int8('l.release_entries')} AS release_entries,
             ${int8('l.released_hi')} AS released_hi, ${int8('l.released_lo')} AS released_lo
        FROM page
        LEFT JOIN l ON l.user_id = page.id
        LEFT JOIN h ON h.user_id = page.id
       ORDER BY page.id`.execute(db);
    return rows.map((row) => ({
      userId: row.user_id,
      balance: lenientBig(row.balance),
      ledgerSum: joinSum(row.total_hi, row.total_lo),
      openHolds: toNum(row.open_holds),
      openHoldAmount: joinSum(row.open_amount_hi, row.open_amount_lo),
      unreleasedHolds: toNum(row.hold_entries) - toNum(row.release_entries),
      unreleasedHoldAmount: joinSum(row.held_hi, row.held_lo) - joinSum(row.released_hi, row.released_lo),
      invalidValues: toNum(row.balance_invalid) + toNum(row.invalid_entries),
    }));
  };
}

export function usageRepo(db: Kysely<Database>): Pick<UsageRepo, 'list' | 'get'> {
  return {
    async list(filter: { userId?: string; limit: number; beforeCreatedAt?: Date }): Promise<UsageEvent[]> {
      let query = db.selectFrom('usage_events').selectAll();
      if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
      if (filter.beforeCreatedAt !== undefined) query = query.where('created_at', '<', BigInt(filter.beforeCreatedAt.getTime()));
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('request_id', 'desc')
        .limit(checkLimit(filter.limit))
        .execute();
      return rows.map(mapUsage);
    },
    async get(requestId: string): Promise<UsageEvent | undefined> {
      const row = await db.selectFrom('usage_events').selectAll().where('request_id', '=', requestId).executeTakeFirst();
      return row && mapUsage(row);
    },
  };
}

/** A JSON object column (notifications.data, audit_log.details); anything else reads as null. */
export function parseData(value: string | null): Record<string, unknown> | null {
  if (value === null) return null;
  const parsed: unknown = JSON.parse(value);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
}

export function notificationsRepo(db: Kysely<Database>): NotificationsRepo {
  return {
    async create(items: ReadonlyArray<NewNotification>): Promise<number> {
      if (items.length === 0) return 0;
      const now = Date.now();
      let inserted = 0;
      // Chunks keep each statement under SQLite's bound-parameter limit; a single statement per chunk (no
      // interactive transaction: see the SQLite note at the top).
      for (let i = 0; i < items.length; i += 500) {
        const rows = items.slice(i, i + 500).map((n) => ({
          id: newNotificationId(),
          user_id: n.userId,
          kind: n.kind,
          subject: n.subject,
          body: n.body,
          data: n.data == null ? null : JSON.stringify(n.data),
          dedupe_key: n.dedupeKey ?? null,
          created_at: now,
          read_at: null,
          mailed_at: null,
        }));
        const result = await db
          .insertInto('notifications')
          .values(rows)
          .onConflict((oc) => oc.columns(['user_id', 'dedupe_key']).doNothing())
          .executeTakeFirst();
        inserted += Number(result.numInsertedOrUpdatedRows ?? 0n);
      }
      return inserted;
    },
    async claimForMail(now: Date, limit: number): Promise<MailableNotification[]> {
      const candidates = await db
        .selectFrom('notifications as n')
        .innerJoin('users as u', 'u.id', 'n.user_id')
        .select(['n.id', 'n.user_id', 'n.kind', 'n.subject', 'n.body', 'u.email', 'u.status'])
        .where('n.mailed_at', 'is', null)
        .where((eb) => eb.or([eb('n.mail_retry_at', 'is', null), eb('n.mail_retry_at', '<=', BigInt(now.getTime()))]))
        .orderBy('n.created_at')
        .limit(checkLimit(limit))
        .execute();
      const claimed: MailableNotification[] = [];
      for (const c of candidates) {
        const result = await db
          .updateTable('notifications')
          .set({ mailed_at: BigInt(now.getTime()) })
          .where('id', '=', c.id)
          .where('mailed_at', 'is', null)
          .executeTakeFirst();
        // Another replica got it first, or the account is closed (its address erased): nothing to send.
        if (Number(result.numUpdatedRows) !== 1 || c.status === 'closed' || !c.email.includes('@')) continue;
        claimed.push({ id: c.id, userId: c.user_id, email: c.email, kind: c.kind, subject: c.subject, body: c.body });
      }
      return claimed;
    },
    async retryMail(id: string, retryAt: (attempts: number) => Date, maxAttempts: number): Promise<{ attempts: number; retry: boolean } | null> {
      const row = await db.selectFrom('notifications').select(['mail_attempts', 'mailed_at']).where('id', '=', id).executeTakeFirst();
      if (!row || row.mailed_at === null) return null;
      const attempts = Number(row.mail_attempts) + 1;
      const retry = attempts < maxAttempts;
      // Conditional on the attempts read: two failures reported at once count once each, never lost.
      const result = await db
        .updateTable('notifications')
        .set({ mail_attempts: attempts, ...(retry ? { mailed_at: null, mail_retry_at: retryAt(attempts).getTime() } : {}) })
        .where('id', '=', id)
        .where('mail_attempts', '=', Number(row.mail_attempts))
        .where('mailed_at', 'is not', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1 ? { attempts, retry } : null;
    },
    async list(userId: string, page: { limit: number; unreadOnly?: boolean }): Promise<NotificationRecord[]> {
      let query = db.selectFrom('notifications').selectAll().where('user_id', '=', userId);
      if (page.unreadOnly) query = query.where('read_at', 'is', null);
      const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(checkLimit(page.limit)).execute();
      return rows.map((row) => ({
        id: row.id,
        userId: row.user_id,
        kind: row.kind,
        subject: row.subject,
        body: row.body,
        data: parseData(row.data),
        createdAt: toDate(row.created_at),
        readAt: toDateOrNull(row.read_at),
      }));
    },
    async markRead(userId: string, id: string): Promise<boolean> {
      const result = await db
        .updateTable('notifications')
        .set({ read_at: Date.now() })
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .where('read_at', 'is', null)
        .executeTakeFirst();
      if (result.numUpdatedRows > 0n) return true;
      const exists = await db.selectFrom('notifications').select('id').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
      return exists !== undefined;
    },
  };
}
