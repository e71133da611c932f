// buildApp(deps) → the Fastify instance. Tests build it with their own deps.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppDeps } from './http/context.ts';
import { edgeServerOptions, installEdge } from './http/edge/index.ts';
import { installErrorHandling } from './http/errors.ts';
import { adminRoutes } from './http/routes/admin/index.ts';
import { consoleRoutes } from './http/routes/console/index.ts';
import { chatCompletionsRoute } from './http/routes/v1/chat-completions.ts';
import { embeddingsRoute } from './http/routes/v1/embeddings.ts';
import { generationRoutes } from './http/routes/v1/generation.ts';
import { messagesRoutes } from './http/routes/v1/messages.ts';
import { modelsRoutes } from './http/routes/v1/models.ts';
import { responsesRoutes } from './http/routes/v1/responses.ts';
import { metricsRoute } from './http/routes/metrics.ts';
import { readyzRoute } from './http/routes/readyz.ts';
import { createMetrics } from './observability/metrics.ts';

export function newRequestId(): string {
  return `req_${randomUUID().replaceAll('-', '')}`;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // No per-request log lines: they would carry URLs and headers; the metadata we keep is the usage event.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.bodyLimitBytes,
    genReqId: newRequestId,
    requestIdHeader: false,
    // Timeouts, the connection cap, trusted proxies (X-Forwarded-*: client IPs, Secure cookies), framework errors.
    ...edgeServerOptions(deps.config.server),
  });
  app.decorateRequest('auth', undefined);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-switchyard-request-id', request.id);
  });
  installErrorHandling(app, deps.logger);
  installEdge(app, deps.config.server);
  const metrics = createMetrics(deps.channels, deps.health, deps.store.ledger);
  metrics.instrument(app);
  app.get('/healthz', async () => ({ status: 'ok' }));
  readyzRoute(app, deps);
  metricsRoute(app, deps, metrics.registry);
  chatCompletionsRoute(app, deps);
  embeddingsRoute(app, deps);
  messagesRoutes(app, deps);
  responsesRoutes(app, deps);
  modelsRoutes(app, deps);
  generationRoutes(app, deps);
  adminRoutes(app, deps);
  consoleRoutes(app, deps);
  return app;
}
