// /admin/v1/models/{id}/prices — a model's price versions: list them, schedule one (at least 14 days ahead, or
// forced with a reason), cancel one that has not started. Model ids containing "/" are URL-encoded (%2F).
// Registered inside the admin scope (token checked). Rules: billing/prices.ts.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { publicRates } from '../../../billing/catalogue.ts';
import { announce, announceCancellation, checkNotice, PriceRuleError, usdView } from '../../../billing/prices.ts';
import { ConfigError } from '../../../config/errors.ts';
import { parseEffectiveFrom, ratesFromFields } from '../../../config/prices.ts';
import { priceChangeSchema } from '../../../config/schema.ts';
import { GatewayError } from '../../../domain/errors.ts';
import type { PriceVersion } from '../../../storage/types.ts';
import type { AppDeps } from '../../context.ts';
import { parseBody } from './common.ts';
import { actorOf, audit } from './audit.ts';

/** Recorded as the actor of admin-API price versions (one admin token today). */

type Status = 'superseded' | 'current' | 'scheduled' | 'cancelled';

function status(v: PriceVersion, current: PriceVersion | undefined, now: number): Status {
  if (v.cancelledAt !== null) return 'cancelled';
  if (v.effectiveFrom.getTime() > now) return 'scheduled';
  return v === current ? 'current' : 'superseded';
}

function versionView(v: PriceVersion, status: Status) {
  return {
    object: 'model.price',
    model: v.model,
    version: v.version,
    status,
    effective_from: v.effectiveFrom.toISOString(),
    created_at: v.createdAt.toISOString(),
    source: v.source,
    actor: v.actor,
    reason: v.reason,
    announced_at: v.announcedAt?.toISOString() ?? null,
    cancelled_at: v.cancelledAt?.toISOString() ?? null,
    cancelled_by: v.cancelledBy,
    cancel_reason: v.cancelReason,
    pricing: publicRates(v),
    price_usd: usdView(v),
  };
}

/** A config-shaped problem in a request body → 400 naming the field. */
function asBadRequest<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ConfigError) throw new GatewayError('invalid_request', error.message, { param: error.field ?? null });
    if (error instanceof PriceRuleError) throw new GatewayError('invalid_request', error.message, { param: error.field });
    throw error;
  }
}

export function priceRoutes(admin: FastifyInstance, deps: AppDeps): void {
  const record = audit(deps);
  const store = deps.store;

  const modelOf = (id: string) => {
    const model = deps.catalogue.get(id);
    if (!model) throw new GatewayError('not_found', `No model with id '${id}'.`, { param: 'id' });
    return model.config;
  };

  admin.get<{ Params: { id: string } }>('/models/:id/prices', async (request) => {
    const model = modelOf(request.params.id);
    const now = Date.now();
    const history = await store.prices.history(model.id);
    const current = history.filter((v) => v.cancelledAt === null && v.effectiveFrom.getTime() <= now).at(-1);
    return { object: 'list', model: model.id, data: history.map((v) => versionView(v, status(v, current, now))) };
  });

  admin.post<{ Params: { id: string } }>('/models/:id/prices', async (request, reply) => {
    const model = modelOf(request.params.id);
    const { effective_from, force, reason, ...fields } = parseBody(priceChangeSchema, request.body);
    const now = Date.now();
    const { rates, effectiveFrom } = asBadRequest(() => {
      const parsed = { rates: ratesFromFields(fields, model.kind, ''), effectiveFrom: parseEffectiveFrom(effective_from, 'effective_from') };
      checkNotice(parsed.effectiveFrom, now, force ?? false, reason);
      return parsed;
    });
    const added = await store.prices.add({ model: model.id, rates, effectiveFrom, source: 'admin', actor: actorOf(request), reason: reason ?? null });
    await deps.catalogue.refresh(store.prices);
    // The version is scheduled either way; an announcement that fails is retried (gateway.ts) and at start-up.
    const notified = await announce(store, added, now).catch((error: unknown) => {
      deps.logger.warn({ version: added.version, err: (error as Error).message }, 'price announcement failed; it will be retried');
      return null;
    });
    const version = (await store.prices.get(added.version)) ?? added;
    await record(request, 'price.schedule', model.id, {
      version: added.version, effective_from: new Date(effectiveFrom).toISOString(), forced: force === true, reason: reason ?? null,
    });
    return reply.code(201).send({ ...versionView(version, 'scheduled'), notified_users: notified });
  });

  admin.delete<{ Params: { id: string; version: string } }>('/models/:id/prices/:version', async (request) => {
    const model = modelOf(request.params.id);
    const { reason } = parseBody(z.object({ reason: z.string().min(1).max(500).optional() }), request.body);
    const existing = /^\d+$/.test(request.params.version) ? await store.prices.get(Number(request.params.version)) : undefined;
    if (!existing || existing.model !== model.id) {
      throw new GatewayError('not_found', `Model '${model.id}' has no price version '${request.params.version}'.`, { param: 'version' });
    }
    const now = Date.now();
    const cancelled = await store.prices.cancel(existing.version, { at: new Date(now), actor: actorOf(request), reason: reason ?? null });
    if (!cancelled) {
      const why = existing.cancelledAt !== null ? 'is already cancelled' : 'has already taken effect';
      throw new GatewayError('conflict', `Price version ${existing.version} of '${model.id}' ${why}: only a scheduled version can be cancelled.`, { param: 'version' });
    }
    const notified = cancelled.announcedAt !== null ? await announceCancellation(store, cancelled, now) : 0;
    await deps.catalogue.refresh(store.prices);
    await record(request, 'price.cancel', model.id, { version: cancelled.version, reason: reason ?? null });
    return { ...versionView(cancelled, 'cancelled'), notified_users: notified };
  });
}
