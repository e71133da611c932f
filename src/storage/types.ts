// The storage contract. Everything above storage/ talks to these interfaces; only storage/ imports
// Kysely and the database drivers. No table has a column that can hold a prompt, an output or a file.

import type { MicroCredits } from '../domain/money.ts';
import type { ModelPrice } from '../domain/usage.ts';

/** 'closed' is final: the account was closed by its owner (keys revoked, personal data erased). */
export type UserStatus = 'active' | 'suspended' | 'closed';

export interface UserRecord {
  id: string;
  email: string;
  status: UserStatus;
  /** Available balance in micro-credits (active holds already deducted). */
  balance: MicroCredits;
  createdAt: Date;
}

export interface ApiKeyRecord {
  id: string;
  userId: string;
  name: string;
  /** Short visible prefix, e.g. "sk-sy-AbCd1234". */
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  /** null: never expires. */
  expiresAt: Date | null;
  /** null: every model. */
  allowedModels: string[] | null;
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

export interface HoldRequest {
  requestId: string;
  userId: string;
  amount: MicroCredits;
  expiresAt: Date;
}

export type HoldOutcome = { ok: true } | { ok: false; balance: MicroCredits };

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

export interface UsersRepo {
  create(email: string): Promise<UserRecord>;
  get(id: string): Promise<UserRecord | undefined>;
  list(page: { limit: number; offset: number }): Promise<UserRecord[]>;
  /** Suspends or reactivates a user (a suspended user's keys authenticate as `userStatus: 'suspended'`); false when no such user. */
  setStatus(id: string, status: UserStatus): Promise<boolean>;
}

export interface KeysRepo {
  /** allowedModels: omitted or null = every model; expiresAt: omitted or null = never. */
  create(input: {
    userId: string; name: string; hash: string; prefix: string; allowedModels?: string[] | null; expiresAt?: Date | null;
  }): Promise<ApiKeyRecord>;
  listByUser(userId: string): Promise<ApiKeyRecord[]>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** Hot path: one indexed lookup. */
  findByHash(hash: string): Promise<KeyAuthRecord | undefined>;
  /** Sets (or clears, with null) the instant after which the key stops working; false when no such key. */
  setExpiry(id: string, expiresAt: Date | null): Promise<boolean>;
  /** Sets revoked_at once; false when no such key or already revoked. */
  revoke(id: string): Promise<boolean>;
  /** Batched, off the hot path. */
  touch(lastUsed: Map<string, Date>): Promise<void>;
}

export interface LedgerRepo {
  /** Credit a user (grant/topup/refund/adjustment; a negative adjustment may not overdraw). */
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

export interface PricesRepo {
  /**
   * Makes the stored current price of each model equal the configured one, inserting a new version
   * (effective now) where it differs, and returns each model's current price with its version id.
   */
  sync(prices: ReadonlyArray<{ model: string; price: Omit<ModelPrice, 'version'> }>): Promise<Map<string, ModelPrice>>;
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
  readonly accounts: AccountsRepo;
  readonly sessions: SessionsRepo;
  readonly tokens: TokensRepo;
  migrate(): Promise<void>;
  close(): Promise<void>;
}
