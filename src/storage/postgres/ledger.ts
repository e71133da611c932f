// PostgreSQL hot path: each operation is one named (server-side prepared) statement through the pg Pool,
// see ./queries.ts. Semantics: ../ledger.ts (the same on both dialects).

import type pg from 'pg';
import type { MicroCredits } from '../../domain/money.ts';
import type { HoldCaps, HoldOutcome, HoldRequest, KeyAuthRecord, SettleOutcome, SettleRequest, SpendPeriod, UsageEvent } from '../types.ts';
import { isUniqueViolation, mapRateLimits, mapSpendCaps, parseAllowedModels, toDateOrNull, toUserStatus, type KeyLimitColumns } from '../db.ts';
import {
  EXPIRED_CODE, EXPIRED_REASON, InsufficientBalanceError, SWEEPER_ACTOR, UnknownUserError, checkCredit, checkHold, checkLimit,
  checkSettle,
} from '../ledger.ts';
import { CREDIT, EXPIRE, EXPIRED_CANDIDATES, FIND_KEY, HOLD, HOLD_CAPPED, SETTLE, TOUCH } from './queries.ts';
import { USAGE_COLUMNS, usageRow, type UsageValue } from '../db.ts';

interface KeyRow extends KeyLimitColumns { id: string; user_id: string; revoked_at: bigint | null; expires_at: bigint | null; allowed_models: string | null; user_status: string }
interface HoldResult { debited: bigint | null; balance: bigint | null; existed: boolean }
interface CappedHoldResult { o_status: 'ok' | 'exists' | 'balance' | SpendPeriod; o_balance: bigint | null; o_spent: bigint | null }
interface SettleResult { held: bigint; charged: bigint }
interface CreditResult { credited: bigint | null; balance: bigint | null; duplicate: boolean }

/** The request's metadata kept with its hold (key, model, endpoint, stream), for the sweeper's usage event. */
function metaValues(input: HoldRequest): Array<string | boolean | null> {
  const meta = input.meta;
  return [meta?.keyId ?? null, meta?.model ?? null, meta?.endpoint ?? null, meta?.stream ?? null];
}

function usageValues(u: UsageEvent): UsageValue[] {
  const row = usageRow(u);
  return USAGE_COLUMNS.map((column) => row[column]);
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

  return {
    async findByHash(hash: string): Promise<KeyAuthRecord | undefined> {
      const { rows } = await pool.query<KeyRow>({ ...FIND_KEY, values: [hash] });
      const row = rows[0];
      if (!row) return undefined;
      return {
        keyId: row.id,
        userId: row.user_id,
        revoked: row.revoked_at !== null,
        userStatus: toUserStatus(row.user_status),
        allowedModels: parseAllowedModels(row.allowed_models),
        expiresAt: toDateOrNull(row.expires_at),
        spendCaps: mapSpendCaps(row),
        rateLimits: mapRateLimits(row),
      };
    },

    async touch(lastUsed: Map<string, Date>): Promise<void> {
      if (lastUsed.size === 0) return;
      const ids = [...lastUsed.keys()];
      const times = [...lastUsed.values()].map((d) => d.getTime());
      await pool.query({ ...TOUCH, values: [ids, times] });
    },

    async hold(input: HoldRequest): Promise<HoldOutcome> {
      checkHold(input);
      if (input.caps) return holdCapped(input, input.caps);
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
    },

    async settle(input: SettleRequest): Promise<SettleOutcome> {
      checkSettle(input);
      const values = [input.requestId, input.charge, Date.now(), ...usageValues(input.usage)];
      const { rows } = await pool.query<SettleResult>({ ...SETTLE, values });
      const row = rows[0];
      if (!row) return { applied: false, charged: 0n, released: 0n };
      return { applied: true, charged: row.charged, released: row.held - row.charged };
    },

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
      const values = [input.userId, input.amount, input.kind, input.paymentId, input.actor, input.reason, Date.now()];
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
      throw new InsufficientBalanceError(row.balance, input.amount);
    },
  };
}
