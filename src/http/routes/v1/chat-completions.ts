// POST /v1/chat/completions — the OpenAI chat dialect on the shared request path (http/pipeline.ts).
import type { FastifyInstance } from 'fastify';
import { openAIChatDialect } from '../../../protocol/openai/chat-dialect.ts';
import { apiKeyHook } from '../../auth.ts';
import type { AppDeps } from '../../context.ts';
import { runChat } from '../../pipeline.ts';

export function chatCompletionsRoute(app: FastifyInstance, deps: AppDeps): void {
  app.post('/v1/chat/completions', { preHandler: apiKeyHook(deps.authenticator) }, (request, reply) => runChat(deps, request, reply, openAIChatDialect));
}
