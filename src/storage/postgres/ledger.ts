// PostgreSQL hot path: each operation is one named (server-side prepared) statement through the pg Pool,
// see ./queries.ts. Semantics: ../ledger.ts (the same on both dialects).

import type pg from 'pg';
import { MAX_CREDITS, type MicroCredits } from '../../domain/money.ts';
import type { HoldCaps, HoldOutcome, HoldRequest, KeyAuthRecord, SettleOutcome, SettleRequest, SpendPeriod, UsageEvent } from '../types.ts';
import { isUniqueViolation, mapKeyAuth, type KeyAuthRow } from '../db.ts';
import {
  BalanceLimitError, EXPIRED_CODE, EXPIRED_REASON, InsufficientBalanceError, SWEEPER_ACTOR, UnknownUserError, beyondAnyBalance,
  checkCredit, checkHold, checkLimit, checkSettle, storableUsage,
} from '../ledger.ts';
import { CREDIT, EXPIRE, EXPIRED_CANDIDATES, FIND_KEY, HOLD, HOLD_BATCH, HOLD_CAPPED, RECORD_USAGE, RECORD_USAGE_BATCH, SETTLE, SETTLE_BATCH, TOUCH } from './queries.ts';
import { Batcher } from './batcher.ts';
import { USAGE_COLUMNS, usageRow, type UsageValue } from '../usage-rows.ts';

interface HoldResult { debited: bigint | null; balance: bigint | null; existed: boolean }
interface CappedHoldResult { o_status: 'ok' | 'exists' | 'balance' | SpendPeriod; o_balance: bigint | null; o_spent: bigint | null }
interface SettleResult { held: bigint; charged: bigint }
interface BatchHoldResult { o_status: 'ok' | 'exists' | 'balance'; o_balance: bigint | null }
interface BatchSettleResult { o_held: bigint | null; o_charged: bigint | null }
interface CreditResult { credited: bigint | null; balance: bigint | null; duplicate: boolean; open_holds: string | null }

/** The request's metadata kept with its hold (key, model, endpoint, stream), for the sweeper's usage event. */
function metaValues(input: HoldRequest): Array<string | boolean | null> {
  const meta = input.meta;
  return [meta?.keyId ?? null, meta?.model ?? null, meta?.endpoint ?? null, meta?.stream ?? null];
}

function usageValues(u: UsageEvent): UsageValue[] {
  const row = usageRow(u);
  return USAGE_COLUMNS.map((column) => row[column]);
}

/** The usage event as sy_settle_batch reads it: a JSON object keyed by column, bigints as strings. */
function usageJson(u: UsageEvent): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [column, value] of Object.entries(usageRow(u))) out[column] = typeof value === 'bigint' ? value.toString() : value;
  return out;
}

/**
 * Runs `run` once per distinct key of `inputs` (the first occurrence) and maps the outputs back to every
 * input; a repeated key gets `repeat(first output)`. A batch never carries the same request id twice.
 */
async function distinct<In, Out>(inputs: In[], key: (input: In) => string, run: (unique: In[]) => Promise<Out[]>, repeat: (first: Out) => Out): Promise<Out[]> {
  const index = new Map<string, number>();
  const unique: In[] = [];
  const slots = inputs.map((input) => {
    const k = key(input);
    const seen = index.get(k);
    if (seen !== undefined) return { at: seen, repeated: true };
    index.set(k, unique.length);
    unique.push(input);
    return { at: unique.length - 1, repeated: false };
  });
  const outputs = await run(unique);
  if (outputs.length !== unique.length) throw new Error(`ledger batch: ${outputs.length} results for ${unique.length} operations`);
  return slots.map(({ at, repeated }) => (repeated ? repeat(outputs[at] as Out) : (outputs[at] as Out)));
}

export function pgOps(pool: pg.Pool) {
  /** A capped key's hold: one call of sy_hold_capped (migration 0006), semantics in ../ledger.ts. */
  async function holdCapped(input: HoldRequest, caps: HoldCaps): Promise<HoldOutcome> {
    const c = caps.caps;
    const values = [
      input.requestId, input.userId, input.amount, input.expiresAt.getTime(), Date.now(),
      caps.keyId, caps.dayStart, caps.monthStart, c.day, c.month, c.total, ...metaValues(input),
    ];
    let row: CappedHoldResult | undefined;
    try {
      row = (await pool.query<CappedHoldResult>({ ...HOLD_CAPPED, values })).rows[0];
    } catch (error) {
      // Lost a race against a concurrent hold with the same request id: that one holds, we are a replay.
      if (isUniqueViolation(error)) return { ok: true };
      throw error;
    }
    const status = row?.o_status;
    if (status === 'ok' || status === 'exists') return { ok: true };
    const balance = row?.o_balance ?? 0n;
    if (status === 'day' || status === 'month' || status === 'total') {
      const limit = c[status];
      if (limit !== null) return { ok: false, balance, cap: { period: status, limit, spent: row?.o_spent ?? 0n } };
    }
    return { ok: false, balance };
  }

  /** One uncapped hold, one statement (the idle path and the batch's fallback). */
  async function holdOne(input: HoldRequest): Promise<HoldOutcome> {
    const values = [input.requestId, input.userId, input.amount, input.expiresAt.getTime(), Date.now(), ...metaValues(input)];
    try {
      const { rows } = await pool.query<HoldResult>({ ...HOLD, values });
      const row = rows[0];
      if (row?.debited != null || row?.existed) return { ok: true };
      const balance = row?.balance ?? 0n;
      if (balance < input.amount) return { ok: false, balance };
      // The statement's snapshot predates the concurrent debits that made it fail: report a fresh balance.
      const fresh = await pool.query<{ balance: bigint }>('SELECT balance FROM users WHERE id = $1', [input.userId]);
      return { ok: false, balance: fresh.rows[0]?.balance ?? 0n };
    } catch (error) {
      // Lost a race against a concurrent hold with the same request id: that one holds, we are a replay.
      if (isUniqueViolation(error)) return { ok: true };
      throw error;
    }
  }

  /** Many uncapped holds, one call of sy_hold_batch (migration 0007). A repeated request id is a replay: ok. */
  function holdMany(inputs: HoldRequest[]): Promise<HoldOutcome[]> {
    return distinct(inputs, (i) => i.requestId, async (unique) => {
      const values = [
        unique.map((i) => i.requestId), unique.map((i) => i.userId), unique.map((i) => i.amount), unique.map((i) => i.expiresAt.getTime()),
        Date.now(), unique.map((i) => i.meta?.keyId ?? null), unique.map((i) => i.meta?.model ?? null),
        unique.map((i) => i.meta?.endpoint ?? null), unique.map((i) => i.meta?.stream ?? null),
      ];
      const { rows } = await pool.query<BatchHoldResult>({ ...HOLD_BATCH, values });
      return rows.map((row): HoldOutcome => (row.o_status === 'balance' ? { ok: false, balance: row.o_balance ?? 0n } : { ok: true }));
    }, (first) => first);
  }

  /** One settle, one statement (the idle path and the batch's fallback). */
  async function settleOne(input: SettleRequest): Promise<SettleOutcome> {
    const values = [input.requestId, input.charge, Date.now(), ...usageValues(input.usage)];
    const { rows } = await pool.query<SettleResult>({ ...SETTLE, values });
    const row = rows[0];
    if (!row) return { applied: false, charged: 0n, released: 0n };
    return { applied: true, charged: row.charged, released: row.held - row.charged };
  }

  /** Many settles, one call of sy_settle_batch (migration 0007). A repeated request id is a replay: not applied. */
  function settleMany(inputs: SettleRequest[]): Promise<SettleOutcome[]> {
    return distinct(inputs, (i) => i.requestId, async (unique) => {
      const values = [unique.map((i) => i.requestId), unique.map((i) => i.charge), Date.now(), JSON.stringify(unique.map((i) => usageJson(i.usage)))];
      const { rows } = await pool.query<BatchSettleResult>({ ...SETTLE_BATCH, values });
      return rows.map((row): SettleOutcome => {
        if (row.o_held === null || row.o_charged === null) return { applied: false, charged: 0n, released: 0n };
        return { applied: true, charged: row.o_charged, released: row.o_held - row.o_charged };
      });
    }, () => ({ applied: false, charged: 0n, released: 0n }));
  }

  const recordOne = async (usage: UsageEvent): Promise<void> => {
    await pool.query({ ...RECORD_USAGE, values: [usage.requestId, usage.cost, ...usageValues(usage)] });
  };
  /** Metered billing: many usage events, one INSERT (a repeated request id: the first wins, as ON CONFLICT would). */
  const recordMany = (events: UsageEvent[]): Promise<void[]> =>
    distinct(events, (e) => e.requestId, async (unique) => {
      const docs = unique.map((e) => ({ ...usageJson(e), request_id: e.requestId, cost: e.cost.toString() }));
      await pool.query({ ...RECORD_USAGE_BATCH, values: [JSON.stringify(docs)] });
      return unique.map(() => undefined);
    }, () => undefined);

  const holds = new Batcher(holdMany, holdOne);
  const records = new Batcher(recordMany, recordOne);
  const settles = new Batcher(settleMany, settleOne);

  return {
    batching: () => ({ hold: { ...holds.stats }, settle: { ...settles.stats } }),

    async findByHash(hash: string): Promise<KeyAuthRecord | undefined> {
      const { rows } = await pool.query<KeyAuthRow>({ ...FIND_KEY, values: [hash] });
      const row = rows[0];
      return row && mapKeyAuth(row);
    },

    async touch(lastUsed: Map<string, Date>): Promise<void> {
      if (lastUsed.size === 0) return;
      const ids = [...lastUsed.keys()];
      const times = [...lastUsed.values()].map((d) => d.getTime());
      await pool.query({ ...TOUCH, values: [ids, times] });
    },

    async hold(input: HoldRequest): Promise<HoldOutcome> {
      checkHold(input);
      // Beyond int64 no statement could even take the amount; no balance covers it either.
      if (beyondAnyBalance(input.amount)) {
        const { rows } = await pool.query<{ balance: bigint }>('SELECT balance FROM users WHERE id = $1', [input.userId]);
        return { ok: false, balance: rows[0]?.balance ?? 0n };
      }
      if (input.caps) return holdCapped(input, input.caps);
      return holds.submit(input);
    },

    settle: (input: SettleRequest): Promise<SettleOutcome> => settles.submit(checkSettle(input)),
    /** Metered billing: the usage event alone (no hold, no ledger entry); idempotent by request id. */
    recordUsage: (usage: UsageEvent): Promise<void> => records.submit(storableUsage(usage)),

    async releaseExpired(now: Date, limit: number): Promise<number> {
      const at = now.getTime();
      const { rows } = await pool.query<{ request_id: string }>({ ...EXPIRED_CANDIDATES, values: [at, checkLimit(limit)] });
      let released = 0;
      for (const { request_id } of rows) {
        const result = await pool.query({ ...EXPIRE, values: [request_id, at, SWEEPER_ACTOR, EXPIRED_REASON, EXPIRED_CODE] });
        released += result.rowCount ?? 0;
      }
      return released;
    },

    async credit(input: {
      userId: string; kind: string; amount: MicroCredits; actor: string; reason: string | null; paymentId: string | null;
    }): Promise<MicroCredits> {
      checkCredit(input);
      const values = [input.userId, input.amount, input.kind, input.paymentId, input.actor, input.reason, Date.now(), MAX_CREDITS];
      let row: CreditResult | undefined;
      try {
        row = (await pool.query<CreditResult>({ ...CREDIT, values })).rows[0];
      } catch (error) {
        // A concurrent delivery of the same payment won: this one is a replay.
        if (!isUniqueViolation(error) || input.paymentId === null) throw error;
        const current = await pool.query<{ balance: bigint }>('SELECT balance FROM users WHERE id = $1', [input.userId]);
        const balance = current.rows[0]?.balance;
        if (balance === undefined) throw new UnknownUserError(input.userId);
        return balance;
      }
      if (row?.credited != null) return row.credited;
      if (row?.balance == null) throw new UnknownUserError(input.userId);
      if (row.duplicate) return row.balance;
      if (row.balance + input.amount < 0n) throw new InsufficientBalanceError(row.balance, input.amount);
      throw new BalanceLimitError(row.balance + BigInt(row.open_holds ?? '0') + input.amount);
    },
  };
}
