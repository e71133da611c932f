// The Redis limit store: the same counts as the memory store, shared by every replica, so a 100 RPM key admits
// 100 requests a minute however many replicas serve it (docs/decisions/0014-rate-limits-and-invalidation.md).
//
// - Windows: rate-limiter-flexible's RateLimiterRedis — one atomic script per change (SET NX EX + INCRBY + PTTL),
//   keys `<prefix>rl:req:<subject>` and `<prefix>rl:tok:<subject>`, each living one window.
// - Concurrency: a sorted set per subject, `<prefix>cc:<subject>`, member = the request id, score = when its lease
//   ends (Redis server time, so replicas' clocks do not matter). Taking a slot is one script: drop the ended
//   leases, count, add if below the limit. Each replica renews its own leases every third of the lease time, so a
//   replica that dies (kill -9) stops renewing and its slots free themselves within one lease time (default 60 s).
// - Redis down or slow (command timeout): every operation falls back to this replica's memory store, logged once
//   per outage — limits then hold per replica instead of across them (fail open to local limits: money is
//   guarded by the database, not by Redis). Corrections and releases go to the store that took the points.
//   The breaker is the connection's state (../storage/redis.ts): a Redis that stops answering trips it after one
//   command timeout; while it is not `ready` no operation waits on Redis at all; it closes when Redis answers.
import { randomBytes } from 'node:crypto';
import type { Redis, Result } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { closeRedis, newRedis, pingRedis } from '../storage/redis.ts';
import { MemoryLimitStore, WINDOW_SECONDS, type Dimension, type LimitStore, type WindowCount, type Where } from './store.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    syLeaseAcquire(key: string, lease: string, limit: number, ttlMs: number): Result<[number, number], Context>;
    syLeaseRenew(key: string, lease: string, ttlMs: number): Result<number, Context>;
  }
}

// KEYS[1] the subject's set; ARGV lease, limit, ttl ms. Returns {taken 0|1, active leases}.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {1, redis.call('ZCARD', KEYS[1])} end
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then return {0, n} end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, n + 1}`;

// KEYS[1] the subject's set; ARGV lease, ttl ms. Extends a lease that still exists.
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return renewed`;

export interface RedisLimitOptions {
  logger: Logger;
  /** Key prefix (default `sy:`; tests use a unique one). */
  prefix?: string;
  /** A lease not renewed for this long is dropped (a crashed replica's slots). Default 60 s. */
  leaseMs?: number;
  connectTimeoutMs?: number;
  /** How long a limit check waits for Redis before falling back to local limits. Default 500 ms. */
  commandTimeoutMs?: number;
}

const UNBOUNDED = Number.MAX_SAFE_INTEGER;

export class RedisLimitStore implements LimitStore {
  readonly backend = 'redis' as const;
  readonly origin = randomBytes(8).toString('hex');
  private readonly redis: Redis;
  private readonly local = new MemoryLimitStore();
  private readonly windows: Record<Dimension, RateLimiterRedis>;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly logger: Logger;
  /** Leases this replica holds in Redis (key → lease ids), renewed by the heartbeat. */
  private readonly held = new Map<string, Set<string>>();
  private readonly heartbeat: NodeJS.Timeout;
  private down = false;
  private closed = false;

  constructor(url: string, options: RedisLimitOptions) {
    this.logger = options.logger;
    this.prefix = options.prefix ?? 'sy:';
    this.leaseMs = options.leaseMs ?? 60_000;
    this.redis = newRedis(url, {
      name: `switchyard:limits:${this.origin}`,
      connectTimeoutMs: options.connectTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs ?? 500,
    });
    this.redis.on('error', (error: Error) => this.markDown(error.message));
    this.redis.on('reconnecting', () => this.markDown('reconnecting'));
    this.redis.on('ready', () => this.markUp());
    this.redis.defineCommand('syLeaseAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    this.redis.defineCommand('syLeaseRenew', { numberOfKeys: 1, lua: RENEW });
    const window = (name: string): RateLimiterRedis =>
      new RateLimiterRedis({
        storeClient: this.redis,
        keyPrefix: `${this.prefix}rl:${name}`,
        points: UNBOUNDED,
        duration: WINDOW_SECONDS,
        rejectIfRedisNotReady: true,
      });
    this.windows = { requests: window('req'), tokens: window('tok') };
    this.heartbeat = setInterval(() => void this.renew(), Math.max(1_000, Math.floor(this.leaseMs / 3)));
    this.heartbeat.unref();
  }

  /** Connects; resolves (with a warning) when Redis is unreachable — limits are then local until it is back. */
  async start(): Promise<void> {
    await this.redis.connect().catch((error: unknown) => this.markDown(error instanceof Error ? error.message : String(error)));
  }

  connected(): boolean {
    return this.redis.status === 'ready';
  }

  async add(dimension: Dimension, subject: string, points: number, where: Where = 'shared'): Promise<WindowCount> {
    if (where === 'shared' && this.usable()) {
      try {
        const limiter = this.windows[dimension];
        const res = points >= 0 ? await limiter.consume(subject, points) : await limiter.reward(subject, -points);
        this.markUp();
        return { consumed: res.consumedPoints, resetMs: Math.max(0, res.msBeforeNext), where: 'shared' };
      } catch (error) {
        this.markDown(error instanceof Error ? error.message : String(error));
      }
    }
    return this.local.add(dimension, subject, points);
  }

  async acquire(subject: string, lease: string, limit: number): Promise<{ ok: boolean; active: number; where: Where }> {
    if (this.usable()) {
      const key = this.leaseKey(subject);
      try {
        const [taken, active] = await this.redis.syLeaseAcquire(key, lease, limit, this.leaseMs);
        this.markUp();
        if (taken === 1) this.remember(key, lease);
        return { ok: taken === 1, active, where: 'shared' };
      } catch (error) {
        this.markDown(error instanceof Error ? error.message : String(error));
      }
    }
    return this.local.acquire(subject, lease, limit);
  }

  async release(subject: string, lease: string, where: Where): Promise<void> {
    if (where === 'local') return this.local.release(subject, lease);
    const key = this.leaseKey(subject);
    this.forget(key, lease);
    if (!this.usable()) return; // the lease ends by itself after leaseMs
    // A release that cannot reach Redis is not retried: the lease ends by itself after leaseMs.
    await this.redis.zrem(key, lease).then(
      () => undefined,
      (error: unknown) => this.markDown(error instanceof Error ? error.message : String(error)),
    );
  }

  async ready(): Promise<boolean> {
    return pingRedis(this.redis);
  }

  /** The breaker: only a `ready` connection is asked; anything else falls back at once. */
  private usable(): boolean {
    return !this.closed && this.redis.status === 'ready';
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    // Leases still held end by themselves after leaseMs; give them back now if Redis is there.
    if (this.redis.status === 'ready' && this.held.size > 0) {
      const pipeline = this.redis.pipeline();
      for (const [key, leases] of this.held) pipeline.zrem(key, ...leases);
      await pipeline.exec().catch(() => undefined);
    }
    this.held.clear();
    await this.local.close();
    await closeRedis(this.redis);
  }

  private leaseKey(subject: string): string {
    return `${this.prefix}cc:${subject}`;
  }

  private remember(key: string, lease: string): void {
    let leases = this.held.get(key);
    if (!leases) {
      leases = new Set();
      this.held.set(key, leases);
    }
    leases.add(lease);
  }

  private forget(key: string, lease: string): void {
    const leases = this.held.get(key);
    if (!leases) return;
    leases.delete(lease);
    if (leases.size === 0) this.held.delete(key);
  }

  /** Extends every lease this replica holds (one pipelined round trip). */
  private async renew(): Promise<void> {
    if (this.held.size === 0 || this.redis.status !== 'ready') return;
    const pipeline = this.redis.pipeline();
    for (const [key, leases] of this.held) for (const lease of leases) pipeline.syLeaseRenew(key, lease, this.leaseMs);
    await pipeline.exec().catch((error: unknown) => this.markDown(error instanceof Error ? error.message : String(error)));
  }

  private markDown(reason: string): void {
    if (this.closed || this.down) return;
    this.down = true;
    this.logger.warn({ reason }, 'Redis unavailable: rate limits are enforced per replica until it is back');
  }

  private markUp(): void {
    if (!this.down || this.redis.status !== 'ready') return;
    this.down = false;
    this.logger.info('Redis reachable again: rate limits are shared');
  }
}
