// /admin/v1 — the operator's API, authenticated by SWITCHYARD_ADMIN_TOKEN (Authorization: Bearer …).
// Credits travel as exact decimal strings; amounts are bigint micro-credits inside.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { generateApiKey } from '../../../accounts/keys.ts';
import { GatewayError } from '../../../domain/errors.ts';
import { formatCredits, parseCredits } from '../../../domain/money.ts';
import type { ApiKeyRecord, LedgerEntry, UsageEvent, UserRecord } from '../../../storage/types.ts';
import { bearer } from '../../auth.ts';
import type { AppDeps } from '../../context.ts';
import { channelRoutes } from './channels.ts';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue?.path.map(String).join('.') || null;
  throw new GatewayError('invalid_request', `Invalid value for '${param ?? 'body'}': ${issue?.message ?? 'invalid'}`, { param });
}

const userView = (u: UserRecord) => ({ id: u.id, email: u.email, status: u.status, balance_credits: formatCredits(u.balance), created_at: u.createdAt.toISOString() });
const keyView = (k: ApiKeyRecord) => ({
  id: k.id,
  user_id: k.userId,
  name: k.name,
  prefix: k.prefix,
  created_at: k.createdAt.toISOString(),
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
  revoked_at: k.revokedAt?.toISOString() ?? null,
});
export const ledgerView = (e: LedgerEntry) => ({
  id: e.id,
  kind: e.kind,
  amount_credits: formatCredits(e.amount),
  balance_after_credits: formatCredits(e.balanceAfter),
  request_id: e.requestId,
  actor: e.actor,
  reason: e.reason,
  created_at: e.createdAt.toISOString(),
});
export const usageView = (u: UsageEvent) => ({
  request_id: u.requestId,
  user_id: u.userId,
  key_id: u.keyId,
  model: u.model,
  provider: u.provider,
  channel: u.channel,
  endpoint: u.endpoint,
  stream: u.stream,
  tokens: { input: u.inputTokens, cached_input: u.cachedInputTokens, cache_write: u.cacheWriteTokens, output: u.outputTokens, reasoning: u.reasoningTokens },
  held_credits: formatCredits(u.held),
  cost_credits: formatCredits(u.cost),
  price_version: u.priceVersion,
  status: u.status,
  http_status: u.httpStatus,
  error_code: u.errorCode,
  latency_ms: u.latencyMs,
  ttfb_ms: u.ttfbMs,
  attempts: u.attempts ?? null,
  created_at: u.createdAt.toISOString(),
});

const limitSchema = z.coerce.number().int().min(1).max(1000).default(100);

export function adminRoutes(app: FastifyInstance, deps: AppDeps): void {
  const expected = digest(deps.config.adminToken);
  const store = deps.store;

  async function requireUser(id: string): Promise<UserRecord> {
    const user = await store.users.get(id);
    if (!user) throw new GatewayError('not_found', `No user with id '${id}'.`, { param: 'id' });
    return user;
  }

  void app.register(async (admin) => {
    admin.addHook('onRequest', async (request: FastifyRequest) => {
      const token = bearer(request.headers.authorization);
      if (!token || !timingSafeEqual(digest(token), expected)) {
        throw new GatewayError('invalid_api_key', 'A valid admin token is required (Authorization: Bearer $SWITCHYARD_ADMIN_TOKEN).');
      }
    });

    admin.post('/users', async (request, reply) => {
      const { email } = parseBody(z.object({ email: z.email() }), request.body);
      try {
        const user = await store.users.create(email.toLowerCase());
        return reply.code(201).send({ id: user.id, email: user.email });
      } catch (error) {
        if (error instanceof Error && /unique|constraint/i.test(error.message)) {
          throw new GatewayError('conflict', `A user with email '${email}' already exists.`, { param: 'email' });
        }
        throw error;
      }
    });

    admin.get('/users', async (request) => {
      const q = parseBody(z.object({ limit: limitSchema, offset: z.coerce.number().int().min(0).default(0) }), request.query);
      const users = await store.users.list(q);
      return { object: 'list', data: users.map(userView) };
    });

    admin.get<{ Params: { id: string } }>('/users/:id', async (request) => userView(await requireUser(request.params.id)));

    // Suspending stops every key of the user at once (in this process; other replicas within the auth cache TTL).
    admin.patch<{ Params: { id: string } }>('/users/:id', async (request) => {
      const { status } = parseBody(z.object({ status: z.enum(['active', 'suspended']) }), request.body);
      await requireUser(request.params.id);
      await store.users.setStatus(request.params.id, status);
      deps.authenticator.evictUser(request.params.id);
      return userView(await requireUser(request.params.id));
    });

    admin.post<{ Params: { id: string } }>('/users/:id/credits', async (request) => {
      const input = parseBody(z.object({ credits: z.union([z.string(), z.number()]), reason: z.string().max(500).optional() }), request.body);
      const amount = parseCredits(String(input.credits));
      if (amount === undefined || amount === 0n) {
        throw new GatewayError('invalid_request', 'credits must be a non-zero decimal string with at most 6 decimals, e.g. "12.5".', { param: 'credits' });
      }
      await requireUser(request.params.id);
      try {
        const { balance } = await store.ledger.credit({
          userId: request.params.id,
          kind: amount > 0n ? 'grant' : 'adjustment',
          amount,
          actor: 'admin',
          reason: input.reason ?? null,
        });
        return { user_id: request.params.id, balance_credits: formatCredits(balance) };
      } catch (error) {
        if (error instanceof Error && /below|negative|insufficient/i.test(error.message)) {
          throw new GatewayError('invalid_request', 'This adjustment would take the balance below zero.', { param: 'credits' });
        }
        throw error;
      }
    });

    admin.post<{ Params: { id: string } }>('/users/:id/keys', async (request, reply) => {
      const input = parseBody(
        z.object({ name: z.string().min(1).max(100).default('default'), allowed_models: z.array(z.string().min(1)).min(1).nullable().default(null) }),
        request.body,
      );
      await requireUser(request.params.id);
      const generated = generateApiKey();
      const record = await store.keys.create({
        userId: request.params.id,
        name: input.name,
        hash: generated.hash,
        prefix: generated.prefix,
        allowedModels: input.allowed_models,
      });
      return reply.code(201).send({ ...keyView(record), allowed_models: input.allowed_models, key: generated.key });
    });

    admin.get<{ Params: { id: string } }>('/users/:id/keys', async (request) => {
      await requireUser(request.params.id);
      return { object: 'list', data: (await store.keys.listByUser(request.params.id)).map(keyView) };
    });

    admin.delete<{ Params: { id: string } }>('/keys/:id', async (request) => {
      const key = await store.keys.get(request.params.id);
      if (!key) throw new GatewayError('not_found', `No key with id '${request.params.id}'.`, { param: 'id' });
      await store.keys.revoke(key.id);
      deps.authenticator.evictKey(key.id);
      const after = await store.keys.get(key.id);
      return { ...keyView(after ?? key), revoked: true };
    });

    admin.get<{ Params: { id: string } }>('/users/:id/balance', async (request) => {
      const user = await requireUser(request.params.id);
      return { user_id: user.id, balance_credits: formatCredits(user.balance) };
    });

    admin.get<{ Params: { id: string } }>('/users/:id/ledger', async (request) => {
      const q = parseBody(z.object({ limit: limitSchema, before: z.string().optional() }), request.query);
      await requireUser(request.params.id);
      const entries = await store.ledger.entries(request.params.id, { limit: q.limit, ...(q.before ? { beforeId: q.before } : {}) });
      return { object: 'list', data: entries.map(ledgerView) };
    });

    channelRoutes(admin, deps);

    admin.get('/usage', async (request) => {
      const q = parseBody(z.object({ user: z.string().optional(), limit: limitSchema }), request.query);
      const events = await store.usage.list({ limit: q.limit, ...(q.user ? { userId: q.user } : {}) });
      return { object: 'list', data: events.map(usageView) };
    });
  }, { prefix: '/admin/v1' });
}
