// GET /v1/generation?id=<request id> — the receipt of one of the caller's requests (metadata only), shaped like
// OpenRouter's /api/v1/generation (`{"data": {…}}`): model, channel and provider, tokens by kind, the price
// version, credits held / charged / released, the attempts, timings, status, and the request's ledger entries so
// every line of the caller's ledger can be reconciled. The id is the `x-switchyard-request-id` of the response.
// Another user's request is 404 exactly like an unknown id (no existence leak).
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../../../domain/errors.ts';
import { formatCredits, type MicroCredits } from '../../../domain/money.ts';
import type { LedgerEntry, UsageEvent } from '../../../storage/types.ts';
import { apiKeyHook } from '../../auth.ts';
import { requireAuth, type AppDeps } from '../../context.ts';

const sum = (entries: readonly LedgerEntry[], kind: LedgerEntry['kind']): MicroCredits =>
  entries.filter((e) => e.kind === kind).reduce((acc, e) => acc + e.amount, 0n);

/** `channel;outcome;ms, …` (x-switchyard-attempts) as objects. */
function attemptList(trail: string | null | undefined): Array<{ channel: string; outcome: string; ms: number }> {
  if (!trail) return [];
  return trail.split(', ').map((entry) => {
    const [channel = '', outcome = '', ms = ''] = entry.split(';');
    return { channel, outcome, ms: Number.parseInt(ms, 10) || 0 };
  });
}

/**
 * Held, charged and released as the ledger says (decision 0001: `release` returns the whole hold, `capture` takes
 * the cost; "released" is what came back net, H − C, once the hold is finished). Without entries (no hold was
 * taken) the usage event's own figures.
 */
function credits(entries: readonly LedgerEntry[], usage: UsageEvent | undefined) {
  if (entries.length === 0) return { held: usage?.held ?? 0n, charged: usage?.cost ?? 0n, released: 0n };
  const held = -sum(entries, 'hold');
  const charged = -sum(entries, 'capture');
  const finished = entries.some((e) => e.kind === 'release');
  return { held, charged, released: finished ? held - charged : 0n };
}

const ledgerLine = (e: LedgerEntry) => ({
  id: e.id,
  kind: e.kind,
  amount_credits: formatCredits(e.amount),
  balance_after_credits: formatCredits(e.balanceAfter),
  actor: e.actor,
  reason: e.reason,
  created_at: e.createdAt.toISOString(),
});

export function generationRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get<{ Querystring: Record<string, unknown> }>('/v1/generation', { preHandler: apiKeyHook(deps.authenticator) }, async (request) => {
    const auth = requireAuth(request.auth);
    const id = request.query.id;
    if (typeof id !== 'string' || id === '') {
      throw new GatewayError('invalid_request', "Missing required query parameter 'id' (the request's x-switchyard-request-id).", { param: 'id' });
    }
    if (id.length > 200) throw new GatewayError('invalid_request', "The 'id' query parameter is too long.", { param: 'id' });
    const [usage, entries] = await Promise.all([deps.store.usage.get(id), deps.store.ledger.requestEntries(auth.userId, id)]);
    const own = usage?.userId === auth.userId ? usage : undefined;
    if (!own && entries.length === 0) throw new GatewayError('not_found', `No generation with id '${id}'.`, { param: 'id' });
    const money = credits(entries, own);
    // A request still running has its hold but no usage event yet.
    const createdAt = own?.createdAt ?? entries[0]?.createdAt ?? new Date();
    return {
      data: {
        id,
        object: 'generation',
        created_at: createdAt.toISOString(),
        status: own?.status ?? 'in_progress',
        http_status: own?.httpStatus ?? null,
        error_code: own?.errorCode ?? null,
        model: own?.model ?? null,
        provider: own?.provider ?? null,
        channel: own?.channel ?? null,
        endpoint: own?.endpoint ?? null,
        streamed: own?.stream ?? null,
        tokens_prompt: own ? own.inputTokens + own.cachedInputTokens + own.cacheWriteTokens : null,
        tokens_completion: own?.outputTokens ?? null,
        tokens: own
          ? { input: own.inputTokens, cached_input: own.cachedInputTokens, cache_write: own.cacheWriteTokens, output: own.outputTokens, reasoning: own.reasoningTokens }
          : null,
        price_version: own?.priceVersion ?? null,
        total_cost: formatCredits(money.charged),
        credits: { held: formatCredits(money.held), charged: formatCredits(money.charged), released: formatCredits(money.released) },
        latency_ms: own?.latencyMs ?? null,
        ttfb_ms: own?.ttfbMs ?? null,
        attempts: attemptList(own?.attempts),
        ledger: entries.map(ledgerLine),
      },
    };
  });
}
