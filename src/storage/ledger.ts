// Ledger semantics (ARCHITECTURE §4). Both implementations (sqlite/ledger.ts, postgres/ledger.ts) follow
// exactly this; the shared test suite (test/storage) checks it on both.
//
// - `ledger.amount` is the SIGNED effect of an entry on the user's AVAILABLE balance, and
//   Σ amount over a user's entries = users.balance at every commit (the invariant). `balance_after` is
//   users.balance right after the entry. The ledger is append-only; users.balance has CHECK (balance >= 0).
// - hold(R, U, H): if no holds row exists for R and balance >= H, atomically: balance -= H, holds row
//   (R, status 'held'), entry 'hold' -H. Balance short → {ok:false, balance}, nothing written. A holds row
//   for R already exists (any status) → {ok:true}, nothing written (idempotent; a concurrent duplicate
//   that loses the race on the holds primary key is reported the same way).
// - settle(R, charge, usage): guarded by the conditional `UPDATE holds SET status … WHERE status = 'held'`,
//   so a replay or a race finds nothing to do → {applied:false, charged:0, released:0}. Otherwise with
//   C = min(charge, H): entry 'release' +H (balance_after = old + H), then if C > 0 entry 'capture' -C
//   (balance_after = old + H - C); balance += H - C; hold → 'settled' (C > 0) or 'released' (C = 0);
//   usage event inserted with held = H and cost = C. SettleOutcome.released = H - C (what went back to
//   the user net), charged = C. One SQLite transaction / one PostgreSQL statement.
//   Not applied: the usage event is still inserted if none exists for R (ON CONFLICT DO NOTHING), with
//   cost = 0 (nothing was charged by this call) and held = the hold's amount if the hold exists.
// - releaseExpired(now, limit): holds with status 'held' and expires_at < now get the settle-with-0 effect
//   (entry 'release' +H, actor 'sweeper', reason 'hold expired') and status 'expired'. Each hold goes
//   through the same conditional status update, so concurrent sweepers (and a settle racing them) finish it
//   exactly once. In the same transaction the sweeper writes the request's usage event from what the hold
//   remembered (HoldMeta: key, model, endpoint, stream): status 'expired', http_status 0 (the gateway never
//   learnt what the client got), error_code 'hold_expired', no tokens, held = H, cost 0, created_at = the
//   hold's. A hold taken without meta gets no usage event. If the request's own settle arrives later it is
//   not applied, and its usage event is not written either (the 'expired' one already exists).
// - credit(kind ∈ grant|topup|refund|adjustment, amount ≠ 0): balance += amount, one entry. A negative
//   amount that would take the balance below 0 throws InsufficientBalanceError and writes nothing. Every
//   credit names its actor; grant and topup are positive; a topup carries its payment id, a refund a payment
//   id or a reason, an adjustment a reason (checkCredit: RangeError, nothing written).
//   With a paymentId, (paymentId, kind) is unique: a replayed webhook changes nothing and returns the
//   current balance. A positive credit that would take balance + open holds above MAX_CREDITS (10^12
//   credits) throws BalanceLimitError and writes nothing; that bound keeps every later release, settle and
//   expiry far inside int64 on both dialects (no SQL arithmetic on SQLite can turn a balance into a REAL).
// - Request-driven entries have actor null; admin credits carry the caller's actor and reason.
// - Spend caps (docs/decisions/0013-key-spend-caps.md). A hold with `caps` (a capped key) also counts against
//   the key's key_spend row, in the same transaction (SQLite) / statement (PostgreSQL: sy_hold_capped) as the
//   debit: the row's period amounts (captured + open holds; a period older than the request's starts from 0)
//   plus H must stay within every cap that is set, else {ok:false, balance, cap: {period, limit, spent}} and
//   nothing is written. The balance is checked first (a short balance reports no cap). On success every period
//   amount grows by H and the hold records the key and the period starts it was counted in. Settle gives back
//   H - C, the sweeper H, to each period the hold was counted in if that period is still the row's current
//   one (a period that has ended keeps what it counted). Lock order: users → key_spend on hold, holds → users
//   → key_spend on settle and expiry.

import { INT64_MAX, MAX_CREDITS, type MicroCredits } from '../domain/money.ts';
import type { CapRefusal, HoldCaps, HoldRequest, SettleRequest, UsageEvent } from './types.ts';

export class InsufficientBalanceError extends Error {
  override readonly name = 'InsufficientBalanceError';
  constructor(
    readonly balance: MicroCredits,
    readonly amount: MicroCredits,
  ) {
    super(`ledger: a debit of ${-amount} micro-credits exceeds the available balance of ${balance}`);
  }
}

/**
 * A credit that would take the user's balance plus open holds above MAX_CREDITS (domain/money.ts). Every other
 * ledger movement keeps that sum or lowers it (a hold moves credits from the balance into a hold, settle and
 * expiry give back at most what was held), so below the limit no balance can ever leave int64.
 */
export class BalanceLimitError extends Error {
  override readonly name = 'BalanceLimitError';
  constructor(
    readonly reached: MicroCredits,
    readonly limit: MicroCredits = MAX_CREDITS,
  ) {
    super(`ledger: this credit would take the balance plus open holds to ${reached} micro-credits, above the limit of ${limit}`);
  }
}

export class UnknownUserError extends Error {
  override readonly name = 'UnknownUserError';
  constructor(readonly userId: string) {
    super(`ledger: no user ${userId}`);
  }
}

export const SWEEPER_ACTOR = 'sweeper';
export const EXPIRED_REASON = 'hold expired';
/** usage_events.error_code of a request whose hold the sweeper released. */
export const EXPIRED_CODE = 'hold_expired';

export function checkHold(input: HoldRequest): void {
  if (input.amount < 0n) throw new RangeError('ledger: a hold amount must be >= 0');
  if (Number.isNaN(input.expiresAt.getTime())) throw new RangeError('ledger: invalid hold expiry');
}

/** A hold no balance can cover (beyond int64): refused as short before it reaches a bigint parameter. */
export const beyondAnyBalance = (amount: MicroCredits): boolean => amount > INT64_MAX;

const saturate = (amount: MicroCredits): MicroCredits => (amount > INT64_MAX ? INT64_MAX : amount);

/** A usage event's amounts as a column holds them: a worst case or cost beyond int64 (absurd usage) saturates. */
export function storableUsage(usage: UsageEvent): UsageEvent {
  return usage.held > INT64_MAX || usage.cost > INT64_MAX ? { ...usage, held: saturate(usage.held), cost: saturate(usage.cost) } : usage;
}

/**
 * Checks a settle and returns it as the database takes it: the charge is capped by the hold anyway, so a charge
 * beyond int64 (absurd usage × price) saturates instead of failing the statement.
 */
export function checkSettle(input: SettleRequest): SettleRequest {
  if (input.charge < 0n) throw new RangeError('ledger: a charge must be >= 0');
  if (input.usage.requestId !== input.requestId) {
    throw new RangeError('ledger: usage.requestId must equal the settled requestId');
  }
  const usage = storableUsage(input.usage);
  return input.charge > INT64_MAX || usage !== input.usage ? { ...input, charge: saturate(input.charge), usage } : input;
}

/**
 * The credit limit: the balance after `amount` plus the user's open holds must stay within MAX_CREDITS. Only a
 * positive credit can break it (a debit lowers the sum), so only those are checked.
 */
export function checkBalanceLimit(balance: MicroCredits, openHolds: MicroCredits, amount: MicroCredits): void {
  if (amount <= 0n) return;
  const reached = balance + openHolds + amount;
  if (reached > MAX_CREDITS) throw new BalanceLimitError(reached);
}

export interface CreditInput {
  kind: string;
  amount: MicroCredits;
  actor: string;
  reason: string | null;
  paymentId: string | null;
}

const present = (text: string | null): boolean => text !== null && text.trim() !== '';

/** What every credit must say about itself (see the header). */
export function checkCredit(input: CreditInput): void {
  if (input.amount === 0n) throw new RangeError('ledger: a credit amount must not be 0');
  if (input.amount > MAX_CREDITS) throw new BalanceLimitError(input.amount);
  if (input.amount < -MAX_CREDITS) throw new RangeError('ledger: a credit amount must be within ±MAX_CREDITS');
  if (!present(input.actor)) throw new RangeError('ledger: a credit needs an actor');
  switch (input.kind) {
    case 'grant':
      if (input.amount < 0n) throw new RangeError('ledger: a grant must be positive (take credits back with an adjustment)');
      break;
    case 'topup':
      if (input.amount < 0n) throw new RangeError('ledger: a topup must be positive');
      if (!present(input.paymentId)) throw new RangeError('ledger: a topup needs its payment id');
      break;
    case 'refund':
      if (!present(input.paymentId) && !present(input.reason)) throw new RangeError('ledger: a refund needs a payment id or a reason');
      break;
    case 'adjustment':
      if (!present(input.reason)) throw new RangeError('ledger: an adjustment needs a reason');
      break;
    default:
      throw new RangeError(`ledger: ${input.kind} is not a credit kind`);
  }
}

export function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError('storage: limit must be a non-negative integer');
  return limit;
}

/** A key_spend row (micro-credits; period starts in epoch ms). */
export interface SpendRow {
  day_start: bigint;
  day_amount: bigint;
  month_start: bigint;
  month_amount: bigint;
  total_amount: bigint;
}

/**
 * The spend-cap check of a capped hold (SQLite; sy_hold_capped in migration 0006 is the same on PostgreSQL):
 * the key's row after counting `amount`, or the cap that refuses it.
 */
export function reserveSpend(row: SpendRow | undefined, hold: HoldCaps, amount: MicroCredits): { next: SpendRow } | { refused: CapRefusal } {
  const dayStart = BigInt(hold.dayStart);
  const monthStart = BigInt(hold.monthStart);
  // A newer period starts from zero; a replica whose clock is behind counts into the newer period.
  const freshDay = !row || row.day_start < dayStart;
  const freshMonth = !row || row.month_start < monthStart;
  const current = {
    day_start: freshDay ? dayStart : row.day_start,
    day_amount: freshDay ? 0n : row.day_amount,
    month_start: freshMonth ? monthStart : row.month_start,
    month_amount: freshMonth ? 0n : row.month_amount,
    total_amount: row?.total_amount ?? 0n,
  };
  const { caps } = hold;
  if (caps.day !== null && current.day_amount + amount > caps.day) return { refused: { period: 'day', limit: caps.day, spent: current.day_amount } };
  if (caps.month !== null && current.month_amount + amount > caps.month) return { refused: { period: 'month', limit: caps.month, spent: current.month_amount } };
  if (caps.total !== null && current.total_amount + amount > caps.total) return { refused: { period: 'total', limit: caps.total, spent: current.total_amount } };
  return {
    next: {
      ...current,
      day_amount: current.day_amount + amount,
      month_amount: current.month_amount + amount,
      total_amount: current.total_amount + amount,
    },
  };
}
