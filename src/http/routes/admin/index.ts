// /admin/v1 — the operator's API, authenticated by SWITCHYARD_ADMIN_TOKEN (Authorization: Bearer …).
// Credits travel as exact decimal strings; amounts are bigint micro-credits inside. Every change is written to
// the audit log (./audit.ts); keys and their scopes are in ./keys.ts.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { KEY_PREFIX } from '../../../accounts/keys.ts';
import { rateLimitsPatch, rateLimitsWireSchema } from '../../../accounts/scopes.ts';
import { GatewayError } from '../../../domain/errors.ts';
import { formatCredits, readCredits } from '../../../domain/money.ts';
import { withOverrides, type RateLimitSpec } from '../../../limits/limiter.ts';
import { BalanceLimitError, InsufficientBalanceError, StorageConflictError } from '../../../storage/index.ts';
import type { LedgerEntry, UsageEvent, UserRecord } from '../../../storage/types.ts';
import { bearer } from '../../auth.ts';
import type { AppDeps } from '../../context.ts';
import { ADMIN_TOKEN_ACTOR, actorOf, audit, auditAhead, auditRoutes, setActor } from './audit.ts';
import { channelRoutes } from './channels.ts';
import { acceptsQuery, idCursor, limitSchema, page, parseBody, queryOf, validateQueries } from './common.ts';
import { keyRoutes } from './keys.ts';
import { ledgerRoutes } from './ledger.ts';
import { priceRoutes } from './prices.ts';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

const usersQuery = z.strictObject({
  limit: limitSchema,
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
  email: z.string().max(320).optional(),
  status: z.enum(['active', 'suspended']).optional(),
  role: z.enum(['user', 'admin']).optional(),
});
/** `before`: a ledger entry id (next page: the last id of this one). */
const ledgerQuery = z.strictObject({ limit: limitSchema, before: idCursor.optional() });
const usageQuery = z.strictObject({ user: z.string().min(1).max(200).optional(), limit: limitSchema });

/**
 * A user as the admin API shows it. `rate_limits`: the account's overrides (null: the config default of that
 * kind); `effective_rate_limits`: what applies to the account (null: no limit of that kind).
 */
const userView = (u: UserRecord, defaults: Readonly<RateLimitSpec>) => ({
  id: u.id, email: u.email, status: u.status, role: u.role, balance_credits: formatCredits(u.balance), created_at: u.createdAt.toISOString(),
  rate_limits: { ...u.rateLimits },
  effective_rate_limits: { ...withOverrides(defaults, u.rateLimits) },
});
export const ledgerView = (e: LedgerEntry) => ({
  id: e.id,
  kind: e.kind,
  amount_credits: formatCredits(e.amount),
  balance_after_credits: formatCredits(e.balanceAfter),
  request_id: e.requestId,
  payment_id: e.paymentId,
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
  /** What the upstream said when it failed the request: status, code, scrubbed message (never prompt text). */
  upstream_error: u.upstreamError ?? null,
  created_at: u.createdAt.toISOString(),
});

export function adminRoutes(app: FastifyInstance, deps: AppDeps): void {
  const expected = digest(deps.config.adminToken);
  const store = deps.store;

  async function requireUser(id: string): Promise<UserRecord> {
    const user = await store.users.get(id);
    if (!user) throw new GatewayError('not_found', `No user with id '${id}'.`, { param: 'id' });
    return user;
  }
  const record = audit(deps);
  const view = (u: UserRecord) => userView(u, deps.config.limits.account);

  void app.register(async (admin) => {
    admin.addHook('onRequest', async (request: FastifyRequest) => {
      const token = bearer(request.headers.authorization);
      if (token && timingSafeEqual(digest(token), expected)) {
        setActor(request, ADMIN_TOKEN_ACTOR);
        return;
      }
      // A user with the `admin` role may use the admin API with one of their own API keys (same checks as /v1:
      // revoked, expired and suspended keys are refused), acting — and audited — as that user.
      if (token?.startsWith(KEY_PREFIX)) {
        const auth = await deps.authenticator.authenticate(token);
        const user = await store.users.get(auth.userId);
        if (user?.role !== 'admin') throw new GatewayError('permission_denied', 'This API key\'s user does not have the admin role.');
        setActor(request, `user:${user.id}`);
        return;
      }
      throw new GatewayError('invalid_api_key', 'A valid admin token is required (Authorization: Bearer $SWITCHYARD_ADMIN_TOKEN), or an API key of a user with the admin role.');
    });
    validateQueries(admin);
    auditAhead(admin, deps);

    admin.post('/users', async (request, reply) => {
      const { email } = parseBody(z.object({ email: z.email() }), request.body);
      try {
        const user = await store.users.create(email.toLowerCase());
        await record(request, 'user.create', user.id, { email: user.email });
        return reply.code(201).send({ id: user.id, email: user.email, role: user.role });
      } catch (error) {
        if (error instanceof StorageConflictError) {
          throw new GatewayError('conflict', `A user with email '${email}' already exists.`, { param: 'email' });
        }
        throw error;
      }
    });

    // Search: email (case-insensitive substring), status, role; oldest first, `offset` pages.
    admin.get('/users', acceptsQuery(usersQuery), async (request) => {
      const q = queryOf(request, usersQuery);
      const users = await store.users.list({ ...q, limit: q.limit + 1 });
      return page(users.map(view), q.limit);
    });

    admin.get<{ Params: { id: string } }>('/users/:id', async (request) => view(await requireUser(request.params.id)));

    // Suspending stops every key of the user at once, and new account limits apply to its next request, on every
    // replica (the eviction is broadcast through Redis). rate_limits: absent fields unchanged, null clears (back to
    // the config default); the whole body is validated before anything changes.
    admin.patch<{ Params: { id: string } }>('/users/:id', async (request) => {
      const input = parseBody(
        z.strictObject({
          status: z.enum(['active', 'suspended']).optional(),
          role: z.enum(['user', 'admin']).optional(),
          rate_limits: rateLimitsWireSchema.nullable().optional(),
        }).refine((b) => b.status !== undefined || b.role !== undefined || b.rate_limits !== undefined, 'send status, role and/or rate_limits'),
        request.body,
      );
      const before = await requireUser(request.params.id);
      if (input.status !== undefined) await store.users.setStatus(before.id, input.status);
      if (input.role !== undefined) await store.users.setRole(before.id, input.role);
      if (input.rate_limits !== undefined) await store.users.setRateLimits(before.id, rateLimitsPatch(input.rate_limits));
      deps.authenticator.evictUser(before.id);
      const after = await requireUser(before.id);
      const changes: Record<string, unknown> = {};
      if (after.status !== before.status) changes.status = { from: before.status, to: after.status };
      if (after.role !== before.role) changes.role = { from: before.role, to: after.role };
      if ((['rpm', 'tpm', 'concurrency'] as const).some((kind) => after.rateLimits[kind] !== before.rateLimits[kind])) {
        changes.rate_limits = { from: { ...before.rateLimits }, to: { ...after.rateLimits } };
      }
      await record(request, 'user.update', after.id, changes);
      return view(after);
    });

    // The reason is mandatory: it goes into the ledger entry and the audit log.
    admin.post<{ Params: { id: string } }>('/users/:id/credits', async (request) => {
      const input = parseBody(z.object({ credits: z.union([z.string(), z.number()]), reason: z.string().trim().min(1, 'a reason is required').max(500) }), request.body);
      const parsed = readCredits(input.credits);
      if (!parsed.ok || parsed.micro === 0n) {
        throw new GatewayError('invalid_request', `Invalid value for 'credits': ${parsed.ok ? 'must not be 0' : parsed.reason}.`, { param: 'credits' });
      }
      const amount = parsed.micro;
      await requireUser(request.params.id);
      try {
        const kind = amount > 0n ? 'grant' : 'adjustment';
        const { balance } = await store.ledger.credit({ userId: request.params.id, kind, amount, actor: actorOf(request), reason: input.reason });
        await record(request, 'credits.adjust', request.params.id, {
          kind, credits: formatCredits(amount), reason: input.reason, balance_credits: formatCredits(balance),
        });
        return { user_id: request.params.id, balance_credits: formatCredits(balance) };
      } catch (error) {
        if (error instanceof InsufficientBalanceError) {
          throw new GatewayError('invalid_request', 'This adjustment would take the balance below zero.', { param: 'credits' });
        }
        if (error instanceof BalanceLimitError) {
          throw new GatewayError('invalid_request', `This grant would take the balance (with the requests in flight) above the limit of ${formatCredits(error.limit)} credits.`, { param: 'credits' });
        }
        throw error;
      }
    });

    keyRoutes(admin, deps, { requireUser, record });

    admin.get<{ Params: { id: string } }>('/users/:id/balance', async (request) => {
      const user = await requireUser(request.params.id);
      return { user_id: user.id, balance_credits: formatCredits(user.balance) };
    });

    admin.get<{ Params: { id: string } }>('/users/:id/ledger', acceptsQuery(ledgerQuery), async (request) => {
      const q = queryOf(request, ledgerQuery);
      await requireUser(request.params.id);
      const entries = await store.ledger.entries(request.params.id, { limit: q.limit, ...(q.before ? { beforeId: q.before } : {}) });
      return { object: 'list', data: entries.map(ledgerView) };
    });

    channelRoutes(admin, deps);
    ledgerRoutes(admin, deps);
    priceRoutes(admin, deps);
    auditRoutes(admin, deps);

    admin.get('/usage', acceptsQuery(usageQuery), async (request) => {
      const q = queryOf(request, usageQuery);
      const events = await store.usage.list({ limit: q.limit, ...(q.user ? { userId: q.user } : {}) });
      return { object: 'list', data: events.map(usageView) };
    });

    // One request as recorded: its usage event, with the upstream's error summary when an upstream failed it.
    admin.get<{ Params: { id: string } }>('/requests/:id', async (request) => {
      const event = await store.usage.get(request.params.id);
      if (!event) throw new GatewayError('not_found', 'No request with this id has been recorded.', { param: 'id' });
      return { object: 'request', ...usageView(event) };
    });
  }, { prefix: '/admin/v1' });
}
