// Any historical charge can be recomputed from its usage event and the price version row it recorded: the
// same costOf, capped at the hold like the capture was. (Token usage and the per-request fee today; media units
// are not stored on usage events yet — see docs/billing.md.)
import { minMicro, type MicroCredits } from '../domain/money.ts';
import type { PriceRates, Usage } from '../domain/usage.ts';
import type { UsageEvent } from '../storage/types.ts';
import { costOf } from './catalogue.ts';

export function usageOfEvent(event: UsageEvent): Usage {
  return {
    input: event.inputTokens,
    cachedInput: event.cachedInputTokens,
    cacheWrite: event.cacheWriteTokens,
    output: event.outputTokens,
    reasoning: event.reasoningTokens,
  };
}

/** What the capture of `event` was, recomputed at `price` (the version the event recorded). */
export function recomputeCharge(event: UsageEvent, price: PriceRates): MicroCredits {
  return minMicro(costOf(usageOfEvent(event), price), event.held);
}
