// The receipt inside OpenAI's usage object: `cost` in credits as an exact decimal string.
import type { CompletionUsage } from 'openai/resources/completions';
import { formatCredits } from '../../domain/money.ts';
import type { Receipt } from '../dialect.ts';

export type ReceiptUsage = CompletionUsage & { cost: string };

export function receiptUsage(reported: CompletionUsage | null | undefined, receipt: Receipt): ReceiptUsage {
  if (reported) return { ...reported, cost: formatCredits(receipt.cost) };
  const u = receipt.usage;
  const prompt = (u?.input ?? 0) + (u?.cachedInput ?? 0) + (u?.cacheWrite ?? 0);
  const completion = u?.output ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(u?.cachedInput ? { prompt_tokens_details: { cached_tokens: u.cachedInput } } : {}),
    ...(u?.reasoning ? { completion_tokens_details: { reasoning_tokens: u.reasoning } } : {}),
    cost: formatCredits(receipt.cost),
  };
}
