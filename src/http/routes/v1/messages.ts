// POST /v1/messages (Anthropic Messages, any upstream) and POST /v1/messages/count_tokens (answered locally).
// https://docs.claude.com/en/api/messages , https://docs.claude.com/en/api/messages-count-tokens
import type { FastifyInstance } from 'fastify';
import { countChatInput } from '../../../billing/quote.ts';
import { anthropicDialect } from '../../../protocol/anthropic/dialect.ts';
import { anthropicErrorBody } from '../../../protocol/anthropic/errors.ts';
import { toCanonical, validateMessagesRequest } from '../../../protocol/anthropic/request.ts';
import { apiKeyHook } from '../../auth.ts';
import { requireAuth, resolveModel, type AppDeps } from '../../context.ts';
import { runChat } from '../../pipeline.ts';

export function messagesRoutes(app: FastifyInstance, deps: AppDeps): void {
  const options = { preHandler: apiKeyHook(deps.authenticator), config: { errorBody: anthropicErrorBody } };
  app.post('/v1/messages', options, (request, reply) => runChat(deps, request, reply, anthropicDialect));
  app.post('/v1/messages/count_tokens', options, async (request) => {
    // count_tokens takes no max_tokens: validate with a placeholder so the rest is checked the same way.
    const body = request.body;
    const withMax = typeof body === 'object' && body !== null && !Array.isArray(body) ? { max_tokens: 1, ...body } : body;
    const anthropicRequest = validateMessagesRequest(withMax);
    resolveModel(deps, requireAuth(request.auth), anthropicRequest.model, 'chat');
    // Counted by the bounded counter: beyond its limits an upper bound, not the exact size (docs/billing.md).
    return { input_tokens: (await countChatInput(toCanonical(anthropicRequest, []))).tokens };
  });
}
