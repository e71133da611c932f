// POST /v1/responses — the OpenAI Responses dialect on the shared request path (http/pipeline.ts).
// GET /v1/responses/{id} (and its input_items, DELETE, cancel) — always 404: Switchyard stores no responses.
// https://platform.openai.com/docs/api-reference/responses
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { responsesDialect } from '../../../protocol/responses/dialect.ts';
import { responseNotStored } from '../../../protocol/responses/errors.ts';
import { apiKeyHook } from '../../auth.ts';
import { requireAuth, type AppDeps } from '../../context.ts';
import { runChat } from '../../pipeline.ts';

export function responsesRoutes(app: FastifyInstance, deps: AppDeps): void {
  const options = { preHandler: apiKeyHook(deps.authenticator) };
  app.post('/v1/responses', options, (request, reply) => runChat(deps, request, reply, responsesDialect));
  const notStored = async (request: FastifyRequest): Promise<never> => {
    requireAuth(request.auth);
    throw responseNotStored();
  };
  app.get('/v1/responses/:id', options, notStored);
  app.get('/v1/responses/:id/input_items', options, notStored);
  app.delete('/v1/responses/:id', options, notStored);
  app.post('/v1/responses/:id/cancel', options, notStored);
}
