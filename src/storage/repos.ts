// Admin and list queries, written once with Kysely for both dialects. The hot path (key lookup, hold,
// settle) and multi-statement writes live in sqlite/ and postgres/ instead.
//
// SQLite note: Kysely and the hot path share one better-sqlite3 connection, so nothing here may open an
// interactive (awaiting) transaction on SQLite: every function below is a single statement.

import { sql, type Kysely } from 'kysely';
import type { MicroCredits } from '../domain/money.ts';
import type { ApiKeyRecord, LedgerEntry, UsageEvent, UsageRepo, UserRecord, UserStatus } from './types.ts';
import {
  StorageConflictError, isUniqueViolation, mapKey, mapLedger, mapUsage, mapUser, newKeyId, newUserId, toBig,
  type Database,
} from './db.ts';
import { checkLimit } from './ledger.ts';

export function createUser(db: Kysely<Database>) {
  return async (email: string): Promise<UserRecord> => {
    const row = { id: newUserId(), email, status: 'active', balance: 0n, created_at: Date.now() };
    try {
      await db.insertInto('users').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new StorageConflictError('a user with this email already exists', { cause: error });
      throw error;
    }
    return mapUser(row);
  };
}

export function getUser(db: Kysely<Database>) {
  return async (id: string): Promise<UserRecord | undefined> => {
    const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && mapUser(row);
  };
}

export function listUsers(db: Kysely<Database>) {
  return async (page: { limit: number; offset: number }): Promise<UserRecord[]> => {
    const rows = await db
      .selectFrom('users')
      .selectAll()
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
    const result = await db.updateTable('users').set({ status }).where('id', '=', id).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  };
}

export function createKey(db: Kysely<Database>) {
  return async (input: {
    userId: string; name: string; hash: string; prefix: string; allowedModels?: string[] | null;
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

const KEY_COLUMNS = ['id', 'user_id', 'name', 'prefix', 'created_at', 'revoked_at', 'last_used_at'] as const;

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

export function getKey(db: Kysely<Database>) {
  return async (id: string): Promise<ApiKeyRecord | undefined> => {
    const row = await db.selectFrom('api_keys').select(KEY_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && mapKey(row);
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

export function getBalance(db: Kysely<Database>) {
  return async (userId: string): Promise<MicroCredits | undefined> => {
    const row = await db.selectFrom('users').select('balance').where('id', '=', userId).executeTakeFirst();
    return row && toBig(row.balance);
  };
}

export function listEntries(db: Kysely<Database>) {
  return async (userId: string, page: { limit: number; beforeId?: string }): Promise<LedgerEntry[]> => {
    let query = db
      .selectFrom('ledger')
      .select(['id', 'user_id', 'kind', 'amount', 'balance_after', 'request_id', 'actor', 'reason', 'created_at'])
      .where('user_id', '=', userId);
    if (page.beforeId !== undefined) {
      if (!/^\d+$/.test(page.beforeId)) throw new RangeError('storage: beforeId must be a ledger entry id');
      query = query.where('id', '<', BigInt(page.beforeId));
    }
    const rows = await query.orderBy('id', 'desc').limit(checkLimit(page.limit)).execute();
    return rows.map(mapLedger);
  };
}

export function sumEntries(db: Kysely<Database>) {
  return async (userId: string): Promise<MicroCredits> => {
    // SUM(bigint) is NUMERIC on PostgreSQL: cast back so both dialects return an int8.
    const row = await db
      .selectFrom('ledger')
      .select(sql<bigint>`cast(coalesce(sum(amount), 0) as bigint)`.as('total'))
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row ? toBig(row.total) : 0n;
  };
}

export function usageRepo(db: Kysely<Database>): UsageRepo {
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
