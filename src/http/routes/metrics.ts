// GET /metrics — Prometheus text exposition (observability/metrics.ts). Bearer-authenticated: the metrics token
// (SWITCHYARD_METRICS_TOKEN) when set, otherwise the admin token, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { GatewayError } from '../../domain/errors.ts';
import { bearer } from '../auth.ts';
import type { AppDeps } from '../context.ts';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

export function metricsRoute(app: FastifyInstance, deps: AppDeps, registry: Registry): void {
  const expected = digest(deps.config.metricsToken ?? deps.config.adminToken);
  app.get('/metrics', async (request, reply) => {
    const token = bearer(request.headers.authorization);
    if (!token || !timingSafeEqual(digest(token), expected)) {
      throw new GatewayError('invalid_api_key', 'A valid metrics token is required (Authorization: Bearer $SWITCHYARD_METRICS_TOKEN, or the admin token when that is unset).');
    }
    const text = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(text);
  });
}
