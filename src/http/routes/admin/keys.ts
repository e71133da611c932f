// API keys in the admin API: issue (with scopes), list, read (with the current spend of a capped key), change
// scopes, revoke. Scopes use the one wire format of accounts/scopes.ts. A change evicts the key from the auth
// cache of every replica, so it applies to the next request anywhere.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { generateApiKey } from '../../../accounts/keys.ts';
import { SCOPE_FIELDS, hasSpendCap, parseKeyScopes, scopesView } from '../../../accounts/scopes.ts';
import { GatewayError } from '../../../domain/errors.ts';
import type { ApiKeyRecord, KeyScopesPatch, KeySpend, UserRecord } from '../../../storage/types.ts';
import type { AppDeps } from '../../context.ts';
import type { AuditRecorder } from './audit.ts';
import { parseBody } from './common.ts';

export function keyView(k: ApiKeyRecord, spend?: KeySpend): Record<string, unknown> {
  return {
    id: k.id,
    user_id: k.userId,
    name: k.name,
    prefix: k.prefix,
    created_at: k.createdAt.toISOString(),
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    ...scopesView(k, spend),
  };
}

/** The scopes a change sets, as the audit log shows them (credits as strings, dates as ISO). */
function patchDetails(patch: KeyScopesPatch, after: ApiKeyRecord): Record<string, unknown> {
  const view = scopesView(after);
  const changed: Record<string, unknown> = {};
  if (patch.allowedModels !== undefined) changed.allowed_models = view.allowed_models;
  if (patch.expiresAt !== undefined) changed.expires_at = view.expires_at;
  if (patch.spendCaps !== undefined) changed.spend_caps = view.spend_caps;
  if (patch.rateLimits !== undefined) changed.rate_limits = view.rate_limits;
  return changed;
}

export function keyRoutes(
  admin: FastifyInstance,
  deps: AppDeps,
  helpers: { requireUser: (id: string) => Promise<UserRecord>; record: AuditRecorder },
): void {
  const { store } = deps;
  const { requireUser, record } = helpers;

  async function requireKey(id: string): Promise<ApiKeyRecord> {
    const key = await store.keys.get(id);
    if (!key) throw new GatewayError('not_found', `No key with id '${id}'.`, { param: 'id' });
    return key;
  }

  admin.post<{ Params: { id: string } }>('/users/:id/keys', async (request, reply) => {
    const { name } = parseBody(z.object({ name: z.string().min(1).max(100).default('default') }), request.body);
    const scopes = parseKeyScopes(request.body);
    await requireUser(request.params.id);
    const generated = generateApiKey();
    const created = await store.keys.create({
      userId: request.params.id,
      name,
      hash: generated.hash,
      prefix: generated.prefix,
      allowedModels: scopes.allowedModels ?? null,
      scopes,
    });
    await record(request, 'key.create', created.id, { user_id: created.userId, name, prefix: created.prefix, ...patchDetails(scopes, created) });
    return reply.code(201).send({ ...keyView(created), key: generated.key });
  });

  admin.get<{ Params: { id: string } }>('/users/:id/keys', async (request) => {
    await requireUser(request.params.id);
    return { object: 'list', data: (await store.keys.listByUser(request.params.id)).map((k) => keyView(k)) };
  });

  admin.get<{ Params: { id: string } }>('/keys/:id', async (request) => {
    const key = await requireKey(request.params.id);
    return keyView(key, hasSpendCap(key.spendCaps) ? await store.keys.spend(key.id, new Date()) : undefined);
  });

  // Scopes: absent fields stay, null clears (accounts/scopes.ts).
  admin.patch<{ Params: { id: string } }>('/keys/:id', async (request) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new GatewayError('invalid_request', 'Send a JSON object with the scopes to change.');
    }
    const unknown = Object.keys(body).find((field) => !(SCOPE_FIELDS as readonly string[]).includes(field));
    if (unknown !== undefined) {
      throw new GatewayError('invalid_request', `Unknown field '${unknown}': a key's scopes are ${SCOPE_FIELDS.join(', ')}.`, { param: unknown });
    }
    const patch = parseKeyScopes(body);
    const before = await requireKey(request.params.id);
    const after = await store.keys.setScopes(before.id, patch);
    if (!after) throw new GatewayError('not_found', `No key with id '${before.id}'.`, { param: 'id' });
    deps.authenticator.evictKey(after.id);
    await record(request, 'key.update', after.id, patchDetails(patch, after));
    return keyView(after, hasSpendCap(after.spendCaps) ? await store.keys.spend(after.id, new Date()) : undefined);
  });

  // Revokes at once, on every replica.
  admin.delete<{ Params: { id: string } }>('/keys/:id', async (request) => {
    const key = await requireKey(request.params.id);
    const revoked = await store.keys.revoke(key.id);
    deps.authenticator.evictKey(key.id);
    if (revoked) await record(request, 'key.revoke', key.id, { user_id: key.userId, prefix: key.prefix });
    const after = await store.keys.get(key.id);
    return { ...keyView(after ?? key), revoked: true };
  });
}
