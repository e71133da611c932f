// SQLite hot path and multi-statement writes: better-sqlite3 statements prepared once, each operation one
// synchronous `BEGIN IMMEDIATE` transaction. Semantics: see ../ledger.ts (the same on both dialects).
//
// Being synchronous, a transaction here can never interleave with another one in this process (nor with a
// Kysely statement on the shared connection); across processes SQLite's write lock + busy timeout
// serialize them.

import type BetterSqlite3 from 'better-sqlite3';
import { INT64_MAX, type MicroCredits } from '../../domain/money.ts';
import type { HoldCaps, HoldOutcome, HoldRequest, KeyAuthRecord, SettleOutcome, SettleRequest, UsageEvent } from '../types.ts';
import { KEY_AUTH_SELECT, mapKeyAuth, type KeyAuthRow } from '../db.ts';
import { USAGE_COLUMNS } from '../usage-rows.ts';
import {
  EXPIRED_CODE, EXPIRED_REASON, InsufficientBalanceError, SWEEPER_ACTOR, UnknownUserError, checkBalanceLimit, checkCredit, checkHold,
  checkLimit, checkSettle, reserveSpend, storableUsage, type SpendRow,
} from '../ledger.ts';

type Db = BetterSqlite3.Database;

interface BalanceRow { balance: bigint }
interface HoldRow { user_id: string; amount: bigint }
/** A finished hold, with the capped key and periods it was counted in (null: an uncapped key). */
interface FinishedHold extends HoldRow { cap_key_id: string | null; cap_day_start: bigint | null; cap_month_start: bigint | null }
/** An expired hold: also the request's metadata, for its 'expired' usage event. */
interface ExpiredRow extends FinishedHold { key_id: string | null; model: string | null; endpoint: string | null; stream: bigint | null; created_at: bigint }
interface IdRow { id: bigint }

type LedgerParams = [string, string, bigint, bigint, string | null, string | null, string | null, string | null, number];

function prepareAll(db: Db) {
  return {
    findKey: db.prepare<[string], KeyAuthRow>(`SELECT ${KEY_AUTH_SELECT} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = ?`),
    holdExists: db.prepare<[string], HoldRow>(`SELECT user_id, amount FROM holds WHERE request_id = ?`),
    balance: db.prepare<[string], BalanceRow>(`SELECT balance FROM users WHERE id = ?`),
    insertHold: db.prepare<[string, string, bigint, number, number, string | null, string | null, string | null, number | null], unknown>(
      `INSERT INTO holds (request_id, user_id, amount, status, expires_at, created_at, key_id, model, endpoint, stream)
       VALUES (?, ?, ?, 'held', ?, ?, ?, ?, ?, ?)`,
    ),
    insertLedger: db.prepare<LedgerParams, unknown>(
      `INSERT INTO ledger (user_id, kind, amount, balance_after, request_id, payment_id, actor, reason, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    finishHold: db.prepare<[string, string], FinishedHold>(
      `UPDATE holds SET status = ? WHERE request_id = ? AND status = 'held'
       RETURNING user_id, amount, cap_key_id, cap_day_start, cap_month_start`,
    ),
    expireHold: db.prepare<[string, number], ExpiredRow>(
      `UPDATE holds SET status = 'expired' WHERE request_id = ? AND status = 'held' AND expires_at < ?
       RETURNING user_id, amount, cap_key_id, cap_day_start, cap_month_start, key_id, model, endpoint, stream, created_at`,
    ),
    // Spend caps (../ledger.ts): the capped key's row, its update after a capped hold, the capped hold itself,
    // and what settle / the sweeper give back to the periods the hold was counted in.
    spendRow: db.prepare<[string], SpendRow>(
      `SELECT day_start, day_amount, month_start, month_amount, total_amount FROM key_spend WHERE key_id = ?`,
    ),
    putSpend: db.prepare<[string, bigint, bigint, bigint, bigint, bigint], unknown>(
      `INSERT INTO key_spend (key_id, day_start, day_amount, month_start, month_amount, total_amount) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key_id) DO UPDATE SET day_start = excluded.day_start, day_amount = excluded.day_amount,
         month_start = excluded.month_start, month_amount = excluded.month_amount, total_amount = excluded.total_amount`,
    ),
    insertCappedHold: db.prepare<[string, string, bigint, number, number, string | null, string | null, string | null, number | null, string, bigint, bigint], unknown>(
      `INSERT INTO holds (request_id, user_id, amount, status, expires_at, created_at, key_id, model, endpoint, stream,
         cap_key_id, cap_day_start, cap_month_start)
       VALUES (?, ?, ?, 'held', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    releaseSpend: db.prepare<[bigint | null, bigint, bigint | null, bigint, bigint, string], unknown>(
      `UPDATE key_spend SET
         day_amount = CASE WHEN day_start = ? THEN max(day_amount - ?, 0) ELSE day_amount END,
         month_amount = CASE WHEN month_start = ? THEN max(month_amount - ?, 0) ELSE month_amount END,
         total_amount = max(total_amount - ?, 0)
       WHERE key_id = ?`,
    ),
    expiredCandidates: db.prepare<[number, number], { request_id: string }>(
      `SELECT request_id FROM holds WHERE status = 'held' AND expires_at < ? ORDER BY expires_at LIMIT ?`,
    ),
    // Open holds of one user (the partial index on status = 'held' keeps this to the requests in flight).
    openHolds: db.prepare<[string], { total: bigint }>(
      `SELECT coalesce(sum(amount), 0) AS total FROM holds WHERE status = 'held' AND user_id = ?`,
    ),
    // The end of a group-commit batch: each user's balance as the batch left it (see BatchBalances).
    setBalance: db.prepare<[bigint, string], unknown>(`UPDATE users SET balance = ? WHERE id = ?`),
    paymentSeen: db.prepare<[string, string], IdRow>(`SELECT id FROM ledger WHERE payment_id = ? AND kind = ?`),
    // Positional (no per-call parameter object): request_id, the USAGE_COLUMNS in order, cost.
    insertUsage: db.prepare<[UsageParams], unknown>(
      `INSERT INTO usage_events (request_id, ${USAGE_COLUMNS.join(', ')}, cost)
       VALUES (${['?', ...USAGE_COLUMNS.map(() => '?'), '?'].join(', ')})
       ON CONFLICT (request_id) DO NOTHING`,
    ),
    // Settle's first step: finish the hold if it is still held, capturing min(charge, amount); one statement.
    finishCharging: db.prepare<[bigint, string], FinishedHold>(
      `UPDATE holds SET status = CASE WHEN min(?, amount) > 0 THEN 'settled' ELSE 'released' END
        WHERE request_id = ? AND status = 'held'
       RETURNING user_id, amount, cap_key_id, cap_day_start, cap_month_start`,
    ),
    insertHoldIfNew: db.prepare<[string, string, bigint, number, number, string | null, string | null, string | null, number | null], unknown>(
      `INSERT INTO holds (request_id, user_id, amount, status, expires_at, created_at, key_id, model, endpoint, stream)
       VALUES (?, ?, ?, 'held', ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING`,
    ),
    touch: db.prepare<[number, string], unknown>(
      `UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?`,
    ),
  };
}

type UsageParams = Array<string | number | bigint | null>;

function usageParams(u: UsageEvent, held: bigint, cost: bigint): UsageParams {
  return [
    u.requestId, u.userId, u.keyId, u.model, u.provider, u.channel, u.endpoint, u.stream ? 1 : 0, u.inputTokens,
    u.cachedInputTokens, u.cacheWriteTokens, u.outputTokens, u.reasoningTokens, held, u.priceVersion, u.status,
    u.httpStatus, u.errorCode, u.latencyMs, u.ttfbMs, u.attempts ?? null, u.createdAt.getTime(),
    u.upstreamError?.status ?? null, u.upstreamError?.code ?? null, u.upstreamError?.message ?? null, cost,
  ];
}

/** The usage event of a request whose hold expired (../ledger.ts); undefined for a hold without metadata. */
function expiredUsage(requestId: string, hold: ExpiredRow): UsageEvent | undefined {
  if (hold.key_id === null || hold.model === null || hold.endpoint === null) return undefined;
  return {
    requestId, userId: hold.user_id, keyId: hold.key_id, model: hold.model, provider: null, channel: null, endpoint: hold.endpoint,
    stream: hold.stream === 1n, inputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0,
    held: hold.amount, cost: 0n, priceVersion: null, status: 'expired', httpStatus: 0, errorCode: EXPIRED_CODE, latencyMs: 0,
    ttfbMs: null, attempts: null, createdAt: new Date(Number(hold.created_at)),
  };
}

export interface SqliteOps {
  findByHash(hash: string): KeyAuthRecord | undefined;
  touch(lastUsed: Map<string, Date>): void;
  hold(input: HoldRequest): HoldOutcome;
  settle(input: SettleRequest): SettleOutcome;
  /**
   * The same operations without their own transaction: only for GroupCommit, inside its batch transaction,
   * between beginBatch() and endBatch() (which writes the balances the batch moved; a batch that throws is
   * rolled back and its balances dropped by the next beginBatch()).
   */
  beginBatch(): void;
  holdInBatch(input: HoldRequest): HoldOutcome;
  settleInBatch(input: SettleRequest): SettleOutcome;
  endBatch(): void;
  /** Metered billing: the usage event alone (no hold, no ledger entry); idempotent by request id. */
  recordUsage(usage: UsageEvent): void;
  releaseExpired(now: Date, limit: number): number;
  credit(input: {
    userId: string; kind: string; amount: MicroCredits; actor: string; reason: string | null; paymentId: string | null;
  }): MicroCredits;
}

/** Prepares every statement once (the tables must exist: call after migrations). */
export function sqliteOps(db: Db): SqliteOps {
  const s = prepareAll(db);

  // Balances in a write transaction — one operation alone, or a group-commit batch (beginBatch … endBatch): each
  // user's balance is read once, moved in memory by the operations in order (so every ledger line carries the
  // running balance), and written once at the end. Only ever inside the transaction; a transaction that throws
  // is rolled back, and the next one starts from the table again.
  let balances = new Map<string, { balance: bigint; dirty: boolean }>();
  const balanceOf = (userId: string): { balance: bigint; dirty: boolean } | undefined => {
    let entry = balances.get(userId);
    if (!entry) {
      const row = s.balance.get(userId);
      if (!row) return undefined;
      entry = { balance: row.balance, dirty: false };
      balances.set(userId, entry);
    }
    return entry;
  };
  // Balances are moved here, in bigint, never by SQL arithmetic: SQLite turns an integer that overflows into a
  // REAL. Past int64 (unreachable below MAX_CREDITS, ../ledger.ts) the transaction throws and is rolled back.
  const move = (entry: { balance: bigint; dirty: boolean }, delta: bigint): bigint => {
    const next = entry.balance + delta;
    if (next > INT64_MAX) throw new RangeError('ledger: a balance would leave the int64 range');
    entry.balance = next;
    entry.dirty = true;
    return entry.balance;
  };
  const beginBalances = (): void => {
    balances = new Map();
  };
  const writeBalances = (): void => {
    for (const [userId, entry] of balances) if (entry.dirty) s.setBalance.run(entry.balance, userId);
    balances = new Map();
  };
  /** One operation in its own write transaction, with its balances written at its end. */
  const alone = <A extends unknown[], R>(body: (...args: A) => R) =>
    db.transaction((...args: A): R => {
      beginBalances();
      const result = body(...args);
      writeBalances();
      return result;
    });

  /**
   * Books a hold already marked finished: release +H, then capture -C when C > 0, balance += H - C; a capped
   * key's periods get H - C back.
   */
  const applyRelease = (requestId: string, hold: FinishedHold, charge: bigint, now: number, actor: string | null, reason: string | null): void => {
    const entry = balanceOf(hold.user_id);
    if (!entry) throw new UnknownUserError(hold.user_id);
    const after = move(entry, hold.amount - charge);
    if (hold.cap_key_id !== null) {
      const back = hold.amount - charge;
      s.releaseSpend.run(hold.cap_day_start, back, hold.cap_month_start, back, back, hold.cap_key_id);
    }
    s.insertLedger.run(hold.user_id, 'release', hold.amount, after + charge, requestId, null, actor, reason, now);
    if (charge > 0n) s.insertLedger.run(hold.user_id, 'capture', -charge, after, requestId, null, null, null, now);
  };

  /** The request's metadata kept with its hold: key id, model, endpoint, stream (for the sweeper's usage event). */
  const metaParams = (input: HoldRequest): [string | null, string | null, string | null, number | null] => {
    const meta = input.meta;
    return [meta?.keyId ?? null, meta?.model ?? null, meta?.endpoint ?? null, meta ? (meta.stream ? 1 : 0) : null];
  };

  /** A capped key's hold (no hold with this request id yet): balance, then caps, checked before anything is written. */
  const holdCapped = (input: HoldRequest, caps: HoldCaps): HoldOutcome => {
    const entry = balanceOf(input.userId);
    const current = entry?.balance ?? 0n;
    if (!entry || current < input.amount) return { ok: false, balance: current };
    const reserved = reserveSpend(s.spendRow.get(caps.keyId), caps, input.amount);
    if ('refused' in reserved) return { ok: false, balance: current, cap: reserved.refused };
    const now = Date.now();
    const n = reserved.next;
    s.putSpend.run(caps.keyId, n.day_start, n.day_amount, n.month_start, n.month_amount, n.total_amount);
    s.insertCappedHold.run(input.requestId, input.userId, input.amount, input.expiresAt.getTime(), now, ...metaParams(input), caps.keyId, n.day_start, n.month_start);
    s.insertLedger.run(input.userId, 'hold', -input.amount, move(entry, -input.amount), input.requestId, null, null, null, now);
    return { ok: true };
  };

  // Uncapped: checked against the running balance, then the hold row — no existence check first: a replayed
  // request id is caught by the hold insert (nothing is debited then).
  const holdBody = (input: HoldRequest): HoldOutcome => {
    if (input.caps) return s.holdExists.get(input.requestId) ? { ok: true } : holdCapped(input, input.caps);
    const entry = balanceOf(input.userId);
    const current = entry?.balance ?? 0n;
    if (!entry || current < input.amount) {
      if (s.holdExists.get(input.requestId)) return { ok: true };
      return { ok: false, balance: current };
    }
    const now = Date.now();
    const inserted = s.insertHoldIfNew.run(input.requestId, input.userId, input.amount, input.expiresAt.getTime(), now, ...metaParams(input));
    if (inserted.changes === 0) return { ok: true };
    s.insertLedger.run(input.userId, 'hold', -input.amount, move(entry, -input.amount), input.requestId, null, null, null, now);
    return { ok: true };
  };
  const holdTx = alone(holdBody);

  const settleBody = (input: SettleRequest): SettleOutcome => {
    const now = Date.now();
    const hold = s.finishCharging.get(input.charge, input.requestId);
    if (!hold) {
      const existing = s.holdExists.get(input.requestId);
      s.insertUsage.run(usageParams(input.usage, existing?.amount ?? input.usage.held, 0n));
      return { applied: false, charged: 0n, released: 0n };
    }
    const charge = input.charge < hold.amount ? input.charge : hold.amount;
    applyRelease(input.requestId, hold, charge, now, null, null);
    s.insertUsage.run(usageParams(input.usage, hold.amount, charge));
    return { applied: true, charged: charge, released: hold.amount - charge };
  };
  const settleTx = alone(settleBody);

  const expireTx = alone((now: number, limit: number): number => {
    let released = 0;
    for (const { request_id } of s.expiredCandidates.all(now, limit)) {
      const hold = s.expireHold.get(request_id, now);
      if (!hold) continue;
      applyRelease(request_id, hold, 0n, now, SWEEPER_ACTOR, EXPIRED_REASON);
      const usage = expiredUsage(request_id, hold);
      if (usage) s.insertUsage.run(usageParams(usage, hold.amount, 0n));
      released += 1;
    }
    return released;
  });

  const creditTx = alone((input: Parameters<SqliteOps['credit']>[0]): MicroCredits => {
    const entry = balanceOf(input.userId);
    if (!entry) throw new UnknownUserError(input.userId);
    if (typeof entry.balance !== 'bigint') throw new RangeError(`ledger: the balance of ${input.userId} is not an integer (see GET /admin/v1/ledger/verify)`);
    if (input.paymentId !== null && s.paymentSeen.get(input.paymentId, input.kind)) return entry.balance;
    if (entry.balance + input.amount < 0n) throw new InsufficientBalanceError(entry.balance, input.amount);
    checkBalanceLimit(entry.balance, s.openHolds.get(input.userId)?.total ?? 0n, input.amount);
    const after = move(entry, input.amount);
    s.insertLedger.run(input.userId, input.kind, input.amount, after, null, input.paymentId, input.actor, input.reason, Date.now());
    return after;
  });

  const touchTx = db.transaction((lastUsed: Map<string, Date>): void => {
    for (const [keyId, at] of lastUsed) s.touch.run(at.getTime(), keyId);
  });

  return {
    findByHash(hash) {
      const row = s.findKey.get(hash);
      return row && mapKeyAuth(row);
    },
    touch: (lastUsed) => touchTx.immediate(lastUsed),
    hold(input) {
      checkHold(input);
      return holdTx.immediate(input);
    },
    settle: (input) => settleTx.immediate(checkSettle(input)),
    beginBatch: beginBalances,
    holdInBatch(input) {
      checkHold(input);
      return holdBody(input);
    },
    settleInBatch: (input) => settleBody(checkSettle(input)),
    endBatch: writeBalances,
    recordUsage(usage) {
      const stored = storableUsage(usage);
      s.insertUsage.run(usageParams(stored, stored.held, stored.cost));
    },
    releaseExpired: (now, limit) => expireTx.immediate(now.getTime(), checkLimit(limit)),
    credit(input) {
      checkCredit(input);
      return creditTx.immediate(input);
    },
  };
}
