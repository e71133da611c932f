// POST /v1/embeddings — same path as chat, without streaming.
import type { FastifyInstance } from 'fastify';
import { BillingSession } from '../../../billing/session.ts';
import { quoteEmbeddings } from '../../../billing/quote.ts';
import { GatewayError } from '../../../domain/errors.ts';
import { formatCredits } from '../../../domain/money.ts';
import { validateEmbeddingsRequest } from '../../../protocol/openai/validate.ts';
import { dispatch, readUpstreamJson, type Dispatched } from '../../../routing/dispatch.ts';
import { plan } from '../../../routing/plan.ts';
import { ClientAbortError } from '../../../upstream/client.ts';
import { apiKeyHook } from '../../auth.ts';
import { requireAuth, resolveModel, type AppDeps } from '../../context.ts';
import { attemptsHeader, cancelOnClientClose } from './common.ts';

export function embeddingsRoute(app: FastifyInstance, deps: AppDeps): void {
  app.post('/v1/embeddings', { preHandler: apiKeyHook(deps.authenticator) }, async (request, reply) => {
    const startedAt = performance.now();
    const body = validateEmbeddingsRequest(request.body);
    const auth = requireAuth(request.auth);
    const model = resolveModel(deps, auth, body.model, 'embeddings');
    const quote = quoteEmbeddings(body, model);
    const session = new BillingSession(
      deps.store.ledger,
      { requestId: request.id, userId: auth.userId, keyId: auth.keyId, model, endpoint: 'embeddings', stream: false, startedAt },
      deps.config.holdTtlMs,
    );
    await session.hold(quote.hold);
    const signal = cancelOnClientClose(reply);
    let sent: Dispatched | undefined;
    try {
      sent = await dispatch(deps.upstream, plan(deps.channels.get(model.config.id) ?? []), (ch) => {
        const codec = ch.adapter.embeddings;
        if (!codec) throw new GatewayError('internal_error', 'channel cannot serve embeddings');
        return codec.encodeRequest(body, { settings: ch.settings, upstreamModel: ch.upstreamModel, stream: false, maxOutputTokens: model.config.maxOutputTokens });
      }, signal);
      void reply.header('x-switchyard-attempts', attemptsHeader(sent.attempts));
      const codec = sent.channel.adapter.embeddings;
      if (!codec) throw new GatewayError('internal_error', 'channel cannot serve embeddings');
      const result = codec.decodeResponse(await readUpstreamJson(sent, signal), { settings: sent.channel.settings, upstreamModel: sent.channel.upstreamModel, stream: false, maxOutputTokens: model.config.maxOutputTokens });
      const usage = result.usage ?? { input: quote.countedInputTokens, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 };
      const charged = await session.settle({ usage, status: 'ok', httpStatus: 200, errorCode: null, provider: sent.channel.provider.id, channel: sent.channel.id, ttfbMs: sent.headersMs });
      const tokens = usage.input + usage.cachedInput;
      result.response.usage = { ...(result.response.usage ?? { prompt_tokens: tokens, total_tokens: tokens }), cost: formatCredits(charged) } as typeof result.response.usage;
      void reply.header('x-switchyard-credits-charged', formatCredits(charged));
      return result.response;
    } catch (error) {
      await session.release(signal.aborted ? new ClientAbortError('client closed') : error, sent?.channel.provider.id ?? null, sent?.channel.id ?? null);
      throw error;
    }
  });
}
