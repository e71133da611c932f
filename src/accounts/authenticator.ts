// Authenticates API keys on the hot path: SHA-256 of the presented key → one indexed lookup, cached
// briefly in process. evictKey / evictUser (revocation, suspension, new scopes) evict at once in this process
// and, when an eviction channel is attached (Redis: ./invalidation.ts), on every replica; without one, other
// replicas see the change within the cache TTL.
import { GatewayError } from '../domain/errors.ts';
import type { AccountRateLimits, KeyAuthRecord, KeyRateLimits, KeysRepo, SpendCaps } from '../storage/types.ts';
import { KEY_PREFIX, hashApiKey } from './keys.ts';
import { hasRateLimit, hasSpendCap } from './scopes.ts';

export interface AuthContext {
  keyId: string;
  userId: string;
  /** null: every model. */
  allowedModels: ReadonlySet<string> | null;
  /** The key's own rate limits; null: none set. */
  rateLimits: Readonly<KeyRateLimits> | null;
  /** The key's spend caps; null: none set. */
  spendCaps: Readonly<SpendCaps> | null;
  /** The account's rate-limit overrides (a null field: the config default); null: none set. */
  accountLimits: Readonly<AccountRateLimits> | null;
}

/** What one replica tells the others to forget. */
export type Eviction = { kind: 'key'; id: string } | { kind: 'user'; id: string };

interface CacheEntry {
  record: KeyAuthRecord;
  context: AuthContext;
  expiresAt: number;
}

export class KeyAuthenticator {
  private readonly cache = new Map<string, CacheEntry>();
  private lastUsed = new Map<string, Date>();
  private readonly flushTimer: NodeJS.Timeout;
  private broadcast: ((eviction: Eviction) => void) | undefined;

  constructor(
    private readonly keys: KeysRepo,
    private readonly options: { ttlMs: number; maxEntries: number; touchEveryMs: number } = {
      ttlMs: 5_000,
      maxEntries: 100_000,
      touchEveryMs: 10_000,
    },
  ) {
    this.flushTimer = setInterval(() => void this.flushLastUsed(), options.touchEveryMs);
    this.flushTimer.unref();
  }

  async authenticate(presented: string | undefined): Promise<AuthContext> {
    if (!presented) throw new GatewayError('invalid_api_key', 'Missing API key. Send it as "Authorization: Bearer sk-sy-…".');
    if (!presented.startsWith(KEY_PREFIX) || presented.length > 200) {
      throw new GatewayError('invalid_api_key', 'Incorrect API key provided.');
    }
    const hash = hashApiKey(presented);
    const now = Date.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.expiresAt <= now) {
      const record = await this.keys.findByHash(hash);
      if (!record) throw new GatewayError('invalid_api_key', 'Incorrect API key provided.');
      entry = {
        record,
        context: {
          keyId: record.keyId,
          userId: record.userId,
          allowedModels: record.allowedModels ? new Set(record.allowedModels) : null,
          rateLimits: hasRateLimit(record.rateLimits) ? Object.freeze({ ...record.rateLimits }) : null,
          spendCaps: hasSpendCap(record.spendCaps) ? Object.freeze({ ...record.spendCaps }) : null,
          accountLimits: hasRateLimit(record.accountLimits) ? Object.freeze({ ...record.accountLimits }) : null,
        },
        expiresAt: now + this.options.ttlMs,
      };
      if (this.cache.size >= this.options.maxEntries) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (entry.record.revoked) throw new GatewayError('invalid_api_key', 'This API key has been revoked.');
    if (entry.record.expiresAt !== null && entry.record.expiresAt.getTime() <= now) {
      throw new GatewayError('invalid_api_key', 'This API key has expired.');
    }
    if (entry.record.userStatus !== 'active') throw new GatewayError('account_suspended', 'This account is suspended.');
    this.lastUsed.set(entry.record.keyId, new Date(now));
    return entry.context;
  }

  /** Evicts every cached entry of a key (after revocation or a change of scopes), on every replica. */
  evictKey(keyId: string): void {
    this.applyEviction({ kind: 'key', id: keyId });
    this.broadcast?.({ kind: 'key', id: keyId });
  }

  /** Evicts every cached key of a user (after a change of status or of the account's limits), on every replica. */
  evictUser(userId: string): void {
    this.applyEviction({ kind: 'user', id: userId });
    this.broadcast?.({ kind: 'user', id: userId });
  }

  /** Evicts in this process only (an eviction another replica announced). */
  applyEviction(eviction: Eviction): void {
    const field = eviction.kind === 'key' ? 'keyId' : 'userId';
    for (const [hash, entry] of this.cache) if (entry.record[field] === eviction.id) this.cache.delete(hash);
  }

  /** Forgets every cached key (evictions may have been missed, e.g. while the channel was down). */
  evictAll(): void {
    this.cache.clear();
  }

  /** Attaches (or, with undefined, detaches) the channel that carries evictions to the other replicas. */
  shareEvictions(broadcast: ((eviction: Eviction) => void) | undefined): void {
    this.broadcast = broadcast;
  }

  async flushLastUsed(): Promise<void> {
    if (this.lastUsed.size === 0) return;
    const batch = this.lastUsed;
    this.lastUsed = new Map();
    await this.keys.touch(batch).catch(() => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushLastUsed();
  }
}
