// What the HTTP layer is built from. Tests build the app with their own deps (ARCHITECTURE §2).
import type { Logger } from 'pino';
import type { AuthContext, KeyAuthenticator } from '../accounts/authenticator.ts';
import type { Mailer } from '../accounts/mailer.ts';
import type { AccountService } from '../accounts/service.ts';
import type { Catalogue, PricedModel } from '../billing/catalogue.ts';
import type { Config } from '../config/index.ts';
import { GatewayError } from '../domain/errors.ts';
import type { Limiter } from '../limits/limiter.ts';
import type { ChannelTable } from '../routing/channels.ts';
import type { ChannelHealth } from '../routing/health.ts';
import type { Store } from '../storage/types.ts';
import type { UpstreamClient } from '../upstream/client.ts';
import type { Books } from '../billing/session.ts';

export interface AppDeps {
  config: Readonly<Config>;
  store: Store;
  catalogue: Catalogue;
  channels: ChannelTable;
  /** Per-channel breakers and latencies (the channels carry their own breaker; this is for the admin view). */
  health: ChannelHealth;
  upstream: UpstreamClient;
  authenticator: KeyAuthenticator;
  /** Rate limits per key and account (memory, or Redis across replicas). */
  limiter: Limiter;
  /** Self-service accounts and sessions (the console API). */
  accounts: AccountService;
  mailer: Mailer;
  logger: Logger;
  /** Where billing sessions book their money (config billing.mode), chosen once at start-up. */
  books: Books;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | undefined;
  }
  interface FastifyContextConfig {
    /** The route's client protocol error shape (default: OpenAI's). */
    errorBody?: (error: GatewayError, requestId: string | null) => unknown;
  }
}

/** The model the key asked for, if it exists and the key may use it; 404 otherwise (no existence leak). */
export function resolveModel(deps: AppDeps, auth: AuthContext, id: string, kind: 'chat' | 'embeddings'): PricedModel {
  const model = deps.catalogue.get(id);
  // A key limited to some models may use them by id or by alias.
  if (!model || (auth.allowedModels && !auth.allowedModels.has(id) && !auth.allowedModels.has(model.config.id))) {
    throw new GatewayError('model_not_found', `The model '${id}' does not exist or you do not have access to it.`, { param: 'model' });
  }
  if (model.config.kind !== kind) {
    throw new GatewayError('invalid_request', `The model '${id}' is ${model.config.kind === 'chat' ? 'a chat' : 'an embeddings'} model and cannot serve this endpoint.`, { param: 'model' });
  }
  return model;
}

export function requireAuth(auth: AuthContext | undefined): AuthContext {
  if (!auth) throw new GatewayError('invalid_api_key', 'Missing API key.');
  return auth;
}
