// The storage contract. Everything above storage/ talks to these interfaces; only storage/ imports
// Kysely and the database drivers. No table has a column that can hold a prompt, an output or a file.

import type { MicroCredits } from '../domain/money.ts';
import type { ModelPrice } from '../domain/usage.ts';

export type UserStatus = 'active' | 'suspended';
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
  /** allowedModels: omitted or null = every model; scopes: omitted fields = no limit. */
  create(input: { userId: string; name: string; hash: string; prefix: string; allowedModels?: string[] | null; scopes?: KeyScopesPatch }): Promise<ApiKeyRecord>;
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

export interface UsageRepo {
  /** Newest first. */
  list(filter: { userId?: string; limit: number; beforeCreatedAt?: Date }): Promise<UsageEvent[]>;
  get(requestId: string): Promise<UsageEvent | undefined>;
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

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly users: UsersRepo;
  readonly keys: KeysRepo;
  readonly ledger: LedgerRepo;
  readonly usage: UsageRepo;
  readonly prices: PricesRepo;
  readonly notifications: NotificationsRepo;
  readonly audit: AuditRepo;
  migrate(): Promise<void>;
  close(): Promise<void>;
}
