// GET /v1/models and /v1/models/{id}: only the models the key may use, each with its price in effect now
// (`pricing`, with its version and effective_from) and the scheduled ones (`upcoming_pricing`, soonest first).
// https://platform.openai.com/docs/api-reference/models/list
import type { FastifyInstance } from 'fastify';
import { publicPricing, type PricedModel } from '../../../billing/catalogue.ts';
import type { AuthContext } from '../../../accounts/authenticator.ts';
import { GatewayError } from '../../../domain/errors.ts';
import { apiKeyHook } from '../../auth.ts';
import { requireAuth, type AppDeps } from '../../context.ts';

function modelObject(deps: AppDeps, model: PricedModel, created: number): Record<string, unknown> {
  return {
    id: model.config.id,
    object: 'model',
    created,
    owned_by: 'switchyard',
    kind: model.config.kind,
    ...(model.config.description ? { description: model.config.description } : {}),
    ...(model.config.contextWindow ? { context_window: model.config.contextWindow } : {}),
    max_output_tokens: model.config.maxOutputTokens,
    pricing: publicPricing(model.price),
    upcoming_pricing: deps.catalogue.upcoming(model.config.id).map(publicPricing),
  };
}

function visible(auth: AuthContext, model: PricedModel): boolean {
  return !auth.allowedModels || auth.allowedModels.has(model.config.id);
}

export function modelsRoutes(app: FastifyInstance, deps: AppDeps): void {
  const created = Math.floor(Date.now() / 1000);
  const hook = { preHandler: apiKeyHook(deps.authenticator) };
  app.get('/v1/models', hook, async (request) => {
    const auth = requireAuth(request.auth);
    return { object: 'list', data: deps.catalogue.list().filter((m) => visible(auth, m)).map((m) => modelObject(deps, m, created)) };
  });
  app.get<{ Params: { '*': string } }>('/v1/models/*', hook, async (request) => {
    const auth = requireAuth(request.auth);
    const id = request.params['*'];
    const model = deps.catalogue.get(id);
    if (!model || !visible(auth, model)) {
      throw new GatewayError('model_not_found', `The model '${id}' does not exist or you do not have access to it.`, { param: 'model' });
    }
    return modelObject(deps, model, created);
  });
}
