// Per-channel health (ARCHITECTURE §1 "healthy channels", §7): a circuit breaker, latency and time-to-first-byte
// EWMAs and an error rate over a sliding window. One registry per process; everything is synchronous, in memory
// and O(1) per request. Sharing openings with other replicas is health-redis.ts's job (it listens to `onEvent`).
//
//   closed ──(N blamed failures in a row | error rate ≥ R with ≥ M requests in the window | upstream 401/403)──▶ open
//   open ──(cooldown passed)──▶ half_open: ONE request is let through as the probe, the others skip the channel
//   half_open ──probe succeeds──▶ closed (cooldown back to its base)
//   half_open ──probe fails──▶ open again, cooldown doubled (capped)
//
// Only failures the channel is to blame for count (GatewayError.blameChannel): a request the upstream rejected
// as malformed (400) is the client's fault and is neither a success nor a failure. A 429's Retry-After makes
// the channel skipped until then, whatever the breaker says.
import { DEFAULT_HEALTH, type HealthConfig } from '../config/index.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface HealthOutcome {
  ok: boolean;
  /** The failure counts against the channel (GatewayError.blameChannel). Ignored when ok. */
  blame?: boolean;
  /** The error code (kept as the channel's last error: metadata only). */
  code?: string;
  /** Milliseconds until the upstream's response headers. */
  ttfbMs?: number;
  /** Seconds from the upstream's Retry-After: the channel is skipped until then. */
  retryAfterS?: number;
  /** The upstream refused the channel's credentials: the channel is misconfigured, open at once. */
  authFailure?: boolean;
  /** The failure came after the headers had been recorded as a success (a body broke midway). */
  midStream?: boolean;
}

/** A transition other replicas should apply (health-redis.ts). Durations, not instants: clocks differ. */
export type HealthEvent =
  | { type: 'open'; channel: string; remainingMs: number; cooldownMs: number; reason: string }
  | { type: 'close'; channel: string }
  | { type: 'retry_after'; channel: string; remainingMs: number };

export interface ChannelHealthView {
  state: BreakerState;
  openUntil: number | null;
  openReason: string | null;
  cooldownMs: number;
  probeInFlight: boolean;
  consecutiveFailures: number;
  requestsInWindow: number;
  failuresInWindow: number;
  errorRate: number;
  latencyMs: number | null;
  ttfbMs: number | null;
  retryAfterUntil: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** Hedged requests started because this channel had not answered within the hedge delay. */
  hedges: number;
  /** Hedged requests this channel won (it was the hedge and answered first). */
  hedgeWins: number;
}

/** `admit` answers: skip the channel, send normally, or (a positive number) send as the half-open probe. */
export const SKIP = -1;
/** Times to first byte kept per channel for its p95. */
const TTFB_SAMPLES = 128;
export const SEND = 0;

const BUCKETS = 6;
const ALPHA = 0.2;
/** A probe that never reported (a bug, a lost promise) stops blocking the channel after this long. */
const DEFAULT_PROBE_LEASE_MS = 120_000;
/** A Retry-After that extends the known one by less than this is not worth telling other replicas. */
const RETRY_AFTER_PUBLISH_STEP_MS = 1_000;

const ewma = (previous: number | null, sample: number): number => (previous === null ? sample : previous + ALPHA * (sample - previous));

export class Breaker {
  private open = false;
  private openUntil = 0;
  private openReason: string | null = null;
  private cooldownMs: number;
  private consecutive = 0;
  private probeToken = 0;
  private probeStartedAt = 0;
  private retryAfterUntil = 0;
  private latencyMs: number | null = null;
  private ttfbMs: number | null = null;
  /** Hedges started because this channel was slow (counted here, shown by GET /admin/v1/channels). */
  hedges = 0;
  /** Races this channel won as the hedge. */
  hedgeWins = 0;
  /** Attempts on this channel by outcome (`ok`, `hedge_cancelled`, or the error code), for /metrics. */
  readonly attempts = new Map<string, number>();
  private readonly ttfbSamples: number[] = [];
  private ttfbNext = 0;
  private p95: number | null = null;
  private p95At = -Infinity;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;
  private readonly okCounts = new Uint32Array(BUCKETS);
  private readonly failCounts = new Uint32Array(BUCKETS);
  private readonly epochs = new Float64Array(BUCKETS).fill(-1);

  constructor(
    readonly id: string,
    private readonly registry: ChannelHealth,
  ) {
    this.cooldownMs = registry.config.cooldownMs;
  }

  state(now: number = this.registry.now()): BreakerState {
    if (!this.open) return 'closed';
    return now < this.openUntil ? 'open' : 'half_open';
  }

  /** Whether a new request should plan on this channel (does not take the probe). */
  available(now: number = this.registry.now()): boolean {
    if (now < this.retryAfterUntil) return false;
    if (!this.open) return true;
    return now >= this.openUntil && !this.probeBusy(now);
  }

  /**
   * Called just before sending: SKIP, SEND, or a probe token (> 0) to hand back to `record`/`release`.
   * `force` (nothing better left to try) sends even to an open channel; such an attempt is not the probe.
   */
  admit(force: boolean, now: number = this.registry.now()): number {
    if (now >= this.retryAfterUntil) {
      if (!this.open) return SEND;
      if (now >= this.openUntil && !this.probeBusy(now)) {
        this.probeToken = this.registry.nextToken();
        this.probeStartedAt = now;
        return this.probeToken;
      }
    }
    return force ? SEND : SKIP;
  }

  /** The attempt ended without saying something about the channel (the client left): frees the probe. */
  release(ticket: number): void {
    if (ticket > 0 && ticket === this.probeToken) this.probeToken = 0;
  }

  record(outcome: HealthOutcome, ticket: number = SEND, now: number = this.registry.now()): void {
    const wasProbe = ticket > 0 && ticket === this.probeToken;
    if (wasProbe) this.probeToken = 0;
    if (outcome.ok) {
      if (outcome.ttfbMs !== undefined) {
        this.ttfbMs = ewma(this.ttfbMs, outcome.ttfbMs);
        this.ttfbSamples[this.ttfbNext] = outcome.ttfbMs;
        this.ttfbNext = (this.ttfbNext + 1) % TTFB_SAMPLES;
      }
      this.consecutive = 0;
      // Closing resets the window, so count after it: the success is the first request of the fresh window.
      if (this.open) this.close(true);
      const slot = this.slot(now);
      this.okCounts[slot] = (this.okCounts[slot] ?? 0) + 1;
      return;
    }
    if (!outcome.blame) return;
    this.lastError = outcome.code ?? 'failure';
    this.lastErrorAt = now;
    const slot = this.slot(now);
    const oks = this.okCounts[slot] ?? 0;
    if (outcome.midStream && oks > 0) this.okCounts[slot] = oks - 1;
    this.failCounts[slot] = (this.failCounts[slot] ?? 0) + 1;
    this.consecutive += 1;
    if (outcome.retryAfterS !== undefined) this.retryAfter(outcome.retryAfterS * 1000, true, now);
    const { config } = this.registry;
    if (this.open) {
      // A failed probe re-opens with a longer cooldown; a forced attempt's failure changes nothing.
      if (wasProbe) {
        const doubled = Math.max(this.cooldownMs * 2, outcome.authFailure ? config.authCooldownMs : 0);
        this.trip(Math.min(doubled, config.maxCooldownMs), outcome.authFailure ? 'auth_failed' : 'probe_failed', now);
      }
      return;
    }
    if (outcome.authFailure) this.trip(config.authCooldownMs, 'auth_failed', now);
    else if (this.consecutive >= config.consecutiveFailures) this.trip(config.cooldownMs, 'consecutive_failures', now);
    else if (this.errorRateTripped(now)) this.trip(config.cooldownMs, 'error_rate', now);
  }

  /**
   * The 95th percentile of the last TTFB_SAMPLES times to first byte, or null with fewer than 20 samples.
   * Computed at most once a second, and only for channels that use it (adaptive deadlines, adaptive hedging).
   */
  ttfbP95(now: number = this.registry.now()): number | null {
    if (now - this.p95At < 1_000) return this.p95;
    this.p95At = now;
    if (this.ttfbSamples.length < 20) return (this.p95 = null);
    const sorted = [...this.ttfbSamples].sort((a, b) => a - b);
    return (this.p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? null);
  }

  /** A successful body was read to its end: total upstream latency of the attempt. */
  recordLatency(ms: number): void {
    this.latencyMs = ewma(this.latencyMs, ms);
  }

  /** Another replica opened the breaker (health-redis.ts): no event back. */
  applyRemoteOpen(remainingMs: number, cooldownMs: number, reason: string, now: number = this.registry.now()): void {
    const until = now + remainingMs;
    if (this.open && this.openUntil >= until) return;
    this.open = true;
    this.openUntil = until;
    this.openReason = reason;
    this.cooldownMs = Math.min(Math.max(this.cooldownMs, cooldownMs), this.registry.config.maxCooldownMs);
  }

  applyRemoteClose(): void {
    if (this.open) this.close(false);
  }

  applyRemoteRetryAfter(remainingMs: number, now: number = this.registry.now()): void {
    this.retryAfter(remainingMs, false, now);
  }

  view(now: number = this.registry.now()): ChannelHealthView {
    const [requests, failures] = this.windowTotals(now);
    return {
      state: this.state(now),
      openUntil: this.open ? this.openUntil : null,
      openReason: this.open ? this.openReason : null,
      cooldownMs: this.cooldownMs,
      probeInFlight: this.probeBusy(now),
      consecutiveFailures: this.consecutive,
      requestsInWindow: requests,
      failuresInWindow: failures,
      errorRate: requests === 0 ? 0 : failures / requests,
      latencyMs: this.latencyMs,
      ttfbMs: this.ttfbMs,
      retryAfterUntil: this.retryAfterUntil > now ? this.retryAfterUntil : null,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      hedges: this.hedges,
      hedgeWins: this.hedgeWins,
    };
  }

  /** Counts one finished attempt (plain in-memory counters: /metrics reads them when scraped). */
  countAttempt(outcome: string): void {
    this.attempts.set(outcome, (this.attempts.get(outcome) ?? 0) + 1);
  }

  private probeBusy(now: number): boolean {
    return this.probeToken !== 0 && now - this.probeStartedAt < this.registry.probeLeaseMs;
  }

  private trip(cooldownMs: number, reason: string, now: number): void {
    this.open = true;
    this.openUntil = now + cooldownMs;
    this.openReason = reason;
    this.cooldownMs = cooldownMs;
    this.probeToken = 0;
    this.registry.emit({ type: 'open', channel: this.id, remainingMs: cooldownMs, cooldownMs, reason });
  }

  /** Closed again: counters start afresh, or the old window's failures would trip it on the next error. */
  private close(publish: boolean): void {
    this.open = false;
    this.openUntil = 0;
    this.openReason = null;
    this.cooldownMs = this.registry.config.cooldownMs;
    this.consecutive = 0;
    this.probeToken = 0;
    this.okCounts.fill(0);
    this.failCounts.fill(0);
    if (publish) this.registry.emit({ type: 'close', channel: this.id });
  }

  private retryAfter(ms: number, publish: boolean, now: number): void {
    const capped = Math.min(ms, this.registry.config.maxRetryAfterMs);
    if (capped <= 0) return;
    const until = now + capped;
    if (until <= this.retryAfterUntil) return;
    const worthTelling = this.retryAfterUntil <= now || until - this.retryAfterUntil >= RETRY_AFTER_PUBLISH_STEP_MS;
    this.retryAfterUntil = until;
    if (publish && worthTelling) this.registry.emit({ type: 'retry_after', channel: this.id, remainingMs: capped });
  }

  private errorRateTripped(now: number): boolean {
    const { errorRate, minRequests } = this.registry.config;
    const [requests, failures] = this.windowTotals(now);
    return requests >= minRequests && failures >= errorRate * requests;
  }

  /** [requests, failures] over the buckets still inside the window (a constant six-step loop). */
  private windowTotals(now: number): [number, number] {
    const oldest = Math.floor(now / this.bucketMs()) - BUCKETS;
    let requests = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if ((this.epochs[i] ?? -1) > oldest) {
        const fails = this.failCounts[i] ?? 0;
        requests += (this.okCounts[i] ?? 0) + fails;
        failures += fails;
      }
    }
    return [requests, failures];
  }

  private bucketMs(): number {
    return this.registry.config.windowMs / BUCKETS;
  }

  /** The bucket for `now`, emptied first when it last held an older period. */
  private slot(now: number): number {
    const epoch = Math.floor(now / this.bucketMs());
    const i = epoch % BUCKETS;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.okCounts[i] = 0;
      this.failCounts[i] = 0;
    }
    return i;
  }
}

export interface HealthOptions {
  /** Epoch milliseconds (tests pass a fake clock). */
  now?: () => number;
  probeLeaseMs?: number;
}

/** Where breaker state lives: this process only, or shared through Redis (and whether Redis is reachable now). */
export interface HealthSharing {
  backend: 'local' | 'redis';
  connected: boolean;
}

export class ChannelHealth {
  readonly config: Readonly<HealthConfig>;
  readonly now: () => number;
  readonly probeLeaseMs: number;
  private readonly breakers = new Map<string, Breaker>();
  private listener: ((event: HealthEvent) => void) | undefined;
  private tokens = 0;
  sharing: () => HealthSharing = () => ({ backend: 'local', connected: true });

  constructor(config: Partial<HealthConfig> = {}, options: HealthOptions = {}) {
    this.config = Object.freeze({ ...DEFAULT_HEALTH, ...config });
    this.now = options.now ?? Date.now;
    this.probeLeaseMs = options.probeLeaseMs ?? DEFAULT_PROBE_LEASE_MS;
  }

  /** The channel's breaker, created on first use (channels.ts asks for every configured channel at start-up). */
  breaker(channelId: string): Breaker {
    let breaker = this.breakers.get(channelId);
    if (!breaker) {
      breaker = new Breaker(channelId, this);
      this.breakers.set(channelId, breaker);
    }
    return breaker;
  }

  ids(): string[] {
    return [...this.breakers.keys()];
  }

  available(channelId: string, now: number = this.now()): boolean {
    return this.breakers.get(channelId)?.available(now) ?? true;
  }

  record(channelId: string, outcome: HealthOutcome, ticket: number = SEND): void {
    this.breaker(channelId).record(outcome, ticket);
  }

  view(channelId: string): ChannelHealthView {
    return this.breaker(channelId).view();
  }

  /** One listener: the shared store. It must not throw or block (it runs on the request path). */
  onEvent(listener: ((event: HealthEvent) => void) | undefined): void {
    this.listener = listener;
  }

  /** Applies another replica's transition; events for channels this replica does not serve are ignored. */
  applyRemote(event: HealthEvent): void {
    const breaker = this.breakers.get(event.channel);
    if (!breaker) return;
    if (event.type === 'open') breaker.applyRemoteOpen(event.remainingMs, event.cooldownMs, event.reason);
    else if (event.type === 'close') breaker.applyRemoteClose();
    else breaker.applyRemoteRetryAfter(event.remainingMs);
  }

  /** @internal */
  emit(event: HealthEvent): void {
    try {
      this.listener?.(event);
    } catch {
      // Sharing is best effort: a broken listener never fails a request.
    }
  }

  /** @internal */
  nextToken(): number {
    this.tokens = this.tokens >= Number.MAX_SAFE_INTEGER ? 1 : this.tokens + 1;
    return this.tokens;
  }
}
