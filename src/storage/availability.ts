// Is the database reachable? One answer for both dialects, in one place (issue 11, "Dependencies down").
//
// - Every Store call goes through `guardStore`: an error that means "the database cannot be reached" (refused,
//   reset, timed out, pool exhausted, SQLITE_BUSY past the busy timeout…) becomes a StorageUnavailableError,
//   which the HTTP error handler answers with 503 `service_unavailable` + Retry-After. Anything else (a
//   constraint, a bug) passes through unchanged.
// - A black-holed database answers nothing, so no error comes back before the statement timeout. A watchdog
//   notices a call in flight for longer than `probeTimeoutMs` and probes the database on a fresh connection
//   (connect + SELECT 1 within `probeTimeoutMs`). If the probe fails the database is marked down: calls in
//   flight are answered at once with StorageUnavailableError (their statements finish or time out on their
//   own; each is one atomic statement, and a hold whose request got a 503 expires like any other), and new
//   calls fail without touching the pool. While down, a probe runs every `probeTimeoutMs`; the first that
//   succeeds marks it up again. No restart, no operator.
// - `ready()` (GET /readyz) returns a probe result at most `probeTimeoutMs` old: a load balancer polling it
//   costs at most one probe per period, whatever its rate.

/** Seconds a client is told to wait (Retry-After) when the database is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_S = 2;

export class StorageUnavailableError extends Error {
  readonly retryAfterSeconds = UNAVAILABLE_RETRY_AFTER_S;

  constructor(reason: string, options: { cause?: unknown } = {}) {
    super(`database unavailable: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageUnavailableError';
  }
}

/** Node's socket errors: the peer refused, vanished or cannot be routed to. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN',
  'ENOTFOUND', 'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs that mean "not now" rather than "wrong": connection exceptions (08…), shutdown and
 * start-up (57P01-57P03), statement timeout / cancel (57014), lock timeout (55P03), too many connections and
 * other exhausted resources (53…), idle-in-transaction timeout (25P03).
 */
const PG_UNAVAILABLE = /^(08|53|57P0[123]$|57014$|55P03$|25P03$)/;

/** pg's and pg-pool's own messages for a connection that could not be made, or was lost or is stuck. */
const PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable',
  'Cannot use a pool after calling end',
];

function field(error: object, name: string): unknown {
  return name in error ? (error as Record<string, unknown>)[name] : undefined;
}

/** True when `error` says the database cannot be reached (or not in time), not that the request was wrong. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StorageUnavailableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const code = field(error, 'code');
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    // better-sqlite3: another process holds the write lock for longer than the busy timeout.
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && PG_UNAVAILABLE.test(code)) return true;
  }
  // Node 20's happy-eyeballs connect reports every address's failure at once.
  if (error instanceof AggregateError) return error.errors.some((inner) => isUnavailable(inner));
  const message = error instanceof Error ? error.message : '';
  if (PG_MESSAGES.some((m) => message.includes(m))) return true;
  const cause = field(error, 'cause');
  return cause !== undefined && cause !== error && isUnavailable(cause);
}

/** A short, metadata-only reason for logs: the error's code or class, never a statement or its values. */
export function reasonOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = field(error, 'code');
    if (typeof code === 'string') return code;
  }
  if (error instanceof Error) {
    const known = PG_MESSAGES.find((m) => error.message.includes(m));
    return known ?? error.name;
  }
  return 'unknown';
}

export interface DependencyCheck {
  ok: boolean;
  /** Why not, metadata only (an error code). */
  reason?: string;
  /** When this result was measured (ms since the epoch). */
  checkedAt: number;
}

export interface AvailabilityOptions {
  /** Connects and runs a trivial statement; rejects when the database does not answer in time. */
  probe: (timeoutMs: number) => Promise<void>;
  /** Bound of one probe, the stall that triggers one, and the age of a cached ready() answer. Default 1 000. */
  probeTimeoutMs?: number;
  /** Told when the database goes down or comes back (metadata only). */
  onChange?: (up: boolean, reason: string) => void;
}

interface InFlight {
  startedAt: number;
  fail: (error: StorageUnavailableError) => void;
}

export class Availability {
  private up = true;
  private downReason = '';
  private last: DependencyCheck | undefined;
  private probing: Promise<DependencyCheck> | undefined;
  private readonly inflight = new Set<InFlight>();
  private watchdog: NodeJS.Timeout | undefined;
  private recheck: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly probeTimeoutMs: number;

  constructor(private readonly options: AvailabilityOptions) {
    this.probeTimeoutMs = options.probeTimeoutMs ?? 1_000;
  }

  isUp(): boolean {
    return this.up;
  }

  /** Runs one store call: at once refused while down, answered at once when the database goes down meanwhile. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    if (!this.up) throw new StorageUnavailableError(this.downReason);
    let fail!: (error: StorageUnavailableError) => void;
    const abandoned = new Promise<never>((_, reject) => {
      fail = reject;
    });
    const entry: InFlight = { startedAt: Date.now(), fail };
    this.inflight.add(entry);
    this.startWatchdog();
    try {
      const work = call();
      work.catch(() => undefined); // may settle after we answered; its outcome is then nobody's
      return await Promise.race([work, abandoned]);
    } catch (error) {
      if (error instanceof StorageUnavailableError || !isUnavailable(error)) throw error;
      void this.ready(); // a probe decides whether this was one bad connection or the whole database
      throw new StorageUnavailableError(reasonOf(error), { cause: error });
    } finally {
      this.inflight.delete(entry);
    }
  }

  /** GET /readyz: a probe result at most probeTimeoutMs old (one probe in flight at a time). */
  async ready(): Promise<DependencyCheck> {
    if (this.last && Date.now() - this.last.checkedAt < this.probeTimeoutMs) return this.last;
    return this.check();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.watchdog);
    clearTimeout(this.recheck);
    this.watchdog = undefined;
    this.recheck = undefined;
  }

  /** Probes now (or joins the probe in flight) and applies the result. */
  private check(): Promise<DependencyCheck> {
    this.probing ??= this.probeOnce().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async probeOnce(): Promise<DependencyCheck> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('probe timed out'), { code: 'ETIMEDOUT' })), this.probeTimeoutMs);
    });
    let result: DependencyCheck;
    try {
      await Promise.race([this.options.probe(this.probeTimeoutMs), deadline]);
      result = { ok: true, checkedAt: Date.now() };
    } catch (error) {
      result = { ok: false, reason: reasonOf(error), checkedAt: Date.now() };
    } finally {
      clearTimeout(timer);
    }
    this.last = result;
    if (result.ok) this.markUp();
    else this.markDown(result.reason ?? 'unknown');
    return result;
  }

  private markDown(reason: string): void {
    if (this.closed) return;
    this.downReason = reason;
    if (this.up) {
      this.up = false;
      this.options.onChange?.(false, reason);
    }
    const error = new StorageUnavailableError(reason);
    for (const entry of this.inflight) entry.fail(error);
    this.inflight.clear();
    // Recovery needs no traffic: probe again until the database answers.
    clearTimeout(this.recheck);
    this.recheck = setTimeout(() => void this.check(), this.probeTimeoutMs);
    this.recheck.unref();
  }

  private markUp(): void {
    clearTimeout(this.recheck);
    this.recheck = undefined;
    if (this.up || this.closed) return;
    this.up = true;
    this.options.onChange?.(true, this.downReason);
    this.downReason = '';
  }

  /** While calls are in flight: one that has waited longer than a probe's bound triggers a probe. */
  private startWatchdog(): void {
    if (this.watchdog || this.closed) return;
    const tick = Math.max(50, Math.floor(this.probeTimeoutMs / 4));
    this.watchdog = setInterval(() => {
      if (this.inflight.size === 0) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
        return;
      }
      const now = Date.now();
      let oldest = now;
      for (const entry of this.inflight) oldest = Math.min(oldest, entry.startedAt);
      const recent = this.last !== undefined && this.last.ok && now - this.last.checkedAt < this.probeTimeoutMs;
      if (now - oldest >= this.probeTimeoutMs && !recent) void this.check();
    }, tick);
    this.watchdog.unref();
  }
}

/** Members that are not database calls (in-memory counters): left unguarded. */
const SYNCHRONOUS = new Set(['batching']);

function guardRepo<T extends object>(repo: T, availability: Availability): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(repo)) {
    if (typeof value === 'function' && !SYNCHRONOUS.has(name)) {
      const call = value as (...args: unknown[]) => Promise<unknown>;
      out[name] = (...args: unknown[]) => availability.run(() => call(...args));
    } else {
      out[name] = value;
    }
  }
  return out as T;
}

/** The store with every repository call guarded (see the top of this file); migrate/close stay direct. */
export function guardStore<S extends { dialect: string; migrate(): Promise<void>; close(): Promise<void> }>(store: S, availability: Availability): S {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(store)) {
    out[name] = typeof value === 'object' && value !== null ? guardRepo(value, availability) : value;
  }
  return out as S;
}
