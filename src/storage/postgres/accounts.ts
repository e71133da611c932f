// PostgreSQL multi-statement account writes, each ONE statement (data-modifying CTEs chained through
// RETURNING, atomic in autocommit). Semantics: AccountsRepo in ../types.ts; the SQLite twin is
// ../sqlite/accounts.ts. All CTEs share one snapshot: a row changed by one CTE must not be matched by another
// (hence `hash <> $1` where the consumed token would otherwise match again).

import type pg from 'pg';
import type { CloseAccountInput, CloseAccountOutcome } from '../types.ts';

// $1 user id, $2 password hash, $3 session hash to keep ('' keeps none).
const SET_PASSWORD = `WITH u AS (
    UPDATE users SET password_hash = $2 WHERE id = $1 AND status <> 'closed' RETURNING id
  ), s AS (
    DELETE FROM sessions WHERE user_id IN (SELECT id FROM u) AND hash <> $3
  ), t AS (
    DELETE FROM account_tokens WHERE user_id IN (SELECT id FROM u) AND purpose = 'reset_password' AND used_at IS NULL
  )
  SELECT id FROM u`;

// $1 token hash, $2 password hash, $3 now ms.
const RESET_PASSWORD = `WITH t AS (
    UPDATE account_tokens SET used_at = $3::bigint
     WHERE hash = $1 AND purpose = 'reset_password' AND used_at IS NULL AND expires_at > $3::bigint
    RETURNING user_id
  ), u AS (
    UPDATE users SET password_hash = $2, email_verified_at = COALESCE(email_verified_at, $3::bigint)
      FROM t WHERE users.id = t.user_id AND users.status <> 'closed'
    RETURNING users.id
  ), s AS (
    DELETE FROM sessions WHERE user_id IN (SELECT id FROM u)
  ), o AS (
    DELETE FROM account_tokens
     WHERE user_id IN (SELECT id FROM u) AND purpose = 'reset_password' AND used_at IS NULL AND hash <> $1
  )
  SELECT id FROM u`;

// $1 user id, $2 email HMAC, $3 actor, $4 now ms, $5 reason. The user row is locked first (the same order as
// hold and settle: user row, then the rows that follow), so a concurrent hold waits or has finished.
const CLOSE = `WITH u AS (
    SELECT id, balance FROM users WHERE id = $1 AND status <> 'closed' FOR UPDATE
  ), k AS (
    UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $4::bigint), name = ''
     WHERE user_id IN (SELECT id FROM u) RETURNING id
  ), c AS (
    UPDATE users SET balance = 0, status = 'closed', email = 'closed:' || users.id, email_hmac = $2,
                     password_hash = NULL, closed_at = $4::bigint
      FROM u WHERE users.id = u.id
    RETURNING users.id, u.balance AS forfeited
  ), l AS (
    INSERT INTO ledger (user_id, kind, amount, balance_after, actor, reason, created_at)
    SELECT id, 'adjustment', -forfeited, 0, $3, $5, $4::bigint FROM c WHERE forfeited > 0
  ), s AS (
    DELETE FROM sessions WHERE user_id IN (SELECT id FROM c)
  ), t AS (
    DELETE FROM account_tokens WHERE user_id IN (SELECT id FROM c)
  ), n AS (
    DELETE FROM notifications WHERE user_id IN (SELECT id FROM c)
  )
  SELECT c.forfeited, COALESCE((SELECT array_agg(id) FROM k), '{}') AS key_ids FROM c`;

export function pgAccountOps(pool: pg.Pool) {
  return {
    async setPassword(input: { userId: string; passwordHash: string; keepSession?: string }): Promise<boolean> {
      const { rows } = await pool.query<{ id: string }>(SET_PASSWORD, [input.userId, input.passwordHash, input.keepSession ?? '']);
      return rows.length > 0;
    },

    async resetPassword(input: { tokenHash: string; passwordHash: string; now: Date }): Promise<string | undefined> {
      const { rows } = await pool.query<{ id: string }>(RESET_PASSWORD, [input.tokenHash, input.passwordHash, input.now.getTime()]);
      return rows[0]?.id;
    },

    async close(input: CloseAccountInput): Promise<CloseAccountOutcome | undefined> {
      const values = [input.userId, input.emailHmac, input.actor, Date.now(), input.reason];
      const { rows } = await pool.query<{ forfeited: bigint; key_ids: string[] }>(CLOSE, values);
      const row = rows[0];
      return row && { forfeited: row.forfeited, revokedKeyIds: row.key_ids };
    },
  };
}
