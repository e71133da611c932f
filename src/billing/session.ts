// One request's money: hold the worst case before dispatch, settle once on the outcome.
// Settling is idempotent in the store (keyed by request id); this object also guards against settling
// twice in-process so a `finally` can always call release().
import { GatewayError } from '../domain/errors.ts';
import { formatCredits, minMicro, type MicroCredits } from '../domain/money.ts';
import { spendPeriods } from '../domain/periods.ts';
import type { UpstreamSummary } from '../domain/upstream-errors.ts';
import type { Usage } from '../domain/usage.ts';
import type { CapRefusal, HoldCaps, LedgerRepo, SpendCaps, UsageEvent, UsageRepo, UsageStatus } from '../storage/types.ts';
import { costOf, type PricedModel } from './catalogue.ts';

export interface SessionInfo {
  requestId: string;
  userId: string;
  keyId: string;
  model: PricedModel;
  endpoint: string;
  stream: boolean;
  startedAt: number;
  /** The key's spend caps (null or absent: none): the hold counts against them atomically (docs/decisions/0013). */
  spendCaps?: Readonly<SpendCaps> | null;
}

const PERIOD_WORDS = { day: ['daily', 'today (UTC)'], month: ['monthly', 'this month (UTC)'], total: ['total', 'in total'] } as const;

/** 402 spend_limit_exceeded: which cap, what it had counted, what this request may cost, when it resets. */
export function spendLimitError(cap: CapRefusal, amount: MicroCredits, now: number): GatewayError {
  const [adjective, when] = PERIOD_WORDS[cap.period];
  const periods = spendPeriods(now);
  const reset = cap.period === 'day' ? periods.dayEnd : cap.period === 'month' ? periods.monthEnd : undefined;
  return new GatewayError(
    'spend_limit_exceeded',
    `This API key's ${adjective} spend limit is ${formatCredits(cap.limit)} credits; ${formatCredits(cap.spent)} are spent or reserved ${when} ` +
      `and this request may cost up to ${formatCredits(amount)}. ` +
      (reset === undefined ? 'Raise the key\'s limit or use another key.' : `The limit resets at ${new Date(reset).toISOString()}; lower max_tokens or raise the key's limit.`),
  );
}

export interface Outcome {
  usage: Usage | undefined;
  status: UsageStatus;
  httpStatus: number;
  errorCode: string | null;
  provider: string | null;
  channel: string | null;
  ttfbMs: number | null;
  /** The attempt trail (metadata only). */
  attempts?: string | null;
  /** What the upstream said when it failed the request, scrubbed (for the operator's view of the request). */
  upstream?: UpstreamSummary | null;
}

/**
 * Where a session books its money. prepaid: the ledger (hold, then settle). metered: the usage events only —
 * no hold, no balance, no spend caps; the cost is recorded in full (docs/billing.md "Billing modes").
 */
export type Books = { mode: 'prepaid'; ledger: LedgerRepo } | { mode: 'metered'; usage: UsageRepo };

export class BillingSession {
  private held: MicroCredits = 0n;
  private settled = false;
  /** What settle() charged (or will charge, once computed by chargeFor). */
  charged: MicroCredits = 0n;
  private settledListener: ((usage: Usage | undefined) => void) | undefined;

  constructor(
    private readonly books: Books,
    readonly info: SessionInfo,
    private readonly holdTtlMs: number,
  ) {}

  get holdAmount(): MicroCredits {
    return this.held;
  }

  /** The request was served by another model than the one asked for (a fallback): bill that model. */
  useModel(model: PricedModel): void {
    this.info.model = model;
  }

  /** Called once when the request settles (or releases), with the usage billed (rate limits correct their counts). */
  onSettled(listener: (usage: Usage | undefined) => void): void {
    this.settledListener = listener;
  }

  async hold(amount: MicroCredits): Promise<void> {
    if (this.books.mode === 'metered') return;
    const now = Date.now();
    const caps = this.info.spendCaps;
    const periods = spendPeriods(now);
    const capped: HoldCaps | undefined = caps ? { keyId: this.info.keyId, caps, dayStart: periods.dayStart, monthStart: periods.monthStart } : undefined;
    const outcome = await this.books.ledger.hold({
      requestId: this.info.requestId,
      userId: this.info.userId,
      amount,
      expiresAt: new Date(now + this.holdTtlMs),
      // Remembered with the hold so that, should this process die, the sweeper can write this request's receipt.
      meta: { keyId: this.info.keyId, model: this.info.model.config.id, endpoint: this.info.endpoint, stream: this.info.stream },
      ...(capped ? { caps: capped } : {}),
    });
    if (!outcome.ok && outcome.cap) throw spendLimitError(outcome.cap, amount, now);
    if (!outcome.ok) {
      throw new GatewayError(
        'insufficient_quota',
        `Insufficient credits: this request may cost up to ${formatCredits(amount)} credits and the balance is ${formatCredits(outcome.balance)}. Lower max_tokens or add credits.`,
      );
    }
    this.held = amount;
  }

  /** The exact amount a settle with this usage will capture (never more than the hold). */
  chargeFor(usage: Usage | undefined): MicroCredits {
    if (!usage) return 0n;
    const cost = costOf(usage, this.info.model.price);
    return this.books.mode === 'metered' ? cost : minMicro(cost, this.held);
  }

  async settle(outcome: Outcome): Promise<MicroCredits> {
    if (this.settled) return this.charged;
    this.settled = true;
    try {
      return await this.book(outcome);
    } finally {
      this.settledListener?.(outcome.usage);
    }
  }

  private async book(outcome: Outcome): Promise<MicroCredits> {
    const charge = this.chargeFor(outcome.usage);
    const u = outcome.usage;
    const usage: UsageEvent = {
      requestId: this.info.requestId,
      userId: this.info.userId,
      keyId: this.info.keyId,
      model: this.info.model.config.id,
      provider: outcome.provider,
      channel: outcome.channel,
      endpoint: this.info.endpoint,
      stream: this.info.stream,
      inputTokens: u?.input ?? 0,
      cachedInputTokens: u?.cachedInput ?? 0,
      cacheWriteTokens: u?.cacheWrite ?? 0,
      outputTokens: u?.output ?? 0,
      reasoningTokens: u?.reasoning ?? 0,
      held: this.held,
      cost: charge,
      priceVersion: this.info.model.price.version,
      status: outcome.status,
      httpStatus: outcome.httpStatus,
      errorCode: outcome.errorCode,
      latencyMs: Math.round(performance.now() - this.info.startedAt),
      ttfbMs: outcome.ttfbMs,
      attempts: outcome.attempts ?? null,
      upstreamError: outcome.upstream ?? null,
      createdAt: new Date(),
    };
    if (this.books.mode === 'metered') {
      await this.books.usage.record(usage);
      this.charged = charge;
      return charge;
    }
    const result = await this.books.ledger.settle({ requestId: this.info.requestId, charge, usage });
    this.charged = result.applied ? result.charged : 0n;
    return this.charged;
  }

  /** Releases the whole hold (upstream failure, or anything thrown before a response). */
  async release(error: unknown, where: { provider?: string | null; channel?: string | null; attempts?: string | null } = {}): Promise<void> {
    if (this.settled) return;
    if (this.held === 0n && this.books.mode === 'prepaid') {
      // Nothing was held (or the hold was refused): nothing to book, but the request is over.
      this.settled = true;
      this.settledListener?.(undefined);
      return;
    }
    const status = error instanceof GatewayError ? error.status : 500;
    const code = error instanceof GatewayError ? error.code : error instanceof Error && error.name === 'ClientAbortError' ? 'client_closed' : 'internal_error';
    await this.settle({
      usage: undefined,
      status: code === 'client_closed' ? 'client_closed' : 'error',
      httpStatus: code === 'client_closed' ? 499 : status,
      errorCode: code,
      provider: where.provider ?? null,
      channel: where.channel ?? null,
      ttfbMs: null,
      attempts: where.attempts ?? null,
      upstream: error instanceof GatewayError ? (error.upstream ?? null) : null,
    });
  }
}
