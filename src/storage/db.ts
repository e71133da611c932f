// The Kysely schema of the database, value conversions shared by both dialects, and id generation.
//
// Representation decisions (identical on SQLite and PostgreSQL, so one set of mappers serves both):
// - money columns are BIGINT micro-credits and come back as JS `bigint` (SQLite: safe integers;
//   PostgreSQL: an int8 type parser installed on the pool, not globally);
// - timestamps are BIGINT epoch milliseconds (UTC by construction), returned to callers as `Date`;
// - small counters (tokens, ms, status codes) are INTEGER: `number` on PostgreSQL, `bigint` on SQLite
//   (safe integers apply to every integer there), so the mappers accept both;
// - booleans: INTEGER 0/1 on SQLite, BOOLEAN on PostgreSQL.

import { randomBytes } from 'node:crypto';
import type { ColumnType, Generated } from 'kysely';
import type {
  AccountRateLimits, ApiKeyRecord, KeyAuthRecord, KeyRateLimits, LedgerEntry, LedgerKind, SpendCaps, UserRecord,
  UserRole, UserStatus,
} from './types.ts';

/** Epoch milliseconds or a money amount in a BIGINT column. */
type Big = ColumnType<bigint, bigint | number, bigint | number>;
type BigNull = ColumnType<bigint | null, bigint | number | null, bigint | number | null>;
/** An INTEGER column (see above: number on PostgreSQL, bigint on SQLite). */
type Int = ColumnType<number | bigint, number | bigint, number | bigint>;
type IntNull = ColumnType<number | bigint | null, number | bigint | null, number | bigint | null>;
/** A nullable INTEGER column added later, so an insert may leave it out (null). */
type IntNullOptional = ColumnType<number | bigint | null, number | bigint | null | undefined, number | bigint | null>;

export interface UsersTable {
  id: string;
  email: string;
  status: string;
  balance: Big;
  created_at: Big;
  /** 'user' | 'admin' (migration 0006). */
  role: ColumnType<string, string | undefined, string>;
  password_hash: ColumnType<string | null, string | null | undefined, string | null>;
  email_verified_at: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
  email_hmac: ColumnType<string | null, string | null | undefined, string | null>;
  closed_at: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
  /** The account's rate-limit overrides (migration 0008); null: the config default (limits.account). */
  limit_rpm: IntNullOptional;
  limit_tpm: IntNullOptional;
  limit_concurrency: IntNullOptional;
}

export interface SessionsTable {
  hash: string;
  user_id: string;
  created_at: Big;
  last_seen_at: Big;
  expires_at: Big;
}

export interface AccountTokensTable {
  hash: string;
  user_id: string;
  purpose: string;
  created_at: Big;
  expires_at: Big;
  used_at: BigNull;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  hash: string;
  prefix: string;
  /** JSON array of model names; null: every model. */
  allowed_models: string | null;
  created_at: Big;
  revoked_at: BigNull;
  last_used_at: BigNull;
  /** After this instant the key no longer authenticates (rotation overlap, key expiry); null: never. */
  expires_at: BigNull;
  /** Spend caps in micro-credits (migration 0006); null: no cap. */
  spend_cap_day: BigNull;
  spend_cap_month: BigNull;
  spend_cap_total: BigNull;
  /** The key's own rate limits; null: none. */
  limit_rpm: IntNull;
  limit_tpm: IntNull;
  limit_concurrency: IntNull;
}

/** Spend counted against a capped key's caps: captured cost + open holds, per period (migration 0006). */
export interface KeySpendTable {
  key_id: string;
  day_start: Big;
  day_amount: Big;
  month_start: Big;
  month_amount: Big;
  total_amount: Big;
}

export interface AuditLogTable {
  id: Generated<bigint>;
  actor: string;
  action: string;
  target: string | null;
  /** JSON object. */
  details: string | null;
  ip: string | null;
  created_at: Big;
  /** pending | ok | unchanged | failed (migration 0012). */
  outcome: ColumnType<string, string | undefined, string>;
  http_status: IntNullOptional;
}

export interface LedgerTable {
  id: Generated<bigint>;
  user_id: string;
  kind: string;
  amount: Big;
  balance_after: Big;
  request_id: string | null;
  payment_id: string | null;
  actor: string | null;
  reason: string | null;
  created_at: Big;
}

export interface HoldsTable {
  request_id: string;
  user_id: string;
  amount: Big;
  status: string;
  expires_at: Big;
  created_at: Big;
  /** The request's metadata (migration 0004), for the usage event of a hold that expires. */
  key_id: string | null;
  model: string | null;
  endpoint: string | null;
  stream: ColumnType<boolean | number | bigint | null, boolean | number | null, boolean | number | null>;
  /** The capped key whose spend this hold was counted in, and the periods it was counted in (migration 0006). */
  cap_key_id: ColumnType<string | null, string | null | undefined, string | null>;
  cap_day_start: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
  cap_month_start: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
}

export interface UsageEventsTable {
  request_id: string;
  user_id: string;
  key_id: string;
  model: string;
  provider: string | null;
  channel: string | null;
  endpoint: string;
  stream: ColumnType<boolean | number | bigint, boolean | number, boolean | number>;
  input_tokens: Int;
  cached_input_tokens: Int;
  cache_write_tokens: Int;
  output_tokens: Int;
  reasoning_tokens: Int;
  held: Big;
  cost: Big;
  price_version: IntNull;
  status: string;
  http_status: Int;
  error_code: string | null;
  latency_ms: Int;
  ttfb_ms: IntNull;
  attempts: string | null;
  created_at: Big;
  /** The upstream's error (migration 0013): status, code or type, scrubbed message. */
  upstream_status: IntNull;
  upstream_code: string | null;
  upstream_message: string | null;
}

export interface ModelPricesTable {
  id: Generated<number | bigint>;
  model: string;
  input_per_mtok: Big;
  cached_input_per_mtok: Big;
  cache_write_per_mtok: Big;
  output_per_mtok: Big;
  effective_from: Big;
  created_at: Big;
  reasoning_per_mtok: BigNull;
  per_request: Big;
  audio_input_per_minute: Big;
  audio_output_per_minute: Big;
  /** JSON: {"images": {size: {quality: "micro"}}, "video_per_second": {resolution: "micro"}}; null: neither. */
  media: string | null;
  source: string;
  actor: string | null;
  reason: string | null;
  cancelled_at: BigNull;
  cancelled_by: string | null;
  cancel_reason: string | null;
  announced_at: BigNull;
}

export interface NotificationsTable {
  id: string;
  user_id: string;
  kind: string;
  subject: string;
  body: string;
  data: string | null;
  dedupe_key: string | null;
  created_at: Big;
  read_at: BigNull;
  /** When a replica claimed it for its mail (migration 0009); null: not yet, or given back to be tried again. */
  mailed_at: BigNull;
  /** Failed deliveries so far, and when the next claim may take it (migration 0011). */
  mail_attempts: ColumnType<number | bigint, number | bigint | undefined, number | bigint>;
  mail_retry_at: BigNull;
}

export interface Database {
  users: UsersTable;
  api_keys: ApiKeysTable;
  ledger: LedgerTable;
  holds: HoldsTable;
  usage_events: UsageEventsTable;
  model_prices: ModelPricesTable;
  notifications: NotificationsTable;
  key_spend: KeySpendTable;
  audit_log: AuditLogTable;
  sessions: SessionsTable;
  account_tokens: AccountTokensTable;
}

// ---------------------------------------------------------------------------------------------------
// Value conversions (driver values arrive as `unknown`-ish unions; narrow them here, in one place).

export function toBig(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new TypeError(`storage: expected an integer, got ${typeof value}`);
}

export function toNum(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  throw new TypeError(`storage: expected a number, got ${typeof value}`);
}

export function toNumOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toNum(value);
}

export function toDate(value: unknown): Date {
  return new Date(toNum(value));
}

export function toDateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : toDate(value);
}

export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === 1n;
}

export function parseAllowedModels(value: string | null): string[] | null {
  if (value === null) return null;
  const parsed: unknown = JSON.parse(value);
  if (!Array.isArray(parsed)) return null;
  return parsed.filter((m): m is string => typeof m === 'string');
}

const USER_STATUSES: ReadonlySet<string> = new Set<UserStatus>(['active', 'suspended', 'closed']);
export function toUserStatus(value: string): UserStatus {
  // Anything unknown is treated as suspended: fail closed.
  return USER_STATUSES.has(value) ? (value as UserStatus) : 'suspended';
}

export function toUserRole(value: unknown): UserRole {
  // Anything unknown is an ordinary user: fail closed.
  return value === 'admin' ? 'admin' : 'user';
}

/** Rate-limit columns: api_keys' (the key's limits) and users' (the account's overrides) have the same names. */
export interface RateLimitColumns {
  limit_rpm: unknown; limit_tpm: unknown; limit_concurrency: unknown;
}

export const RATE_LIMIT_COLUMNS = ['limit_rpm', 'limit_tpm', 'limit_concurrency'] as const;

/** The spend-cap and rate-limit columns of api_keys, as the store reads them on both dialects. */
export interface KeyLimitColumns extends RateLimitColumns {
  spend_cap_day: unknown; spend_cap_month: unknown; spend_cap_total: unknown;
}

export const KEY_LIMIT_COLUMNS = ['spend_cap_day', 'spend_cap_month', 'spend_cap_total', ...RATE_LIMIT_COLUMNS] as const;

const toBigOrNull = (value: unknown): bigint | null => (value === null || value === undefined ? null : toBig(value));

export function mapSpendCaps(row: KeyLimitColumns): SpendCaps {
  return { day: toBigOrNull(row.spend_cap_day), month: toBigOrNull(row.spend_cap_month), total: toBigOrNull(row.spend_cap_total) };
}

export function mapRateLimits(row: RateLimitColumns): KeyRateLimits & AccountRateLimits {
  return { rpm: toNumOrNull(row.limit_rpm), tpm: toNumOrNull(row.limit_tpm), concurrency: toNumOrNull(row.limit_concurrency) };
}

/**
 * The row of the hot path's key lookup (both dialects: api_keys joined with its user), the user's columns
 * prefixed `user_`.
 */
export interface KeyAuthRow extends KeyLimitColumns {
  id: string; user_id: string; revoked_at: bigint | null; expires_at: bigint | null; allowed_models: string | null; user_status: string;
  user_limit_rpm: unknown; user_limit_tpm: unknown; user_limit_concurrency: unknown;
}

/** The select list of the key lookup (`k` = api_keys, `u` = users), in KeyAuthRow's names. */
export const KEY_AUTH_SELECT = `k.id, k.user_id, k.revoked_at, k.expires_at, k.allowed_models, u.status AS user_status,
       k.spend_cap_day, k.spend_cap_month, k.spend_cap_total, k.limit_rpm, k.limit_tpm, k.limit_concurrency,
       u.limit_rpm AS user_limit_rpm, u.limit_tpm AS user_limit_tpm, u.limit_concurrency AS user_limit_concurrency`;

export function mapKeyAuth(row: KeyAuthRow): KeyAuthRecord {
  return {
    keyId: row.id,
    userId: row.user_id,
    revoked: row.revoked_at !== null,
    userStatus: toUserStatus(row.user_status),
    allowedModels: parseAllowedModels(row.allowed_models),
    expiresAt: toDateOrNull(row.expires_at),
    spendCaps: mapSpendCaps(row),
    rateLimits: mapRateLimits(row),
    accountLimits: mapRateLimits({ limit_rpm: row.user_limit_rpm, limit_tpm: row.user_limit_tpm, limit_concurrency: row.user_limit_concurrency }),
  };
}

const LEDGER_KINDS: ReadonlySet<string> = new Set<LedgerKind>([
  'topup', 'grant', 'hold', 'capture', 'release', 'refund', 'adjustment',
]);
export function toLedgerKind(value: string): LedgerKind {
  if (!LEDGER_KINDS.has(value)) throw new TypeError(`storage: unknown ledger kind ${value}`);
  return value as LedgerKind;
}

// ---------------------------------------------------------------------------------------------------
// Row mappers (rows as selected by Kysely with `selectAll()`).

export function mapUser(row: RateLimitColumns & { id: string; email: string; status: string; role?: unknown; balance: unknown; created_at: unknown }): UserRecord {
  return {
    id: row.id,
    email: row.email,
    status: toUserStatus(row.status),
    role: toUserRole(row.role),
    balance: toBig(row.balance),
    createdAt: toDate(row.created_at),
    rateLimits: mapRateLimits(row),
  };
}

export function mapKey(row: KeyLimitColumns & {
  id: string; user_id: string; name: string; prefix: string; allowed_models: string | null;
  created_at: unknown; revoked_at: unknown; last_used_at: unknown; expires_at: unknown;
}): ApiKeyRecord {
  return {
    allowedModels: parseAllowedModels(row.allowed_models),
    spendCaps: mapSpendCaps(row),
    rateLimits: mapRateLimits(row),
    id: row.id,
    userId: row.user_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: toDate(row.created_at),
    revokedAt: toDateOrNull(row.revoked_at),
    lastUsedAt: toDateOrNull(row.last_used_at),
    expiresAt: toDateOrNull(row.expires_at),
  };
}

export const LEDGER_COLUMNS = [
  'id', 'user_id', 'kind', 'amount', 'balance_after', 'request_id', 'payment_id', 'actor', 'reason', 'created_at',
] as const;

export function mapLedger(row: {
  id: unknown; user_id: string; kind: string; amount: unknown; balance_after: unknown;
  request_id: string | null; payment_id: string | null; actor: string | null; reason: string | null; created_at: unknown;
}): LedgerEntry {
  return {
    id: toBig(row.id).toString(),
    userId: row.user_id,
    kind: toLedgerKind(row.kind),
    amount: toBig(row.amount),
    balanceAfter: toBig(row.balance_after),
    requestId: row.request_id,
    paymentId: row.payment_id,
    actor: row.actor,
    reason: row.reason,
    createdAt: toDate(row.created_at),
  };
}

// ---------------------------------------------------------------------------------------------------
// Ids and errors.

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` uniformly random base62 characters from node:crypto (rejection sampling, no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export const newUserId = (): string => 'usr_' + randomBase62(20);
export const newKeyId = (): string => 'key_' + randomBase62(20);
export const newNotificationId = (): string => 'ntf_' + randomBase62(20);

/** A uniqueness conflict the caller can act on (e.g. an email that is already registered). */
export class StorageConflictError extends Error {
  override readonly name = 'StorageConflictError';
}

/** True for a unique-constraint violation on either driver. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = (error as { code: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
