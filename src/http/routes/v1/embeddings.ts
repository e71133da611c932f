// POST /v1/embeddings — same path as chat, without streaming.
import type { FastifyInstance } from 'fastify';
import { countEmbeddingsInput, quoteEmbeddings } from '../../../billing/quote.ts';
import { GatewayError } from '../../../domain/errors.ts';
import { formatCredits } from '../../../domain/money.ts';
import { validateEmbeddingsRequest } from '../../../protocol/openai/validate.ts';
import type { CallContext } from '../../../providers/shared/types.ts';
import type { Channel } from '../../../routing/channels.ts';
import { dispatch, readUpstreamJson, type Attempt } from '../../../routing/dispatch.ts';
import { plan } from '../../../routing/plan.ts';
import { ClientAbortError } from '../../../upstream/client.ts';
import { admitAndHold } from '../../admission.ts';
import { apiKeyHook } from '../../auth.ts';
import { requireAuth, resolveModel, type AppDeps } from '../../context.ts';
import { attemptsHeader, cancelOnClientClose } from './common.ts';

export function embeddingsRoute(app: FastifyInstance, deps: AppDeps): void {
  app.post('/v1/embeddings', { preHandler: apiKeyHook(deps.authenticator) }, async (request, reply) => {
    const startedAt = performance.now();
    const body = validateEmbeddingsRequest(request.body);
    const auth = requireAuth(request.auth);
    const model = resolveModel(deps, auth, body.model, 'embeddings');
    const quote = quoteEmbeddings(body, model, (await countEmbeddingsInput(body)).tokens);
    const session = await admitAndHold(deps, request, reply, { auth, model, endpoint: 'embeddings', stream: false, startedAt, quote });
    const signal = cancelOnClientClose(reply);
    const callFor = (ch: Channel): CallContext => ({ settings: ch.settings, upstreamModel: ch.upstreamModel, stream: false, maxOutputTokens: model.config.maxOutputTokens });
    const codecOf = (ch: Channel): NonNullable<Channel['adapter']['embeddings']> => {
      const codec = ch.adapter.embeddings;
      if (!codec) throw new GatewayError('internal_error', 'channel cannot serve embeddings');
      return codec;
    };
    const attempts: Attempt[] = [];
    try {
      const won = await dispatch(deps.upstream, plan(deps.channels.get(model.config.id) ?? []), {
        encode: (ch) => codecOf(ch).encodeRequest(body, callFor(ch)),
        // Decoded before anything is committed: an invalid body fails over to the next channel.
        accept: async (candidate) => codecOf(candidate.channel).decodeResponse(await readUpstreamJson(candidate, signal), callFor(candidate.channel)),
        signal,
        attempts,
        maxAttempts: deps.config.routing.maxAttempts,
        deadlineAt: startedAt + deps.config.routing.deadlineMs,
      });
      void reply.header('x-switchyard-attempts', attemptsHeader(attempts));
      const result = won.value;
      const usage = result.usage ?? { input: quote.countedInputTokens, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 };
      const charged = await session.settle({
        usage, status: 'ok', httpStatus: 200, errorCode: null, provider: won.channel.provider.id, channel: won.channel.id, ttfbMs: won.headersMs, attempts: attemptsHeader(attempts),
      });
      const tokens = usage.input + usage.cachedInput;
      result.response.usage = { ...(result.response.usage ?? { prompt_tokens: tokens, total_tokens: tokens }), cost: formatCredits(charged) } as typeof result.response.usage;
      void reply.header('x-switchyard-credits-charged', formatCredits(charged));
      return result.response;
    } catch (error) {
      if (attempts.length > 0 && !reply.sent) void reply.header('x-switchyard-attempts', attemptsHeader(attempts));
      await session.release(signal.aborted ? new ClientAbortError('client closed') : error, { channel: attempts.at(-1)?.channel ?? null, attempts: attemptsHeader(attempts) || null });
      throw error;
    }
  });
}
