// GET /readyz — readiness for a load balancer: 503 while this replica cannot reach its database (or Redis, when
// configured), 200 again as soon as it can, without a restart. GET /healthz stays pure liveness (the process
// answers). Cheap at any polling rate: each dependency is probed at most about once a second (the database's
// probe is cached by storage/availability.ts, Redis's here), and the answer names no host, address or error.
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../context.ts';
import { UNAVAILABLE_RETRY_AFTER_S } from '../../storage/availability.ts';

const REDIS_CACHE_MS = 1_000;

type Status = 'ok' | 'unavailable';

export function readyzRoute(app: FastifyInstance, deps: AppDeps): void {
  const limits = deps.limiter.store;
  let redis: { at: number; ok: Promise<boolean> } | undefined;
  const redisReady = (): Promise<boolean> => {
    const now = Date.now();
    if (!redis || now - redis.at >= REDIS_CACHE_MS) redis = { at: now, ok: limits.ready().catch(() => false) };
    return redis.ok;
  };

  app.get('/readyz', async (_request, reply) => {
    const [database, redisOk] = await Promise.all([deps.store.ready(), limits.backend === 'redis' ? redisReady() : Promise.resolve(true)]);
    const checks: Record<string, Status | 'not_configured'> = {
      database: database.ok ? 'ok' : 'unavailable',
      redis: limits.backend === 'redis' ? (redisOk ? 'ok' : 'unavailable') : 'not_configured',
    };
    const ready = database.ok && redisOk;
    if (!ready) void reply.code(503).header('retry-after', String(UNAVAILABLE_RETRY_AFTER_S));
    return { status: ready ? 'ok' : 'unavailable', checks };
  });
}
