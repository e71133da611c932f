// The admin audit log, written ahead: every POST, PATCH, PUT or DELETE under /admin/v1 first inserts a 'pending'
// entry (actor, method and route, target, ip) before its handler may change anything — if that write fails, the
// request fails and nothing changes. The handler completes the entry with what it changed (`record`: action,
// target, details; 'ok'); a request that ends without recording is completed when its response is sent:
// 'unchanged' below status 400 (e.g. revoking a key already revoked), 'failed' with the status from 400 on.
// An entry still 'pending' means the process stopped while the request ran. GET /admin/v1/audit lists them.
// Details are metadata — never a key, a token or a secret. Why written ahead: docs/decisions/0017-write-ahead-audit.md.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditEntry } from '../../../storage/types.ts';
import type { AppDeps } from '../../context.ts';
import { acceptsQuery, idCursor, limitSchema, page, queryOf } from './common.ts';

/** Who acts through the admin token; a user with the `admin` role acts through their API key as `user:<id>`. */
export const ADMIN_TOKEN_ACTOR = 'admin-token';

const actors = new WeakMap<FastifyRequest, string>();

/** Set by the admin scope's authentication hook. */
export function setActor(request: FastifyRequest, actor: string): void {
  actors.set(request, actor);
}

/** Who made this admin request (recorded in the audit log and on ledger entries it writes). */
export function actorOf(request: FastifyRequest): string {
  return actors.get(request) ?? ADMIN_TOKEN_ACTOR;
}

export type AuditRecorder = (request: FastifyRequest, action: string, target: string | null, details: Record<string, unknown> | null) => Promise<void>;

/** The request's entry written ahead, until it is completed. */
const pending = new WeakMap<FastifyRequest, string>();
const CHANGES = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** Records what the request changed: completes its pending entry, or (a second change) adds an entry. */
export function audit(deps: AppDeps): AuditRecorder {
  return async (request, action, target, details) => {
    const id = pending.get(request);
    if (id !== undefined) {
      pending.delete(request);
      if (await deps.store.audit.complete(id, { outcome: 'ok', httpStatus: null, action, target, details })) return;
    }
    await deps.store.audit.record({ actor: actorOf(request), action, target, details, ip: request.ip ?? null });
  };
}

/** Writes each change request's entry ahead of its handler, and completes the ones the handler did not. */
export function auditAhead(admin: FastifyInstance, deps: AppDeps): void {
  admin.addHook('preHandler', async (request: FastifyRequest) => {
    const route = request.routeOptions.url;
    if (!CHANGES.has(request.method) || route === undefined) return;
    const params = request.params as Record<string, unknown> | undefined;
    const target = typeof params?.id === 'string' ? params.id : null;
    const id = await deps.store.audit.begin({ actor: actorOf(request), action: `${request.method} ${route}`, target, details: null, ip: request.ip ?? null });
    pending.set(request, id);
  });
  admin.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const id = pending.get(request);
    if (id === undefined) return;
    pending.delete(request);
    const status = reply.statusCode;
    await deps.store.audit.complete(id, { outcome: status < 400 ? 'unchanged' : 'failed', httpStatus: status }).catch((error: unknown) => {
      request.log.warn({ err: (error as Error).message, audit: id }, 'audit entry left pending: it could not be completed');
    });
  });
}

const entryView = (e: AuditEntry) => ({
  id: e.id,
  actor: e.actor,
  action: e.action,
  target: e.target,
  details: e.details,
  ip: e.ip,
  created_at: e.createdAt.toISOString(),
  outcome: e.outcome,
  http_status: e.httpStatus,
});

const auditQuery = z.strictObject({
  limit: limitSchema,
  before: idCursor.optional(),
  actor: z.string().min(1).max(200).optional(),
  action: z.string().min(1).max(200).optional(),
  target: z.string().min(1).max(200).optional(),
});

export function auditRoutes(admin: FastifyInstance, deps: AppDeps): void {
  // Newest first; `before` (an entry id) pages back.
  admin.get('/audit', acceptsQuery(auditQuery), async (request) => {
    const q = queryOf(request, auditQuery);
    const entries = await deps.store.audit.list({
      limit: q.limit + 1,
      ...(q.before ? { beforeId: q.before } : {}),
      ...(q.actor ? { actor: q.actor } : {}),
      ...(q.action ? { action: q.action } : {}),
      ...(q.target ? { target: q.target } : {}),
    });
    return page(entries.map(entryView), q.limit);
  });
}
