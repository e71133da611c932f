// 0007: PostgreSQL group commit for the hot path (docs/decisions/0015-postgres-group-commit.md).
// - sy_hold_batch: many uncapped holds in one call — one round trip, one row lock and one balance update per
//   user per batch instead of one per request.
// - sy_settle_batch: many settles in one call, likewise.
// Both keep ../ledger.ts's semantics item by item: each hold is checked against the balance the previous items
// of the batch left, in the order given; each settle is guarded by the hold's status. SQLite: nothing (its
// group commit is in-process, src/storage/sqlite/group-commit.ts).

import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

/**
 * Holds, item i = (p_req[i], p_user[i], p_amount[i], p_expires[i], meta p_key/p_model/p_endpoint/p_stream[i]),
 * all at p_now. The caller gives each request id once. Users are locked in id order (a deadlock-free order
 * shared with sy_settle_batch), and within one user the items are taken in the order given: each is admitted
 * when the balance left by the admitted ones before it covers it. Returns, in input order, o_status 'ok' |
 * 'exists' (a hold with this request id was already taken) | 'balance' (o_balance: the balance it saw, or
 * null for an unknown user). A concurrent hold of the same request id elsewhere makes the holds insert fail
 * (23505) and the whole call roll back: the caller retries item by item.
 */
const HOLD_BATCH = sql`
CREATE OR REPLACE FUNCTION sy_hold_batch(
  p_req text[], p_user text[], p_amount bigint[], p_expires bigint[], p_now bigint,
  p_key text[], p_model text[], p_endpoint text[], p_stream boolean[])
RETURNS TABLE (o_status text, o_balance bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  n int := coalesce(cardinality(p_req), 0);
  v_status text[] := array_fill(NULL::text, ARRAY[n]);
  v_balance bigint[] := array_fill(NULL::bigint, ARRAY[n]);
  v_exists text[];
  v_user text := NULL;
  v_bal bigint;
  v_start bigint;
  r record;
BEGIN
  v_exists := ARRAY(SELECT h.request_id FROM holds h WHERE h.request_id = ANY(p_req));
  FOR r IN SELECT t.u, t.i FROM unnest(p_user) WITH ORDINALITY AS t(u, i) ORDER BY t.u, t.i LOOP
    IF v_user IS DISTINCT FROM r.u THEN
      IF v_user IS NOT NULL AND v_bal IS DISTINCT FROM v_start THEN
        UPDATE users SET balance = v_bal WHERE id = v_user;
      END IF;
      v_user := r.u;
      SELECT u.balance INTO v_bal FROM users u WHERE u.id = r.u FOR UPDATE;
      v_start := v_bal;
    END IF;
    IF p_req[r.i] = ANY(v_exists) THEN
      v_status[r.i] := 'exists';
    ELSIF v_bal IS NOT NULL AND v_bal >= p_amount[r.i] THEN
      v_bal := v_bal - p_amount[r.i];
      v_status[r.i] := 'ok';
      v_balance[r.i] := v_bal;
    ELSE
      v_status[r.i] := 'balance';
      v_balance[r.i] := v_bal;
    END IF;
  END LOOP;
  IF v_user IS NOT NULL AND v_bal IS DISTINCT FROM v_start THEN
    UPDATE users SET balance = v_bal WHERE id = v_user;
  END IF;
  INSERT INTO holds (request_id, user_id, amount, status, expires_at, created_at, key_id, model, endpoint, stream)
    SELECT p_req[i], p_user[i], p_amount[i], 'held', p_expires[i], p_now, p_key[i], p_model[i], p_endpoint[i], p_stream[i]
      FROM generate_series(1, n) AS i WHERE v_status[i] = 'ok';
  -- Per user in admission order, so ledger ids follow each user's balance_after.
  INSERT INTO ledger (user_id, kind, amount, balance_after, request_id, created_at)
    SELECT p_user[i], 'hold', -p_amount[i], v_balance[i], p_req[i], p_now
      FROM generate_series(1, n) AS i WHERE v_status[i] = 'ok' ORDER BY p_user[i], i;
  RETURN QUERY SELECT v_status[i], v_balance[i] FROM generate_series(1, n) AS i ORDER BY i;
END
$fn$`;

/**
 * Settles, item i = (p_req[i], p_charge[i]) at p_now, with the request's usage event p_usage->(i-1) (a JSON
 * object keyed by usage_events column; held and cost are computed here). Each hold still 'held' is finished:
 * C = min(charge, H), 'release' +H then 'capture' -C (when C > 0), balance += H - C, a capped key's periods get
 * H - C back. Lock order holds → users (by id) → key_spend (by key), as sy_settle/the sweeper. The usage event
 * is inserted unless one exists (held = the hold's amount, cost = C, or 0 when nothing was applied). Returns,
 * in input order, o_held and o_charged (both null: not applied — a replay, or the sweeper got there first).
 */
const SETTLE_BATCH = sql`
CREATE OR REPLACE FUNCTION sy_settle_batch(p_req text[], p_charge bigint[], p_now bigint, p_usage jsonb)
RETURNS TABLE (o_held bigint, o_charged bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  n int := coalesce(cardinality(p_req), 0);
  v_held bigint[] := array_fill(NULL::bigint, ARRAY[n]);
  v_charged bigint[] := array_fill(NULL::bigint, ARRAY[n]);
  v_user text := NULL;
  v_bal bigint;
  l_user text[] := '{}'; l_kind text[] := '{}'; l_amount bigint[] := '{}'; l_after bigint[] := '{}'; l_req text[] := '{}';
  r record;
BEGIN
  FOR r IN
    WITH t AS (SELECT * FROM unnest(p_req, p_charge) WITH ORDINALITY AS t(req, charge, i)),
    f AS (
      UPDATE holds h SET status = CASE WHEN LEAST(t.charge, h.amount) > 0 THEN 'settled' ELSE 'released' END
        FROM t WHERE h.request_id = t.req AND h.status = 'held'
      RETURNING t.i, h.user_id, h.amount, LEAST(t.charge, h.amount) AS charged, h.cap_key_id, h.cap_day_start, h.cap_month_start
    )
    SELECT * FROM f ORDER BY f.user_id, f.i
  LOOP
    IF v_user IS DISTINCT FROM r.user_id THEN
      IF v_user IS NOT NULL THEN UPDATE users SET balance = v_bal WHERE id = v_user; END IF;
      v_user := r.user_id;
      SELECT u.balance INTO v_bal FROM users u WHERE u.id = r.user_id FOR UPDATE;
    END IF;
    v_held[r.i] := r.amount;
    v_charged[r.i] := r.charged;
    l_user := l_user || r.user_id; l_kind := l_kind || 'release'::text; l_amount := l_amount || r.amount;
    l_after := l_after || (v_bal + r.amount); l_req := l_req || p_req[r.i];
    v_bal := v_bal + r.amount - r.charged;
    IF r.charged > 0 THEN
      l_user := l_user || r.user_id; l_kind := l_kind || 'capture'::text; l_amount := l_amount || (-r.charged);
      l_after := l_after || v_bal; l_req := l_req || p_req[r.i];
    END IF;
  END LOOP;
  IF v_user IS NOT NULL THEN UPDATE users SET balance = v_bal WHERE id = v_user; END IF;

  -- A capped key's periods get back what was not captured, key by key after every user (lock order).
  FOR r IN
    SELECT h.cap_key_id, h.cap_day_start, h.cap_month_start, v_held[t.i] - v_charged[t.i] AS back
      FROM unnest(p_req) WITH ORDINALITY AS t(req, i) JOIN holds h ON h.request_id = t.req
     WHERE v_held[t.i] IS NOT NULL AND h.cap_key_id IS NOT NULL
     ORDER BY h.cap_key_id, t.i
  LOOP
    UPDATE key_spend SET
      day_amount = CASE WHEN day_start = r.cap_day_start THEN GREATEST(day_amount - r.back, 0) ELSE day_amount END,
      month_amount = CASE WHEN month_start = r.cap_month_start THEN GREATEST(month_amount - r.back, 0) ELSE month_amount END,
      total_amount = GREATEST(total_amount - r.back, 0)
    WHERE key_id = r.cap_key_id;
  END LOOP;

  INSERT INTO ledger (user_id, kind, amount, balance_after, request_id, created_at)
    SELECT l.u, l.k, l.a, l.b, l.r, p_now FROM unnest(l_user, l_kind, l_amount, l_after, l_req) WITH ORDINALITY AS l(u, k, a, b, r, o) ORDER BY l.o;

  INSERT INTO usage_events (request_id, user_id, key_id, model, provider, channel, endpoint, stream, input_tokens,
      cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, held, price_version, status,
      http_status, error_code, latency_ms, ttfb_ms, attempts, created_at, cost)
    SELECT p_req[e.i], e.user_id, e.key_id, e.model, e.provider, e.channel, e.endpoint, e.stream, e.input_tokens,
      e.cached_input_tokens, e.cache_write_tokens, e.output_tokens, e.reasoning_tokens,
      COALESCE(v_held[e.i], (SELECT h.amount FROM holds h WHERE h.request_id = p_req[e.i]), e.held),
      e.price_version, e.status, e.http_status, e.error_code, e.latency_ms, e.ttfb_ms, e.attempts, e.created_at,
      COALESCE(v_charged[e.i], 0)
      FROM (SELECT x.*, o.i FROM jsonb_array_elements(p_usage) WITH ORDINALITY AS o(doc, i)
              CROSS JOIN LATERAL jsonb_populate_record(NULL::usage_events, o.doc) AS x) AS e
    ON CONFLICT (request_id) DO NOTHING;

  RETURN QUERY SELECT v_held[i], v_charged[i] FROM generate_series(1, n) AS i ORDER BY i;
END
$fn$`;

export function batchLedger(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect !== 'postgres') return;
      await HOLD_BATCH.execute(db);
      await SETTLE_BATCH.execute(db);
    },
    async down(db: Kysely<unknown>): Promise<void> {
      if (dialect !== 'postgres') return;
      await sql`DROP FUNCTION IF EXISTS sy_settle_batch`.execute(db);
      await sql`DROP FUNCTION IF EXISTS sy_hold_batch`.execute(db);
    },
  };
}
