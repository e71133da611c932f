// The single place a /v1 request that goes upstream is admitted (chat completions, responses, messages,
// embeddings): rate limits first (ARCHITECTURE §1 "limits: admit"; a refused request costs nothing), then the
// hold, which also counts against the key's spend caps. The rate limiter's slot and token estimate are settled
// with the request's billing (BillingSession.onSettled), whatever way the request ends.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthContext } from '../accounts/authenticator.ts';
import type { PricedModel } from '../billing/catalogue.ts';
import type { Quote } from '../billing/quote.ts';
import { BillingSession } from '../billing/session.ts';
import { withOverrides, type LimitSubject, type RateLimitSpec } from '../limits/limiter.ts';
import type { AppDeps } from './context.ts';

const NO_LIMITS: RateLimitSpec = Object.freeze({ rpm: null, tpm: null, concurrency: null });

/** Who a request's limits belong to: its key (its scopes) and its account (its overrides over the configured defaults). */
export function limitSubjects(deps: AppDeps, auth: AuthContext): LimitSubject[] {
  return [
    { id: `k:${auth.keyId}`, label: 'this API key', limits: auth.rateLimits ?? NO_LIMITS },
    { id: `u:${auth.userId}`, label: 'this account', limits: withOverrides(deps.config.limits.account, auth.accountLimits) },
  ];
}

export interface SessionStart {
  auth: AuthContext;
  model: PricedModel;
  endpoint: string;
  stream: boolean;
  /** performance.now() when the request arrived. */
  startedAt: number;
  quote: Quote;
}

/**
 * Admits the request (429 with Retry-After and x-ratelimit-* headers when a limit refuses it) and holds its
 * worst case (402 when the balance or a spend cap does not cover it). Returns the request's billing session.
 */
export async function admitAndHold(deps: AppDeps, request: FastifyRequest, reply: FastifyReply, start: SessionStart): Promise<BillingSession> {
  const { auth, quote } = start;
  const result = await deps.limiter.admit({
    requestId: request.id,
    subjects: limitSubjects(deps, auth),
    tokens: quote.countedInputTokens + quote.maxOutputTokens,
  });
  for (const [name, value] of Object.entries(result.ok ? result.admission.headers : result.headers)) void reply.header(name, value);
  if (!result.ok) throw result.error;
  const { admission } = result;
  const session = new BillingSession(
    deps.books,
    {
      requestId: request.id, userId: auth.userId, keyId: auth.keyId, model: start.model, endpoint: start.endpoint, stream: start.stream,
      startedAt: start.startedAt, spendCaps: auth.spendCaps,
    },
    deps.config.holdTtlMs,
  );
  session.onSettled((usage) => admission.finish(usage ? usage.input + usage.cachedInput + usage.cacheWrite + usage.output : 0));
  try {
    await session.hold(quote.hold);
  } catch (error) {
    admission.finish(0);
    throw error;
  }
  return session;
}
