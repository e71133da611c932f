// The admin audit log: every change made through /admin/v1 is recorded (actor, action, target, details, ip) right
// after it succeeded, and GET /admin/v1/audit lists it. Details are metadata — never a key, a token or a secret.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditEntry } from '../../../storage/types.ts';
import type { AppDeps } from '../../context.ts';
import { limitSchema, page, parseBody } from './common.ts';

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

export function audit(deps: AppDeps): AuditRecorder {
  return async (request, action, target, details) => {
    await deps.store.audit.record({ actor: actorOf(request), action, target, details, ip: request.ip ?? null });
  };
}

const entryView = (e: AuditEntry) => ({
  id: e.id,
  actor: e.actor,
  action: e.action,
  target: e.target,
  details: e.details,
  ip: e.ip,
  created_at: e.createdAt.toISOString(),
});

export function auditRoutes(admin: FastifyInstance, deps: AppDeps): void {
  // Newest first; `before` (an entry id) pages back.
  admin.get('/audit', async (request) => {
    const q = parseBody(
      z.object({
        limit: limitSchema,
        before: z.string().regex(/^\d+$/, 'an audit entry id').optional(),
        actor: z.string().optional(),
        action: z.string().optional(),
        target: z.string().optional(),
      }),
      request.query,
    );
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
