// Rate-limit and concurrency stores behind one interface (ARCHITECTURE §2 limits/): memory for one process,
// Redis for many (./redis.ts). Counters are fixed 60-second windows per subject (`k:<key id>` or `u:<user id>`),
// kept by rate-limiter-flexible: RateLimiterMemory here, RateLimiterRedis (an atomic INCRBY + EXPIRE script) there.
// The store only counts; the Limiter (./limiter.ts) compares counts with limits and gives back what it refuses.
import { RateLimiterMemory } from 'rate-limiter-flexible';

export type Dimension = 'requests' | 'tokens';

/** Where a count or a lease lives: shared by every replica (Redis) or local to this process (memory). */
export type Where = 'shared' | 'local';

export interface WindowCount {
  /** The subject's count in its current window, this change included. */
  consumed: number;
  /** Milliseconds until the window ends and the count starts again from zero. */
  resetMs: number;
  where: Where;
}

export interface LimitStore {
  readonly backend: 'memory' | 'redis';
  /**
   * Adds `points` (negative: gives back) to the subject's current window, one atomic step, and returns the
   * count after it. `where` sends a correction to the store that took the original points.
   */
  add(dimension: Dimension, subject: string, points: number, where?: Where): Promise<WindowCount>;
  /** Takes one of the subject's `limit` concurrent slots for `lease` (a request id); ok false when all are taken. */
  acquire(subject: string, lease: string, limit: number): Promise<{ ok: boolean; active: number; where: Where }>;
  /** Frees a slot taken by acquire (a no-op for an unknown lease). */
  release(subject: string, lease: string, where: Where): Promise<void>;
  /** Is the shared backend answering (GET /readyz)? Always true for memory. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/** Length of a rate-limit window: limits are per minute (RPM, TPM). */
export const WINDOW_SECONDS = 60;

/** Counts never refuse by themselves (the Limiter decides), so the library's own limit is out of reach. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

export class MemoryLimitStore implements LimitStore {
  readonly backend = 'memory' as const;
  private readonly windows: Record<Dimension, RateLimiterMemory> = {
    requests: new RateLimiterMemory({ keyPrefix: 'req', points: UNBOUNDED, duration: WINDOW_SECONDS }),
    tokens: new RateLimiterMemory({ keyPrefix: 'tok', points: UNBOUNDED, duration: WINDOW_SECONDS }),
  };
  private readonly leases = new Map<string, Set<string>>();

  async add(dimension: Dimension, subject: string, points: number): Promise<WindowCount> {
    const limiter = this.windows[dimension];
    const res = points >= 0 ? await limiter.consume(subject, points) : await limiter.reward(subject, -points);
    return { consumed: res.consumedPoints, resetMs: Math.max(0, res.msBeforeNext), where: 'local' };
  }

  async acquire(subject: string, lease: string, limit: number): Promise<{ ok: boolean; active: number; where: Where }> {
    let held = this.leases.get(subject);
    if (!held) {
      held = new Set();
      this.leases.set(subject, held);
    }
    if (held.has(lease)) return { ok: true, active: held.size, where: 'local' };
    if (held.size >= limit) return { ok: false, active: held.size, where: 'local' };
    held.add(lease);
    return { ok: true, active: held.size, where: 'local' };
  }

  async release(subject: string, lease: string): Promise<void> {
    const held = this.leases.get(subject);
    if (!held) return;
    held.delete(lease);
    if (held.size === 0) this.leases.delete(subject);
  }

  async ready(): Promise<boolean> {
    return true;
  }

  /** In-flight leases of a subject (tests, admin views). */
  active(subject: string): number {
    return this.leases.get(subject)?.size ?? 0;
  }

  async close(): Promise<void> {
    this.leases.clear();
  }
}
