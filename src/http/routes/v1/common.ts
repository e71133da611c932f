// Small pieces shared by the /v1 routes.
import type { FastifyReply } from 'fastify';
import type { CompletionUsage } from 'openai/resources/completions';
import { formatCredits, type MicroCredits } from '../../../domain/money.ts';
import type { Usage } from '../../../domain/usage.ts';
import type { Attempt } from '../../../routing/dispatch.ts';

/** Aborts when the client goes away before the response finished (cancels the upstream call). */
export function cancelOnClientClose(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** `channel;outcome;ms` entries, comma-separated (metadata only). */
export function attemptsHeader(attempts: readonly Attempt[]): string {
  return attempts.map((a) => `${a.channel};${a.outcome};${a.ms}ms`).join(', ');
}

export type ReceiptUsage = CompletionUsage & { cost: string };

/** The usage object returned to the client, with `cost` in credits as an exact decimal string. */
export function receiptUsage(reported: CompletionUsage | null | undefined, usage: Usage | undefined, charged: MicroCredits): ReceiptUsage {
  if (reported) return { ...reported, cost: formatCredits(charged) };
  const prompt = (usage?.input ?? 0) + (usage?.cachedInput ?? 0) + (usage?.cacheWrite ?? 0);
  const completion = usage?.output ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, cost: formatCredits(charged) };
}
