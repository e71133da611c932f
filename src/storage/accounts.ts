// Accounts, sessions, one-time tokens and the console's usage queries, written once with Kysely for both
// dialects: each function is ONE statement (see the SQLite note in ./repos.ts). The multi-statement writes
// (password change, password reset, closing an account) live in sqlite/accounts.ts and postgres/accounts.ts.

import { sql, type Kysely } from 'kysely';
import type { MicroCredits } from '../domain/money.ts';
import type {
  AccountRecord, LoginRecord, SessionRecord, TokenPurpose, UsageAggregate, UsageEvent, UsagePageFilter, UserRecord,
} from './types.ts';
import { mapUsage } from './usage-rows.ts';
import { RATE_LIMIT_COLUMNS, mapUser, toBig, toDate, toDateOrNull, toNum, toUserStatus, type Database } from './db.ts';
import { checkLimit } from './ledger.ts';
import { insertUser } from './repos.ts';

const DAY_MS = 86_400_000;

export function accountQueries(db: Kysely<Database>) {
  return {
    create: (input: { email: string; passwordHash: string }): Promise<UserRecord> => insertUser(db, input.email, input.passwordHash),

    async findLogin(email: string): Promise<LoginRecord | undefined> {
      const row = await db.selectFrom('users').select(['id', 'status', 'password_hash']).where('email', '=', email).executeTakeFirst();
      return row && { userId: row.id, status: toUserStatus(row.status), passwordHash: row.password_hash };
    },

    async get(userId: string): Promise<AccountRecord | undefined> {
      const row = await db
        .selectFrom('users')
        .select(['id', 'email', 'status', 'role', 'balance', 'created_at', 'email_verified_at', 'closed_at', ...RATE_LIMIT_COLUMNS])
        .select(sql<number>`case when password_hash is null then 0 else 1 end`.as('has_password'))
        .where('id', '=', userId)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        user: mapUser(row),
        emailVerifiedAt: toDateOrNull(row.email_verified_at),
        hasPassword: toNum(row.has_password) === 1,
        closedAt: toDateOrNull(row.closed_at),
      };
    },

    async passwordHash(userId: string): Promise<string | null | undefined> {
      const row = await db.selectFrom('users').select('password_hash').where('id', '=', userId).where('status', '<>', 'closed').executeTakeFirst();
      return row === undefined ? undefined : row.password_hash;
    },

    async markEmailVerified(userId: string, at: Date): Promise<boolean> {
      const result = await db
        .updateTable('users')
        .set({ email_verified_at: at.getTime() })
        .where('id', '=', userId)
        .where('email_verified_at', 'is', null)
        .where('status', '<>', 'closed')
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async closedWithEmailHmac(emailHmac: string): Promise<number> {
      const row = await db
        .selectFrom('users')
        .select(sql<number>`count(*)`.as('n'))
        .where('email_hmac', '=', emailHmac)
        .where('status', '=', 'closed')
        .executeTakeFirst();
      return row ? toNum(row.n) : 0;
    },
  };
}

export function sessionQueries(db: Kysely<Database>) {
  return {
    async create(input: { hash: string; userId: string; now: Date; expiresAt: Date }): Promise<void> {
      const now = input.now.getTime();
      await db.insertInto('sessions').values({ hash: input.hash, user_id: input.userId, created_at: now, last_seen_at: now, expires_at: input.expiresAt.getTime() }).execute();
    },

    async find(hash: string): Promise<SessionRecord | undefined> {
      const row = await db
        .selectFrom('sessions as s')
        .innerJoin('users as u', 'u.id', 's.user_id')
        .select(['s.user_id', 's.created_at', 's.last_seen_at', 's.expires_at', 'u.status', 'u.email_verified_at'])
        .where('s.hash', '=', hash)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        userId: row.user_id,
        userStatus: toUserStatus(row.status),
        emailVerified: row.email_verified_at !== null,
        createdAt: toDate(row.created_at),
        lastSeenAt: toDate(row.last_seen_at),
        expiresAt: toDate(row.expires_at),
      };
    },

    async touch(hash: string, at: Date): Promise<void> {
      await db.updateTable('sessions').set({ last_seen_at: at.getTime() }).where('hash', '=', hash).execute();
    },

    async delete(hash: string): Promise<boolean> {
      const result = await db.deleteFrom('sessions').where('hash', '=', hash).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async deleteExpired(now: Date, idleBefore: Date): Promise<number> {
      const result = await db
        .deleteFrom('sessions')
        .where((eb) => eb.or([eb('expires_at', '<=', BigInt(now.getTime())), eb('last_seen_at', '<', BigInt(idleBefore.getTime()))]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export function tokenQueries(db: Kysely<Database>) {
  return {
    async create(input: { hash: string; userId: string; purpose: TokenPurpose; now: Date; expiresAt: Date }): Promise<void> {
      await db
        .insertInto('account_tokens')
        .values({ hash: input.hash, user_id: input.userId, purpose: input.purpose, created_at: input.now.getTime(), expires_at: input.expiresAt.getTime(), used_at: null })
        .execute();
    },

    async consume(hash: string, purpose: TokenPurpose, now: Date): Promise<string | undefined> {
      const at = now.getTime();
      const row = await db
        .updateTable('account_tokens')
        .set({ used_at: at })
        .where('hash', '=', hash)
        .where('purpose', '=', purpose)
        .where('used_at', 'is', null)
        .where('expires_at', '>', BigInt(at))
        .returning('user_id')
        .executeTakeFirst();
      return row?.user_id;
    },

    async peek(hash: string, purpose: TokenPurpose, now: Date): Promise<{ userId: string; expiresAt: Date } | undefined> {
      const row = await db
        .selectFrom('account_tokens')
        .select(['user_id', 'expires_at'])
        .where('hash', '=', hash)
        .where('purpose', '=', purpose)
        .where('used_at', 'is', null)
        .where('expires_at', '>', BigInt(now.getTime()))
        .executeTakeFirst();
      return row && { userId: row.user_id, expiresAt: toDate(row.expires_at) };
    },

    async deleteExpired(now: Date): Promise<number> {
      const result = await db.deleteFrom('account_tokens').where('expires_at', '<=', BigInt(now.getTime())).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

/** Integer sum that comes back as an int8 on both dialects (PostgreSQL's SUM(bigint) is NUMERIC). */
const sumOf = (column: string) => sql<bigint>`cast(coalesce(sum(${sql.ref(column)}), 0) as bigint)`;

export function usageConsoleQueries(db: Kysely<Database>) {
  return {
    async page(filter: UsagePageFilter): Promise<UsageEvent[]> {
      let query = db.selectFrom('usage_events').selectAll().where('user_id', '=', filter.userId);
      if (filter.from !== undefined) query = query.where('created_at', '>=', BigInt(filter.from.getTime()));
      if (filter.to !== undefined) query = query.where('created_at', '<', BigInt(filter.to.getTime()));
      if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId);
      const after = filter.after;
      if (after !== undefined) {
        const at = BigInt(after.createdAt.getTime());
        query = query.where((eb) =>
          eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('request_id', '<', after.requestId)])]),
        );
      }
      const rows = await query.orderBy('created_at', 'desc').orderBy('request_id', 'desc').limit(checkLimit(filter.limit)).execute();
      return rows.map(mapUsage);
    },

    async aggregate(filter: { userId: string; from: Date; to: Date }): Promise<UsageAggregate[]> {
      // Integer division of epoch milliseconds is the UTC day on both dialects (bigint / bigint truncates).
      const day = sql<bigint>`created_at / ${sql.lit(DAY_MS)}`;
      const rows = await db
        .selectFrom('usage_events')
        .select([
          day.as('day'),
          'model',
          'key_id',
          sql<bigint>`count(*)`.as('requests'),
          sumOf('input_tokens').as('input_tokens'),
          sumOf('cached_input_tokens').as('cached_input_tokens'),
          sumOf('cache_write_tokens').as('cache_write_tokens'),
          sumOf('output_tokens').as('output_tokens'),
          sumOf('reasoning_tokens').as('reasoning_tokens'),
          sumOf('cost').as('cost'),
        ])
        .where('user_id', '=', filter.userId)
        .where('created_at', '>=', BigInt(filter.from.getTime()))
        .where('created_at', '<', BigInt(filter.to.getTime()))
        .groupBy([day, 'model', 'key_id'])
        .orderBy(day)
        .orderBy('model')
        .orderBy('key_id')
        .execute();
      return rows.map((row) => ({
        day: toNum(row.day),
        model: row.model,
        keyId: row.key_id,
        requests: toNum(row.requests),
        inputTokens: toNum(row.input_tokens),
        cachedInputTokens: toNum(row.cached_input_tokens),
        cacheWriteTokens: toNum(row.cache_write_tokens),
        outputTokens: toNum(row.output_tokens),
        reasoningTokens: toNum(row.reasoning_tokens),
        cost: toBig(row.cost),
      }));
    },

    async spendByKey(userId: string): Promise<Map<string, MicroCredits>> {
      const rows = await db
        .selectFrom('usage_events')
        .select(['key_id', sumOf('cost').as('cost')])
        .where('user_id', '=', userId)
        .groupBy('key_id')
        .execute();
      return new Map(rows.map((row) => [row.key_id, toBig(row.cost)]));
    },
  };
}
