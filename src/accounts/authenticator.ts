// Authenticates API keys on the hot path: SHA-256 of the presented key → one indexed lookup, cached
// briefly in process. Revocation through this process's admin API evicts at once; other replicas see it
// within the cache TTL (cross-replica invalidation arrives with Redis notifications).
import { GatewayError } from '../domain/errors.ts';
import type { KeyAuthRecord, KeysRepo } from '../storage/types.ts';
import { KEY_PREFIX, hashApiKey } from './keys.ts';

export interface AuthContext {
  keyId: string;
  userId: string;
  /** null: every model. */
  allowedModels: ReadonlySet<string> | null;
}

interface CacheEntry {
  record: KeyAuthRecord;
  context: AuthContext;
  expiresAt: number;
}

export class KeyAuthenticator {
  private readonly cache = new Map<string, CacheEntry>();
  private lastUsed = new Map<string, Date>();
  private readonly flushTimer: NodeJS.Timeout;

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
        context: { keyId: record.keyId, userId: record.userId, allowedModels: record.allowedModels ? new Set(record.allowedModels) : null },
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

  /** Evicts every cached entry of a key (after revocation). */
  evictKey(keyId: string): void {
    for (const [hash, entry] of this.cache) if (entry.record.keyId === keyId) this.cache.delete(hash);
  }

  /** Evicts every cached key of a user (after a status change). */
  evictUser(userId: string): void {
    for (const [hash, entry] of this.cache) if (entry.record.userId === userId) this.cache.delete(hash);
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
