// Key scopes (spend caps, rate limits), the running spend a capped key has reserved or captured per period,
// user roles and the admin audit log. Design: docs/decisions/0013-key-spend-caps.md.
//
// - api_keys gets its limits: spend caps in micro-credits (per UTC day, per UTC month, in total) and
//   RPM / TPM / concurrent requests (null = no limit of that kind).
// - key_spend: one row per capped key, the amount counted against each period (captured cost + open holds),
//   with the period it belongs to. A capped hold reserves its worst case here in the same transaction (SQLite)
//   or statement (PostgreSQL) that debits the balance; settle and the sweeper give back what was not captured.
// - holds remember which key's spend they were counted in and in which periods (null for an uncapped key).
// - audit_log: who did what to whom through the admin API; details are metadata, never a secret.
// - sy_hold_capped (PostgreSQL only): the capped hold as one function call — one statement, one round trip.

import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

/**
 * The capped hold on PostgreSQL. Lock order users → key_spend, the order settle and the sweeper take them
 * (holds → users → key_spend), so they cannot deadlock. Each step reads the latest committed rows (a plpgsql
 * statement gets a fresh snapshot under READ COMMITTED), and nothing is written before every check passed.
 * Returns o_status: 'ok' | 'exists' (an earlier hold with this request id) | 'balance' | 'day' | 'month' | 'total';
 * o_balance: the balance (after the debit when ok); o_spent: what the refusing period had counted.
 * A concurrent duplicate of the same request id fails on the holds primary key (23505), rolled back whole.
 */
const HOLD_CAPPED_FUNCTION = sql`
CREATE OR REPLACE FUNCTION sy_hold_capped(
  p_request text, p_user text, p_amount bigint, p_expires bigint, p_now bigint,
  p_key text, p_day bigint, p_month bigint, p_cap_day bigint, p_cap_month bigint, p_cap_total bigint,
  p_meta_key text, p_model text, p_endpoint text, p_stream boolean)
RETURNS TABLE (o_status text, o_balance bigint, o_spent bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_balance bigint;
  v_day_start bigint; v_day bigint;
  v_month_start bigint; v_month bigint;
  v_total bigint;
BEGIN
  IF EXISTS (SELECT 1 FROM holds WHERE request_id = p_request) THEN
    RETURN QUERY SELECT 'exists'::text, NULL::bigint, NULL::bigint;
    RETURN;
  END IF;
  SELECT u.balance INTO v_balance FROM users u WHERE u.id = p_user FOR UPDATE;
  IF v_balance IS NULL OR v_balance < p_amount THEN
    RETURN QUERY SELECT 'balance'::text, v_balance, NULL::bigint;
    RETURN;
  END IF;
  INSERT INTO key_spend (key_id, day_start, day_amount, month_start, month_amount, total_amount)
    VALUES (p_key, p_day, 0, p_month, 0, 0) ON CONFLICT (key_id) DO NOTHING;
  SELECT s.day_start, s.day_amount, s.month_start, s.month_amount, s.total_amount
    INTO v_day_start, v_day, v_month_start, v_month, v_total
    FROM key_spend s WHERE s.key_id = p_key FOR UPDATE;
  -- A newer period starts from zero; a replica whose clock is behind counts into the newer period.
  IF v_day_start < p_day THEN v_day_start := p_day; v_day := 0; END IF;
  IF v_month_start < p_month THEN v_month_start := p_month; v_month := 0; END IF;
  IF p_cap_day IS NOT NULL AND v_day + p_amount > p_cap_day THEN
    RETURN QUERY SELECT 'day'::text, v_balance, v_day;
    RETURN;
  END IF;
  IF p_cap_month IS NOT NULL AND v_month + p_amount > p_cap_month THEN
    RETURN QUERY SELECT 'month'::text, v_balance, v_month;
    RETURN;
  END IF;
  IF p_cap_total IS NOT NULL AND v_total + p_amount > p_cap_total THEN
    RETURN QUERY SELECT 'total'::text, v_balance, v_total;
    RETURN;
  END IF;
  UPDATE key_spend SET day_start = v_day_start, day_amount = v_day + p_amount,
      month_start = v_month_start, month_amount = v_month + p_amount, total_amount = v_total + p_amount
    WHERE key_id = p_key;
  UPDATE users SET balance = balance - p_amount WHERE id = p_user RETURNING balance INTO v_balance;
  INSERT INTO holds (request_id, user_id, amount, status, expires_at, created_at, key_id, model, endpoint, stream,
      cap_key_id, cap_day_start, cap_month_start)
    VALUES (p_request, p_user, p_amount, 'held', p_expires, p_now, p_meta_key, p_model, p_endpoint, p_stream,
      p_key, v_day_start, v_month_start);
  INSERT INTO ledger (user_id, kind, amount, balance_after, request_id, created_at)
    VALUES (p_user, 'hold', -p_amount, v_balance, p_request, p_now);
  RETURN QUERY SELECT 'ok'::text, v_balance, NULL::bigint;
END
$fn$`;

export function limitsAdmin(dialect: Dialect): Migration {
  const pg = dialect === 'postgres';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('users').addColumn('role', 'text', (c) => c.notNull().defaultTo('user')).execute();
      await db.schema.createIndex('users_role_idx').on('users').columns(['role', 'created_at']).execute();

      for (const column of ['spend_cap_day', 'spend_cap_month', 'spend_cap_total']) {
        await db.schema.alterTable('api_keys').addColumn(column, 'bigint').execute();
      }
      for (const column of ['limit_rpm', 'limit_tpm', 'limit_concurrency']) {
        await db.schema.alterTable('api_keys').addColumn(column, 'integer').execute();
      }

      await db.schema
        .createTable('key_spend')
        .addColumn('key_id', 'text', (c) => c.primaryKey().references('api_keys.id'))
        /** Epoch ms of the UTC day the day_amount belongs to. */
        .addColumn('day_start', 'bigint', (c) => c.notNull())
        .addColumn('day_amount', 'bigint', (c) => c.notNull())
        /** Epoch ms of the first instant of the UTC month the month_amount belongs to. */
        .addColumn('month_start', 'bigint', (c) => c.notNull())
        .addColumn('month_amount', 'bigint', (c) => c.notNull())
        .addColumn('total_amount', 'bigint', (c) => c.notNull())
        .$call((b) => (pg ? b : b.modifyEnd(sql` without rowid`)))
        .execute();

      for (const column of ['cap_key_id', 'cap_day_start', 'cap_month_start']) {
        await db.schema.alterTable('holds').addColumn(column, column === 'cap_key_id' ? 'text' : 'bigint').execute();
      }

      await db.schema
        .createTable('audit_log')
        .addColumn('id', pg ? 'bigserial' : 'integer', (c) => c.primaryKey())
        /** 'admin-token', or the id of the user who acted. */
        .addColumn('actor', 'text', (c) => c.notNull())
        /** e.g. user.create, user.update, credits.adjust, key.create, key.update, key.revoke */
        .addColumn('action', 'text', (c) => c.notNull())
        /** The id acted upon (usr_…, key_…). */
        .addColumn('target', 'text')
        /** JSON object: what changed. Never a key, a hash, a password or a token. */
        .addColumn('details', 'text')
        .addColumn('ip', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_target_idx').on('audit_log').columns(['target', 'id']).execute();
      await db.schema.createIndex('audit_log_action_idx').on('audit_log').columns(['action', 'id']).execute();

      if (pg) await HOLD_CAPPED_FUNCTION.execute(db);
    },

    async down(db: Kysely<unknown>): Promise<void> {
      if (pg) await sql`DROP FUNCTION IF EXISTS sy_hold_capped`.execute(db);
      await db.schema.dropTable('audit_log').execute();
      for (const column of ['cap_month_start', 'cap_day_start', 'cap_key_id']) await db.schema.alterTable('holds').dropColumn(column).execute();
      await db.schema.dropTable('key_spend').execute();
      for (const column of ['limit_concurrency', 'limit_tpm', 'limit_rpm', 'spend_cap_total', 'spend_cap_month', 'spend_cap_day']) {
        await db.schema.alterTable('api_keys').dropColumn(column).execute();
      }
      await db.schema.dropIndex('users_role_idx').execute();
      await db.schema.alterTable('users').dropColumn('role').execute();
    },
  };
}
