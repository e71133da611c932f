// The storage contract. Everything above storage/ talks to these interfaces; only storage/ imports
// Kysely and the database drivers. No table has a column that can hold a prompt, an output or a file.

import type { MicroCredits } from '../domain/money.ts';
import type { ModelPrice, PriceRates } from '../domain/usage.ts';

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

/** Metadata only: never a prompt, an output or an upstream error body. */
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

export interface LedgerRepo {
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

/** Where a price version came from: the config file or the admin API. */
export type PriceSource = 'config' | 'admin';

/** A stored price version: its rates, when it applies, who scheduled it and why. */
export interface PriceVersion extends ModelPrice {
  model: string;
  source: PriceSource;
  /** 'config', or who called the admin API. */
  actor: string | null;
  /** Required when a change was forced with less than 14 days' notice. */
  reason: string | null;
  createdAt: Date;
  /** A cancelled version never applies (only a version not yet in effect can be cancelled). */
  cancelledAt: Date | null;
  cancelledBy: string | null;
  cancelReason: string | null;
  /** When the model's recent users were notified (null: not yet). */
  announcedAt: Date | null;
}

export interface NewPriceVersion {
  model: string;
  rates: PriceRates;
  effectiveFrom: Date;
  source: PriceSource;
  actor: string | null;
  reason: string | null;
}

/**
 * Price versions (billing/prices.ts holds the rules: 14 days' notice, force with a reason, config start-up).
 * "Current" at an instant = the newest non-cancelled version whose effective_from is not after it (ties: the
 * higher version id); "upcoming" = non-cancelled versions after it.
 */
export interface PricesRepo {
  /** Every model's current version at `at` and its upcoming ones, ordered by model, effective_from, id. One statement. */
  active(at: Date): Promise<PriceVersion[]>;
  /** Every version of one model, cancelled ones included, oldest first (effective_from, id). */
  history(model: string): Promise<PriceVersion[]>;
  get(version: number): Promise<PriceVersion | undefined>;
  /** Adds a version as given (the caller has applied the notice rules). */
  add(input: NewPriceVersion): Promise<PriceVersion>;
  /**
   * For each model, atomically and serialized across processes: reads its versions (as `history`), asks
   * `plan` which to add and adds them. A throw from `plan` writes nothing for any model. Returns what was added.
   */
  reconcile(
    models: readonly string[],
    plan: (model: string, versions: readonly PriceVersion[]) => readonly NewPriceVersion[],
  ): Promise<PriceVersion[]>;
  /** Cancels a version that is not yet in effect at `at` and not already cancelled; undefined otherwise. */
  cancel(version: number, input: { at: Date; actor: string; reason: string | null }): Promise<PriceVersion | undefined>;
  markAnnounced(version: number, at: Date): Promise<void>;
  /** The distinct users with a usage event on `model` at or after `since`: one aggregate statement. */
  recentUsers(model: string, since: Date): Promise<string[]>;
}

export interface NotificationRecord {
  id: string;
  userId: string;
  kind: string;
  subject: string;
  body: string;
  data: Record<string, unknown> | null;
  createdAt: Date;
  readAt: Date | null;
}

export interface NewNotification {
  userId: string;
  kind: string;
  subject: string;
  body: string;
  data?: Record<string, unknown> | null;
  /** With a dedupe key, a second notification with the same (user, key) is skipped. */
  dedupeKey?: string | null;
}

export interface NotificationsRepo {
  /** Inserts each notification unless its (user, dedupe key) exists; returns how many were inserted. */
  create(items: ReadonlyArray<NewNotification>): Promise<number>;
  /** Newest first. */
  list(userId: string, page: { limit: number; unreadOnly?: boolean }): Promise<NotificationRecord[]>;
  /** Marks one of the user's notifications read; false when the user has no such notification. */
  markRead(userId: string, id: string): Promise<boolean>;
}

export interface AuditEntry {
  id: string;
  /** 'admin-token', or the id of the user who acted. */
  actor: string;
  /** e.g. user.create, user.update, credits.adjust, key.create, key.update, key.revoke */
  action: string;
  target: string | null;
  /** What changed; metadata only, never a secret. */
  details: Record<string, unknown> | null;
  ip: string | null;
  createdAt: Date;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'createdAt'>;

export interface AuditRepo {
  record(entry: NewAuditEntry): Promise<void>;
  /** Newest first. */
  list(filter: { limit: number; beforeId?: string; actor?: string; action?: string; target?: string }): Promise<AuditEntry[]>;
}

/** What login needs, found by the normalized email in one lookup. */
export interface LoginRecord {
  userId: string;
  status: UserStatus;
  /** null: no password set yet (e.g. a user created by an admin: the password-reset flow sets one). */
  passwordHash: string | null;
}

export interface AccountRecord {
  user: UserRecord;
  emailVerifiedAt: Date | null;
  hasPassword: boolean;
  closedAt: Date | null;
}

export interface CloseAccountInput {
  userId: string;
  /** HMAC-SHA-256 of the normalized address: replaces it (recognisable, not recoverable). */
  emailHmac: string;
  actor: string;
  reason: string;
}

export interface CloseAccountOutcome {
  /** The balance zeroed by the `adjustment` entry (0 when there was none: no entry written). */
  forfeited: MicroCredits;
  /** The keys revoked by the closure (to evict from authentication caches). */
  revokedKeyIds: string[];
}

export interface AccountsRepo {
  /** A new active user with a password; StorageConflictError when the email is taken. */
  create(input: { email: string; passwordHash: string }): Promise<UserRecord>;
  findLogin(email: string): Promise<LoginRecord | undefined>;
  get(userId: string): Promise<AccountRecord | undefined>;
  passwordHash(userId: string): Promise<string | null | undefined>;
  /** Sets email_verified_at once; false when no such (open) user or already verified. */
  markEmailVerified(userId: string, at: Date): Promise<boolean>;
  /**
   * Replaces the password hash and deletes every session of the user except `keepSession` (a session hash),
   * and every unused password-reset token. One transaction. False when no such open user.
   */
  setPassword(input: { userId: string; passwordHash: string; keepSession?: string }): Promise<boolean>;
  /**
   * Password reset: consumes the unused, unexpired reset token, sets the password, marks the email verified
   * (the mail was received), deletes every session and the other reset tokens. One transaction. The user id,
   * or undefined when the token is unknown, used, expired or its user closed.
   */
  resetPassword(input: { tokenHash: string; passwordHash: string; now: Date }): Promise<string | undefined>;
  /**
   * Closes the account in one transaction: revokes every key (and blanks their names), zeroes the balance with
   * an `adjustment` entry (actor, reason), replaces the email by `closed:<user id>` and stores its HMAC, clears
   * the password, status 'closed', deletes sessions, tokens and notifications. Undefined when no such open user.
   */
  close(input: CloseAccountInput): Promise<CloseAccountOutcome | undefined>;
  /** How many closed accounts had this address (by its HMAC). */
  closedWithEmailHmac(emailHmac: string): Promise<number>;
}

/** A session as the console's authentication needs it: one indexed lookup joined with its user. */
export interface SessionRecord {
  userId: string;
  userStatus: UserStatus;
  emailVerified: boolean;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

export interface SessionsRepo {
  create(input: { hash: string; userId: string; now: Date; expiresAt: Date }): Promise<void>;
  find(hash: string): Promise<SessionRecord | undefined>;
  touch(hash: string, at: Date): Promise<void>;
  /** Deletes one session; false when it did not exist. */
  delete(hash: string): Promise<boolean>;
  /** Deletes sessions whose absolute expiry passed or that were idle since before `idleBefore`. */
  deleteExpired(now: Date, idleBefore: Date): Promise<number>;
}

export type TokenPurpose = 'verify_email' | 'reset_password';

export interface TokensRepo {
  create(input: { hash: string; userId: string; purpose: TokenPurpose; now: Date; expiresAt: Date }): Promise<void>;
  /** Marks an unused, unexpired token used (single use, atomic) and returns its user id. */
  consume(hash: string, purpose: TokenPurpose, now: Date): Promise<string | undefined>;
  /** The token's user and expiry when it is unused and unexpired; nothing changes. */
  peek(hash: string, purpose: TokenPurpose, now: Date): Promise<{ userId: string; expiresAt: Date } | undefined>;
  /** Deletes tokens expired before `now` (used ones included). */
  deleteExpired(now: Date): Promise<number>;
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
  close(): Promise<void>;
}
