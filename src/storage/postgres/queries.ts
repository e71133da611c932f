// PostgreSQL hot-path statements. Each operation is ONE statement (one round trip): data-modifying CTEs
// chained through RETURNING, so the whole operation is atomic in autocommit. Semantics: ../ledger.ts.
//
// Remember when reading these: all CTEs see the same snapshot and run to completion whether or not the
// main query reads them; they see each other's effects only through RETURNING. Row locks + READ COMMITTED
// re-check (`WHERE … status = 'held'`, `WHERE balance >= …`) are what make concurrent calls safe.

import { KEY_AUTH_SELECT } from '../db.ts';
import { USAGE_COLUMNS } from '../usage-rows.ts';

// v4: also the user's rate-limit overrides (migration 0008). A new name, so a connection that prepared an older
// version never runs it against the new schema's expectations.
export const FIND_KEY = {
  name: 'sy_find_key_v4',
  text: `SELECT ${KEY_AUTH_SELECT} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = $1`,
};

// $1 request_id, $2 user_id, $3 amount, $4 expires_at ms, $5 now ms, $6…$9 the request's key id, model,
// endpoint and stream flag (HoldMeta, or NULLs).
// A concurrent duplicate of the same request id passes NOT EXISTS too, then fails on the holds primary key
// (23505) and is rolled back whole: the caller maps that to {ok: true}.
export const HOLD = {
  name: 'sy_hold_v2',
  text: `WITH u AS (
      UPDATE users SET balance = balance - $3::bigint
       WHERE id = $2 AND balance >= $3::bigint
         AND NOT EXISTS (SELECT 1 FROM holds WHERE request_id = $1)
      RETURNING balance
    ), h AS (
      INSERT INTO holds (request_id, user_id, amount, status, expires_at, created_at, key_id, model, endpoint, stream)
      SELECT $1, $2, $3::bigint, 'held', $4::bigint, $5::bigint, $6::text, $7::text, $8::text, $9::boolean FROM u
    ), l AS (
      INSERT INTO ledger (user_id, kind, amount, balance_after, request_id, created_at)
      SELECT $2, 'hold', -$3::bigint, balance, $1, $5::bigint FROM u
    )
    SELECT (SELECT balance FROM u) AS debited,
           (SELECT balance FROM users WHERE id = $2) AS balance,
           EXISTS (SELECT 1 FROM holds WHERE request_id = $1) AS existed`,
};

// A capped key's hold (spend caps, ../ledger.ts): the plpgsql function of migration 0006, one statement.
// $1 request_id, $2 user_id, $3 amount, $4 expires_at ms, $5 now ms, $6 key_id, $7 day start ms, $8 month start
// ms, $9 / $10 / $11 the day / month / total caps (null: none), $12–$15 the request's metadata (key, model,
// endpoint, stream) kept with the hold for the sweeper's usage event, as in HOLD.
export const HOLD_CAPPED = {
  name: 'sy_hold_capped_v2',
  text: `SELECT o_status, o_balance, o_spent FROM sy_hold_capped($1, $2, $3::bigint, $4::bigint, $5::bigint, $6,
           $7::bigint, $8::bigint, $9::bigint, $10::bigint, $11::bigint, $12::text, $13::text, $14::text, $15::boolean)`,
};

// Gives a capped key's periods back what a finished hold did not capture ($back, from u's h columns): each
// period the hold was counted in, if it is still the row's current one. Reads u, so the key_spend row is locked
// after the users row (../ledger.ts: lock order). No row for an uncapped key's hold (cap_key_id null).
const releaseSpend = (back: string): string => `ks AS (
      UPDATE key_spend SET
        day_amount = CASE WHEN key_spend.day_start = u.cap_day_start THEN GREATEST(key_spend.day_amount - ${back}, 0) ELSE key_spend.day_amount END,
        month_amount = CASE WHEN key_spend.month_start = u.cap_month_start THEN GREATEST(key_spend.month_amount - ${back}, 0) ELSE key_spend.month_amount END,
        total_amount = GREATEST(key_spend.total_amount - ${back}, 0)
        FROM u WHERE key_spend.key_id = u.cap_key_id
    )`;

/** The usage columns as parameters from $first on, each cast to its column's type; `held` may wrap its own. */
function usagePlaceholders(first: number, held: (p: string) => string = (p) => `${p}::bigint`): string[] {
  return USAGE_COLUMNS.map((column, i) => {
    const p = `$${i + first}`;
    switch (column) {
      case 'held': return held(p);
      case 'stream': return `${p}::boolean`;
      case 'created_at': return `${p}::bigint`;
      case 'input_tokens': case 'cached_input_tokens': case 'cache_write_tokens': case 'output_tokens':
      case 'reasoning_tokens': case 'price_version': case 'http_status': case 'latency_ms': case 'ttfb_ms':
      case 'upstream_status':
        return `${p}::integer`;
      default: return p;
    }
  });
}

// $1 request_id, $2 charge, $3 now ms, then $4… the usage columns in USAGE_COLUMNS order ($4 + i).
// usage.held ($16) is only used when no hold exists at all.
const usageValues = usagePlaceholders(4, (p) => `COALESCE((SELECT held FROM h), (SELECT amount FROM holds WHERE request_id = $1), ${p}::bigint)`);

export const SETTLE = {
  name: 'sy_settle_v3',
  text: `WITH h AS (
      UPDATE holds SET status = CASE WHEN LEAST($2::bigint, amount) > 0 THEN 'settled' ELSE 'released' END
       WHERE request_id = $1 AND status = 'held'
      RETURNING user_id, amount AS held, LEAST($2::bigint, amount) AS charged, cap_key_id, cap_day_start, cap_month_start
    ), u AS (
      UPDATE users SET balance = users.balance + h.held - h.charged
        FROM h WHERE users.id = h.user_id
      RETURNING users.id AS user_id, users.balance AS balance, h.held, h.charged, h.cap_key_id, h.cap_day_start, h.cap_month_start
    ), ${releaseSpend('(u.held - u.charged)')}, l AS (
      INSERT INTO ledger (user_id, kind, amount, balance_after, request_id, created_at)
      SELECT user_id, 'release', held, balance + charged, $1, $3::bigint FROM u
      UNION ALL
      SELECT user_id, 'capture', -charged, balance, $1, $3::bigint FROM u WHERE charged > 0
    ), e AS (
      INSERT INTO usage_events (request_id, ${USAGE_COLUMNS.join(', ')}, cost)
      VALUES ($1, ${usageValues.join(', ')}, COALESCE((SELECT charged FROM h), 0))
      ON CONFLICT (request_id) DO NOTHING
    )
    SELECT held, charged FROM u`,
};

// Metered billing (billing.mode: metered): the usage event alone, no hold, no ledger entry. $1 request_id,
// $2 cost, then $3… the usage columns in USAGE_COLUMNS order. Idempotent by request id.
const recordValues = usagePlaceholders(3);

export const RECORD_USAGE = {
  name: 'sy_record_usage_v2',
  text: `INSERT INTO usage_events (request_id, ${USAGE_COLUMNS.join(', ')}, cost)
    VALUES ($1, ${recordValues.join(', ')}, $2::bigint)
    ON CONFLICT (request_id) DO NOTHING`,
};

// Metered billing, many events in one statement (./batcher.ts): $1 a JSON array of usage events keyed by column
// (bigints as strings), cost included.
export const RECORD_USAGE_BATCH = {
  name: 'sy_record_usage_batch_v2',
  text: `INSERT INTO usage_events (request_id, ${USAGE_COLUMNS.join(', ')}, cost)
    SELECT request_id, ${USAGE_COLUMNS.join(', ')}, cost FROM jsonb_populate_recordset(NULL::usage_events, $1::jsonb)
    ON CONFLICT (request_id) DO NOTHING`,
};

// Group commit (./batcher.ts): the functions of migration 0007, one call for many holds / settles.
// HOLD_BATCH: $1 request ids, $2 user ids, $3 amounts, $4 expiries (ms), $5 now (ms), $6–$9 the metadata arrays.
export const HOLD_BATCH = {
  name: 'sy_hold_batch_v1',
  text: `SELECT o_status, o_balance FROM sy_hold_batch($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint,
           $6::text[], $7::text[], $8::text[], $9::boolean[])`,
};

// SETTLE_BATCH: $1 request ids, $2 charges, $3 now (ms), $4 the usage events (a JSON array of column → value).
export const SETTLE_BATCH = {
  name: 'sy_settle_batch_v1',
  text: `SELECT o_held, o_charged FROM sy_settle_batch($1::text[], $2::bigint[], $3::bigint, $4::jsonb)`,
};

export const EXPIRED_CANDIDATES = {
  name: 'sy_expired_candidates_v1',
  text: `SELECT request_id FROM holds WHERE status = 'held' AND expires_at < $1::bigint ORDER BY expires_at LIMIT $2`,
};

// $1 request_id, $2 now ms, $3 actor, $4 reason, $5 the usage event's error code. One hold per statement: a
// hold row lock then a user row lock, the same order as settle, so concurrent sweepers and settles cannot
// deadlock. The request's usage event (status 'expired', see ../ledger.ts) comes from the hold's metadata.
export const EXPIRE = {
  name: 'sy_expire_v3',
  text: `WITH h AS (
      UPDATE holds SET status = 'expired'
       WHERE request_id = $1 AND status = 'held' AND expires_at < $2::bigint
      RETURNING user_id, amount, key_id, model, endpoint, stream, created_at, cap_key_id, cap_day_start, cap_month_start
    ), e AS (
      INSERT INTO usage_events (request_id, user_id, key_id, model, provider, channel, endpoint, stream, input_tokens,
        cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, held, cost, price_version, status,
        http_status, error_code, latency_ms, ttfb_ms, attempts, created_at)
      SELECT $1, user_id, key_id, model, NULL, NULL, endpoint, COALESCE(stream, false), 0, 0, 0, 0, 0, amount, 0, NULL,
             'expired', 0, $5, 0, NULL, NULL, created_at
        FROM h WHERE key_id IS NOT NULL AND model IS NOT NULL AND endpoint IS NOT NULL
      ON CONFLICT (request_id) DO NOTHING
    ), u AS (
      UPDATE users SET balance = users.balance + h.amount FROM h WHERE users.id = h.user_id
      RETURNING users.id AS user_id, users.balance AS balance, h.amount, h.cap_key_id, h.cap_day_start, h.cap_month_start
    ), ${releaseSpend('u.amount')}, l AS (
      INSERT INTO ledger (user_id, kind, amount, balance_after, request_id, actor, reason, created_at)
      SELECT user_id, 'release', amount, balance, $1, $3, $4, $2::bigint FROM u
    )
    SELECT amount FROM u`,
};

// $1 user_id, $2 amount (signed), $3 kind, $4 payment_id, $5 actor, $6 reason, $7 now ms, $8 the credit limit
// (MAX_CREDITS: balance + open holds after a positive credit; ../ledger.ts). The checks run in numeric, so no
// value in the row can make them overflow; the SET only runs once they passed.
export const CREDIT = {
  name: 'sy_credit_v2',
  text: `WITH seen AS (
      SELECT 1 FROM ledger WHERE $4::text IS NOT NULL AND payment_id = $4::text AND kind = $3
    ), open AS (
      SELECT coalesce(sum(amount), 0) AS held FROM holds WHERE status = 'held' AND user_id = $1
    ), u AS (
      UPDATE users SET balance = balance + $2::bigint
       WHERE id = $1 AND balance::numeric + $2::bigint >= 0 AND NOT EXISTS (SELECT 1 FROM seen)
         AND ($2::bigint <= 0 OR balance::numeric + $2::bigint + (SELECT held FROM open) <= $8::numeric)
      RETURNING balance
    ), l AS (
      INSERT INTO ledger (user_id, kind, amount, balance_after, payment_id, actor, reason, created_at)
      SELECT $1, $3, $2::bigint, balance, $4::text, $5, $6, $7::bigint FROM u
    )
    SELECT (SELECT balance FROM u) AS credited,
           (SELECT balance FROM users WHERE id = $1) AS balance,
           EXISTS (SELECT 1 FROM seen) AS duplicate,
           (SELECT held FROM open)::text AS open_holds`,
};

// $1 key ids, $2 last-used ms (parallel arrays). last_used_at only moves forward.
export const TOUCH = {
  name: 'sy_touch_v1',
  text: `UPDATE api_keys AS k SET last_used_at = GREATEST(COALESCE(k.last_used_at, 0), v.t)
           FROM unnest($1::text[], $2::bigint[]) AS v(id, t) WHERE k.id = v.id`,
};
