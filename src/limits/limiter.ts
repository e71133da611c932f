// Admission: RPM, TPM and concurrent requests per API key and per account, checked before the hold (a refused
// request costs nothing). docs/decisions/0014-rate-limits-and-invalidation.md.
//
// - Every limit that applies is counted at once (one round trip on Redis): +1 request, +the request's token
//   estimate (counted prompt + max output), +1 concurrent slot. If any count is over its limit, everything this
//   request took is given back and it is refused with 429 `rate_limit_exceeded` (type `requests` or `tokens`, as
//   OpenAI's) and Retry-After. Refused requests do not count.
// - At the end of the request, `finish` frees the concurrent slot and corrects the token count with the actual
//   usage (estimate − actual given back, or the excess added) — if the window the estimate went into is still
//   running (with a 1 s margin): a window that has ended keeps what it counted.
// - Headers as OpenAI sends them: x-ratelimit-{limit,remaining,reset}-{requests,tokens}, for the tightest of the
//   key's and the account's limits; reset as a Go duration ("1s", "6m0s", "250ms").
import { GatewayError } from '../domain/errors.ts';
import type { Dimension, LimitStore, Where } from './store.ts';

export interface RateLimitSpec {
  rpm: number | null;
  tpm: number | null;
  concurrency: number | null;
}

/**
 * Limits with per-kind overrides (an account's, set by an admin, over the config's limits.account): a number
 * replaces the default of its kind, null keeps it. Without overrides: `defaults` itself (nothing allocated).
 */
export function withOverrides(defaults: Readonly<RateLimitSpec>, overrides: Readonly<RateLimitSpec> | null): Readonly<RateLimitSpec> {
  if (overrides === null) return defaults;
  return {
    rpm: overrides.rpm ?? defaults.rpm,
    tpm: overrides.tpm ?? defaults.tpm,
    concurrency: overrides.concurrency ?? defaults.concurrency,
  };
}

export interface LimitSubject {
  /** `k:<key id>` or `u:<user id>`: the store's key. */
  id: string;
  /** Who the limit belongs to, in messages: "this API key", "this account". */
  label: string;
  limits: RateLimitSpec;
}

export interface AdmitRequest {
  requestId: string;
  subjects: readonly LimitSubject[];
  /** The request's token estimate: counted input + max output. */
  tokens: number;
}

export type Headers = Record<string, string>;

export interface Admission {
  /** x-ratelimit-* headers for the response. */
  readonly headers: Headers;
  /** Frees the concurrent slots and corrects the token counts with the actual usage (0 when nothing was used). Once. */
  finish(actualTokens: number): void;
}

export type AdmitResult = { ok: true; admission: Admission } | { ok: false; error: GatewayError; headers: Headers };

/** A correction is sent only while the estimate's window still has this long to run. */
const CORRECTION_MARGIN_MS = 1_000;

/** Go's time.Duration.String() at millisecond precision, as OpenAI's reset headers are written: "0s", "250ms", "1.5s", "6m0s", "1h2m3s". */
export function formatReset(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1_000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const seconds = `${Math.floor(millis / 1_000)}${millis % 1_000 ? `.${String(millis % 1_000).padStart(3, '0').replace(/0+$/, '')}` : ''}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

const NO_LIMITS: Admission = Object.freeze({ headers: Object.freeze({}), finish: () => undefined });

interface Counted {
  subject: LimitSubject;
  dimension: Dimension;
  limit: number;
  points: number;
  consumed: number;
  resetMs: number;
  where: Where;
}

interface Leased {
  subject: LimitSubject;
  limit: number;
  ok: boolean;
  active: number;
  where: Where;
}

const UNIT: Record<Dimension, string> = { requests: 'requests per min (RPM)', tokens: 'tokens per min (TPM)' };

function headersFor(counts: readonly Counted[], refused: boolean): Headers {
  const headers: Headers = {};
  for (const dimension of ['requests', 'tokens'] as const) {
    let tightest: { limit: number; remaining: number; resetMs: number } | undefined;
    for (const c of counts) {
      if (c.dimension !== dimension) continue;
      // After a refusal every count was given back: what is left is the count without this request.
      const used = refused ? c.consumed - c.points : c.consumed;
      const remaining = Math.max(0, c.limit - used);
      if (!tightest || remaining < tightest.remaining) tightest = { limit: c.limit, remaining, resetMs: c.resetMs };
    }
    if (!tightest) continue;
    headers[`x-ratelimit-limit-${dimension}`] = String(tightest.limit);
    headers[`x-ratelimit-remaining-${dimension}`] = String(tightest.remaining);
    headers[`x-ratelimit-reset-${dimension}`] = formatReset(tightest.resetMs);
  }
  return headers;
}

/** Give-backs run after the answer: the stores log their own failures, and a lost one errs on the strict side. */
function quietly(operation: Promise<unknown>): void {
  operation.catch(() => undefined);
}

function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1_000));
}

export class Limiter {
  constructor(readonly store: LimitStore) {}

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const subjects = request.subjects.filter((s) => s.limits.rpm !== null || s.limits.tpm !== null || s.limits.concurrency !== null);
    if (subjects.length === 0) return { ok: true, admission: NO_LIMITS };
    const tokens = Math.max(0, Math.ceil(request.tokens));

    // A request larger than a whole minute's tokens can never pass: say so without counting anything.
    for (const subject of subjects) {
      const tpm = subject.limits.tpm;
      if (tpm !== null && tokens > tpm) {
        const error = new GatewayError(
          'rate_limit_exceeded',
          `Request too large for ${subject.label} on ${UNIT.tokens}: Limit ${tpm}, Requested ${tokens}. Lower max_tokens or shorten the input.`,
          { type: 'tokens' },
        );
        return { ok: false, error, headers: { 'x-should-retry': 'false' } };
      }
    }

    const countOps: Array<Promise<Counted>> = [];
    const leaseOps: Array<Promise<Leased>> = [];
    const count = (subject: LimitSubject, dimension: Dimension, limit: number, points: number): void => {
      countOps.push(this.store.add(dimension, subject.id, points).then((c) => ({ subject, dimension, limit, points, ...c })));
    };
    for (const subject of subjects) {
      const { rpm, tpm, concurrency } = subject.limits;
      if (rpm !== null) count(subject, 'requests', rpm, 1);
      if (tpm !== null) count(subject, 'tokens', tpm, tokens);
      if (concurrency !== null) {
        leaseOps.push(this.store.acquire(subject.id, request.requestId, concurrency).then((l) => ({ subject, limit: concurrency, ...l })));
      }
    }
    const [counts, leases] = await Promise.all([Promise.all(countOps), Promise.all(leaseOps)]);

    const over = counts.find((c) => c.consumed > c.limit);
    const busy = leases.find((l) => !l.ok);
    if (!over && !busy) {
      return { ok: true, admission: this.admission(request.requestId, counts, leases) };
    }
    // Refused: give back everything this request took.
    for (const c of counts) if (c.points !== 0) quietly(this.store.add(c.dimension, c.subject.id, -c.points, c.where));
    for (const l of leases) if (l.ok) quietly(this.store.release(l.subject.id, request.requestId, l.where));
    const headers = headersFor(counts, true);
    if (over) {
      const used = over.consumed - over.points;
      const wait = formatReset(over.resetMs);
      const error = new GatewayError(
        'rate_limit_exceeded',
        `Rate limit reached for ${over.subject.label} on ${UNIT[over.dimension]}: Limit ${over.limit}, Used ${used}, Requested ${over.points}. Please try again in ${wait}.`,
        { type: over.dimension, retryAfter: retryAfterSeconds(over.resetMs) },
      );
      return { ok: false, error, headers };
    }
    const error = new GatewayError(
      'rate_limit_exceeded',
      `Too many concurrent requests for ${busy?.subject.label ?? 'this API key'}: Limit ${busy?.limit ?? 0}. Please try again when one of them has finished.`,
      { type: 'requests', retryAfter: 1 },
    );
    return { ok: false, error, headers };
  }

  private admission(requestId: string, counts: readonly Counted[], leases: readonly Leased[]): Admission {
    const admittedAt = Date.now();
    const tokenCounts = counts.filter((c) => c.dimension === 'tokens');
    let finished = false;
    return {
      headers: headersFor(counts, false),
      finish: (actualTokens: number): void => {
        if (finished) return;
        finished = true;
        for (const l of leases) quietly(this.store.release(l.subject.id, requestId, l.where));
        const now = Date.now();
        for (const c of tokenCounts) {
          const delta = Math.max(0, Math.ceil(actualTokens)) - c.points;
          if (delta !== 0 && now < admittedAt + c.resetMs - CORRECTION_MARGIN_MS) quietly(this.store.add('tokens', c.subject.id, delta, c.where));
        }
      },
    };
  }
}
