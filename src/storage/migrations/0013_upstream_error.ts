// 0013: a failed request's usage event keeps what the upstream said, for the operator (GET /admin/v1/requests/{id}):
// its HTTP status, its error code or type, and its message scrubbed (src/domain/upstream-errors.ts) — metadata
// only, never a prompt. Null when the request did not fail upstream, and on events written before this migration.
// PostgreSQL: sy_settle_batch (0007) names the usage_events columns it inserts, so it is redefined with the new
// ones — the same body otherwise, with 0010's plan_cache_mode (CREATE OR REPLACE resets a function's settings).

import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

/** sy_settle_batch as 0007 defines it, inserting `extra` usage columns (read from the event's JSON) as well. */
function settleBatch(extra: readonly string[], settings: string) {
  const columns = extra.map((c) => `, ${c}`).join('');
  const values = extra.map((c) => `, e.${c}`).join('');
  return sql`
CREATE OR REPLACE FUNCTION sy_settle_batch(p_req text[], p_charge bigint[], p_now bigint, p_usage jsonb)
RETURNS TABLE (o_held bigint, o_charged bigint)
LANGUAGE plpgsql ${sql.raw(settings)} AS $fn$
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
      http_status, error_code, latency_ms, ttfb_ms, attempts, created_at, cost${sql.raw(columns)})
    SELECT p_req[e.i], e.user_id, e.key_id, e.model, e.provider, e.channel, e.endpoint, e.stream, e.input_tokens,
      e.cached_input_tokens, e.cache_write_tokens, e.output_tokens, e.reasoning_tokens,
      COALESCE(v_held[e.i], (SELECT h.amount FROM holds h WHERE h.request_id = p_req[e.i]), e.held),
      e.price_version, e.status, e.http_status, e.error_code, e.latency_ms, e.ttfb_ms, e.attempts, e.created_at,
      COALESCE(v_charged[e.i], 0)${sql.raw(values)}
      FROM (SELECT x.*, o.i FROM jsonb_array_elements(p_usage) WITH ORDINALITY AS o(doc, i)
              CROSS JOIN LATERAL jsonb_populate_record(NULL::usage_events, o.doc) AS x) AS e
    ON CONFLICT (request_id) DO NOTHING;

  RETURN QUERY SELECT v_held[i], v_charged[i] FROM generate_series(1, n) AS i ORDER BY i;
END
$fn$`;
}

const UPSTREAM_COLUMNS = ['upstream_status', 'upstream_code', 'upstream_message'] as const;
const CUSTOM_PLANS = 'SET plan_cache_mode = force_custom_plan';

export function upstreamError(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('usage_events').addColumn('upstream_status', 'integer').execute();
      await db.schema.alterTable('usage_events').addColumn('upstream_code', 'text').execute();
      await db.schema.alterTable('usage_events').addColumn('upstream_message', 'text').execute();
      if (dialect === 'postgres') await settleBatch(UPSTREAM_COLUMNS, CUSTOM_PLANS).execute(db);
    },
    async down(db: Kysely<unknown>): Promise<void> {
      if (dialect === 'postgres') await settleBatch([], CUSTOM_PLANS).execute(db);
      for (const column of [...UPSTREAM_COLUMNS].reverse()) await db.schema.alterTable('usage_events').dropColumn(column).execute();
    },
  };
}
