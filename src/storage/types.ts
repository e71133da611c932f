// The storage contract. Everything above storage/ talks to these interfaces; only storage/ imports
// Kysely and the database drivers. No table has a column that can hold a prompt, an output or a file.

import type { MicroCredits } from '../domain/money.ts';
import type { UpstreamSummary } from '../domain/upstream-errors.ts';
import type { AccountsRepo, AuditRepo, NotificationsRepo, SessionsRepo, TokensRepo } from './account-types.ts';
import type { PricesRepo } from './price-types.ts';
import type { DependencyCheck } from './availability.ts';

export type * from './account-types.ts';
export type * from './price-types.ts';
export type { DependencyCheck } from './availability.ts';

/** 'closed' is final: the account was closed by its owner (keys revoked, personal data erased). */
export type UserStatus = 'active' | 'suspended' | 'closed';
/** `admin` users may administer the gateway (the console's admin views); `user` is everyone else. */
export type UserRole = 'user' | 'admin';

export interface UserRecord {
  id: string;
  email: string;
  status: UserStatus;
  role: UserRole;
  /** Available balance in micro-credits (active holds already deducted). */
  balance: MicroCredits;
  createdAt: Date;
  /** The account's own rate limits, set by an admin (migration 0008). */
  rateLimits: AccountRateLimits;
}

/**
 * An account's rate-limit overrides: a number replaces the config default (limits.account) of that kind for
 * this account only; null: the default applies.
 */
export interface AccountRateLimits {
  rpm: number | null;
  tpm: number | null;
  concurrency: number | null;
}

/** A key's spend caps in micro-credits per UTC day, per UTC month and in total; null: no cap of that kind. */
export interface SpendCaps {
  day: MicroCredits | null;
  month: MicroCredits | null;
  total: MicroCredits | null;
}

export type SpendPeriod = keyof SpendCaps;

/** A key's own rate limits; null: no limit of that kind (the account's limits still apply). */
export interface KeyRateLimits {
  rpm: number | null;
  tpm: number | null;
  concurrency: number | null;
}

/** What a key may do: its models, spend caps, rate limits and expiry. */
export interface KeyScopes {
  /** null: every model. */
  allowedModels: string[] | null;
  spendCaps: SpendCaps;
  rateLimits: KeyRateLimits;
  /** null: never expires. */
  expiresAt: Date | null;
}

/** A change of scopes: an absent field stays as it is, null clears it. */
export interface KeyScopesPatch {
  allowedModels?: string[] | null;
  spendCaps?: Partial<SpendCaps>;
  rateLimits?: Partial<KeyRateLimits>;
  expiresAt?: Date | null;
}

export interface ApiKeyRecord extends KeyScopes {
  id: string;
  userId: string;
  name: string;
  /** Short visible prefix, e.g. "sk-sy-AbCd1234". */
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** What authentication needs, found by the key's SHA-256 hash in one lookup. */
export interface KeyAuthRecord {
  keyId: string;
  userId: string;
  revoked: boolean;
  userStatus: UserStatus;
  /** null: every model. */
  allowedModels: string[] | null;
  /** null: never expires. */
  expiresAt: Date | null;
  spendCaps: SpendCaps;
  rateLimits: KeyRateLimits;
  /** The key's user's rate-limit overrides (read in the same lookup). */
  accountLimits: AccountRateLimits;
}

/** What a capped key has spent or reserved (open holds) in the current periods, micro-credits. */
export interface KeySpend {
  day: MicroCredits;
  month: MicroCredits;
  total: MicroCredits;
}

export type LedgerKind = 'topup' | 'grant' | 'hold' | 'capture' | 'release' | 'refund' | 'adjustment';

export interface LedgerEntry {
  id: string;
  userId: string;
  kind: LedgerKind;
  /** Signed effect on the balance. Σ amount over a user's entries = the user's balance. */
  amount: MicroCredits;
  balanceAfter: MicroCredits;
  requestId: string | null;
  /** The payment a topup or refund belongs to (unique per kind: a replayed webhook is a no-op). */
  paymentId: string | null;
  actor: string | null;
  reason: string | null;
  createdAt: Date;
}

export type UsageStatus = 'ok' | 'error' | 'client_closed' | 'expired';

/** Metadata only: never a prompt, an output or an upstream error body (only its scrubbed summary). */
export interface UsageEvent {
  requestId: string;
  userId: string;
  keyId: string;
  model: string;
  provider: string | null;
  channel: string | null;
  endpoint: string;
  stream: boolean;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  held: MicroCredits;
  cost: MicroCredits;
  priceVersion: number | null;
  status: UsageStatus;
  httpStatus: number;
  errorCode: string | null;
  latencyMs: number;
  ttfbMs: number | null;
  /** The channels tried, `channel;outcome;ms` comma-separated (as in x-switchyard-attempts). */
  attempts?: string | null;
  /** The upstream's error when it failed the request: status, code, scrubbed message (domain/upstream-errors.ts). */
  upstreamError?: UpstreamSummary | null;
  createdAt: Date;
}

/** What a hold remembers of its request, so a hold whose process died can still get a usage event. */
export interface HoldMeta {
  keyId: string;
  model: string;
  endpoint: string;
  stream: boolean;
}

export interface HoldRequest {
  requestId: string;
  userId: string;
  amount: MicroCredits;
  expiresAt: Date;
  /** Without it, an expired hold is released with no usage event (nothing to attribute it to). */
  meta?: HoldMeta;
  /** A capped key: the hold also counts against its caps, atomically with the debit (see ledger.ts). */
  caps?: HoldCaps;
}

export interface HoldCaps {
  keyId: string;
  caps: SpendCaps;
  /** Epoch ms of the current UTC day's and UTC month's first instant (spendPeriods in ledger.ts). */
  dayStart: number;
  monthStart: number;
}

/** Which cap refused a hold, and what that period had already counted (captured + open holds). */
export interface CapRefusal {
  period: SpendPeriod;
  limit: MicroCredits;
  spent: MicroCredits;
}

export type HoldOutcome = { ok: true } | { ok: false; balance: MicroCredits; cap?: CapRefusal };

export interface SettleRequest {
  requestId: string;
  /** Actual cost; capped at the hold by the store. 0 releases everything. */
  charge: MicroCredits;
  /** Written in the same transaction as the capture/release. */
  usage: UsageEvent;
}

export interface SettleOutcome {
  /** false when the hold was already settled/released/expired: nothing changed (idempotent). */
  applied: boolean;
  charged: MicroCredits;
  released: MicroCredits;
}

/**
 * One user's reconciliation (GET /admin/v1/ledger/verify), read in one statement so every figure comes from
 * the same snapshot. Holds: each hold entry is released at most once (unique (request_id, kind)) and a
 * release always returns the whole hold, so the hold entries without a release are counted as
 * (hold entries − release entries) and their amount as (Σ held − Σ released).
 */
export interface LedgerCheck {
  userId: string;
  balance: MicroCredits;
  /** Σ amount over the user's ledger entries: must equal `balance`. */
  ledgerSum: MicroCredits;
  /** Holds rows with status 'held', and their amount. */
  openHolds: number;
  openHoldAmount: MicroCredits;
  /** Hold entries with no release entry for the same request id, and their amount: must equal the above. */
  unreleasedHolds: number;
  unreleasedHoldAmount: MicroCredits;
  /**
   * Values that are not integers (a balance or ledger amount SQLite turned into a REAL by an overflow before the
   * int64 bounds; `balance` then shows it truncated): must be 0.
   */
  invalidValues: number;
}

export interface UserFilter {
  limit: number;
  offset: number;
  /** Case-insensitive substring of the email. */
  email?: string;
  status?: UserStatus;
  role?: UserRole;
}

export interface UsersRepo {
  create(email: string): Promise<UserRecord>;
  get(id: string): Promise<UserRecord | undefined>;
  /** Oldest first; every filter optional. */
  list(filter: UserFilter): Promise<UserRecord[]>;
  /** Suspends or reactivates a user (a suspended user's keys authenticate as `userStatus: 'suspended'`); false when no such user. */
  setStatus(id: string, status: UserStatus): Promise<boolean>;
  /** false when no such user. */
  setRole(id: string, role: UserRole): Promise<boolean>;
  /** Sets the account's rate-limit overrides (absent fields unchanged, null clears); false when no such user. */
  setRateLimits(id: string, patch: Partial<AccountRateLimits>): Promise<boolean>;
}

export interface KeysRepo {
  /** allowedModels: omitted or null = every model; expiresAt: omitted or null = never; scopes: omitted fields = no limit. */
  create(input: {
    userId: string; name: string; hash: string; prefix: string; allowedModels?: string[] | null; expiresAt?: Date | null;
    scopes?: KeyScopesPatch;
  }): Promise<ApiKeyRecord>;
  listByUser(userId: string): Promise<ApiKeyRecord[]>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** Hot path: one indexed lookup. */
  findByHash(hash: string): Promise<KeyAuthRecord | undefined>;
  /** Sets (or clears, with null) the instant after which the key stops working; false when no such key. */
  setExpiry(id: string, expiresAt: Date | null): Promise<boolean>;
  /**
   * Changes a key's scopes (absent fields unchanged); undefined when no such key. A key that gets its first
   * spend cap starts counting from what it was charged in the current periods (its usage events).
   */
  setScopes(id: string, patch: KeyScopesPatch): Promise<ApiKeyRecord | undefined>;
  /** What a capped key has counted in the periods containing `now`; zeros for a key never capped. */
  spend(id: string, now: Date): Promise<KeySpend>;
  /** Sets revoked_at once; false when no such key or already revoked. */
  revoke(id: string): Promise<boolean>;
  /** Batched, off the hot path. */
  touch(lastUsed: Map<string, Date>): Promise<void>;
}

/** Group commit counters (PostgreSQL, docs/decisions/0015): how much went through batches, how often one fell back. */
export interface BatchStats {
  /** Batch calls that succeeded, and the operations they carried. */
  batches: number;
  batchedOps: number;
  /** Operations run alone: the idle path. */
  single: number;
  /** Batch calls that failed and were re-run item by item. */
  fallbacks: number;
}

export interface LedgerRepo {
  /** PostgreSQL: the hot path's group commit counters (GET /metrics); absent on SQLite. */
  batching?: () => { hold: Readonly<BatchStats>; settle: Readonly<BatchStats> };
  /**
   * Credit a user (grant/topup/refund/adjustment; a negative amount may not overdraw). Every entry names its
   * actor; a grant or topup is positive; a topup needs its payment id, a refund a payment id or a reason, an
   * adjustment a reason (RangeError otherwise, nothing written).
   */
  credit(input: {
    userId: string;
    kind: 'grant' | 'topup' | 'refund' | 'adjustment';
    amount: MicroCredits;
    actor: string;
    reason: string | null;
    paymentId?: string | null;
  }): Promise<{ balance: MicroCredits }>;
  /**
   * Hot path: one atomic conditional debit (`… WHERE balance >= :amount`) + the hold entry.
   * Idempotent by requestId: a second hold with the same id changes nothing and reports ok.
   */
  hold(input: HoldRequest): Promise<HoldOutcome>;
  /** Hot path: capture min(charge, hold), release the hold, write the usage event; idempotent. */
  settle(input: SettleRequest): Promise<SettleOutcome>;
  /** Releases holds whose expiry has passed (safe to run concurrently on every replica). */
  releaseExpired(now: Date, limit: number): Promise<number>;
  balance(userId: string): Promise<MicroCredits | undefined>;
  /** Newest first. */
  entries(userId: string, page: { limit: number; beforeId?: string }): Promise<LedgerEntry[]>;
  /** Σ amount of the user's entries (the invariant: equals balance). */
  sum(userId: string): Promise<MicroCredits>;
  /** The entries of one of the user's requests, oldest first (empty for another user's request). */
  requestEntries(userId: string, requestId: string): Promise<LedgerEntry[]>;
  /**
   * Reconciles a page of users (ordered by id, those after `afterUserId`): one aggregate statement per page,
   * so it scales to any number of users and runs safely beside live traffic.
   */
  verify(page: { afterUserId?: string; limit: number }): Promise<LedgerCheck[]>;
}

/** A position in a newest-first usage listing: the last event of the previous page. */
export interface UsageCursor {
  createdAt: Date;
  requestId: string;
}

export interface UsagePageFilter {
  userId: string;
  limit: number;
  /** Events strictly after this one in newest-first order (keyset pagination: stable under inserts). */
  after?: UsageCursor;
  /** created_at >= from and < to. */
  from?: Date;
  to?: Date;
  keyId?: string;
}

/** One row of the per day × model × key aggregate (UTC days). */
export interface UsageAggregate {
  /** Days since 1970-01-01 UTC. */
  day: number;
  model: string;
  keyId: string;
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  cost: MicroCredits;
}

export interface UsageRepo {
  /**
   * Metered billing (billing.mode: metered): writes the request's usage event with its cost and nothing else
   * (no hold, no ledger entry, the balance untouched). Idempotent by request id.
   */
  record(event: UsageEvent): Promise<void>;
  /** Newest first. */
  list(filter: { userId?: string; limit: number; beforeCreatedAt?: Date }): Promise<UsageEvent[]>;
  get(requestId: string): Promise<UsageEvent | undefined>;
  /** One user's events, newest first (created_at, then request id), keyset-paginated. */
  page(filter: UsagePageFilter): Promise<UsageEvent[]>;
  /** Σ per UTC day × model × key over [from, to): one GROUP BY statement. */
  aggregate(filter: { userId: string; from: Date; to: Date }): Promise<UsageAggregate[]>;
  /** Σ cost per key id over all of the user's events. */
  spendByKey(userId: string): Promise<Map<string, MicroCredits>>;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly users: UsersRepo;
  readonly keys: KeysRepo;
  readonly ledger: LedgerRepo;
  readonly usage: UsageRepo;
  readonly prices: PricesRepo;
  readonly notifications: NotificationsRepo;
  readonly audit: AuditRepo;
  readonly accounts: AccountsRepo;
  readonly sessions: SessionsRepo;
  readonly tokens: TokensRepo;
  migrate(): Promise<void>;
  /** Can the database be reached now? A probe result at most about a second old (GET /readyz). */
  ready(): Promise<DependencyCheck>;
  close(): Promise<void>;
}
