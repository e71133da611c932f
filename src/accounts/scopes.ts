// Key scopes on the wire: parsing and validation of what an admin (or, in the console, the key's owner) sends,
// and the view shown back. One format for every route that creates or changes keys:
//
//   {
//     "allowed_models": ["gpt-4o-mini"] | null,          // null: every model
//     "expires_at": "2026-01-01T00:00:00Z" | null,        // null: never
//     "spend_caps": { "daily_credits": "1.5", "monthly_credits": "20", "total_credits": null } | null,
//     "rate_limits": { "rpm": 100, "tpm": 200000, "concurrency": 4 } | null
//   }
//
// Every field is optional: absent = unchanged, null = cleared (a null object clears all of its fields). Credits
// are exact decimal strings (or numbers) with at most 6 decimals; a cap of 0 stops the key from spending.
import { z } from 'zod';
import { GatewayError } from '../domain/errors.ts';
import { CAP_CREDITS, formatCredits, readCredits, type MicroCredits } from '../domain/money.ts';
import type { KeyRateLimits, KeyScopes, KeyScopesPatch, KeySpend, SpendCaps } from '../storage/types.ts';

const MAX_LIMIT = 1_000_000_000;

const credits = z.union([z.string(), z.number()]).nullable();
const rate = z.number().int().min(1).max(MAX_LIMIT).nullable();

/**
 * Rate limits on the wire, one format for a key's scope and an account's overrides (PATCH /admin/v1/users/{id}):
 * whole numbers from 1 to 1e9 (the config's range); absent = unchanged, null = cleared.
 */
export const rateLimitsWireSchema = z.strictObject({ rpm: rate.optional(), tpm: rate.optional(), concurrency: rate.optional() });

/** A parsed `rate_limits` as a patch: absent fields left out; a null object clears every field. */
export function rateLimitsPatch(wire: z.infer<typeof rateLimitsWireSchema> | null): Partial<KeyRateLimits> {
  const limits: Partial<KeyRateLimits> = {};
  for (const field of ['rpm', 'tpm', 'concurrency'] as const) {
    const value = wire === null ? null : wire[field];
    if (value !== undefined) limits[field] = value;
  }
  return limits;
}

/** The wire shape of the scope fields (also embedded in the console's key routes and their OpenAPI description). */
export const scopesWireSchema = z.strictObject({
  allowed_models: z.array(z.string().min(1).max(200)).min(1).max(1000).nullable().optional(),
  expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
  spend_caps: z
    .strictObject({ daily_credits: credits.optional(), monthly_credits: credits.optional(), total_credits: credits.optional() })
    .nullable()
    .optional(),
  rate_limits: rateLimitsWireSchema.nullable().optional(),
});

/** The scope fields a route accepts beside its own (e.g. a key's `name`). */
export const SCOPE_FIELDS = ['allowed_models', 'expires_at', 'spend_caps', 'rate_limits'] as const;

const CAP_FIELDS = { daily_credits: 'day', monthly_credits: 'month', total_credits: 'total' } as const;

function invalid(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', `Invalid value for '${param}': ${message}`, { param });
}

function capAmount(value: string | number | null, param: string): MicroCredits | null {
  if (value === null) return null;
  const amount = readCredits(value, CAP_CREDITS);
  if (!amount.ok) throw invalid(param, amount.reason);
  return amount.micro;
}

/**
 * The scope fields of `body` (other fields are ignored) as a patch; throws a 400 `invalid_request` naming the
 * offending field.
 */
export function parseKeyScopes(body: unknown): KeyScopesPatch {
  const source = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const picked: Record<string, unknown> = {};
  for (const field of SCOPE_FIELDS) if (field in source) picked[field] = source[field];
  const result = scopesWireSchema.safeParse(picked);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw invalid(issue?.path.map(String).join('.') || 'body', issue?.message ?? 'invalid');
  }
  const wire = result.data;
  const patch: KeyScopesPatch = {};
  if (wire.allowed_models !== undefined) patch.allowedModels = wire.allowed_models === null ? null : [...new Set(wire.allowed_models)];
  if (wire.expires_at !== undefined) patch.expiresAt = wire.expires_at === null ? null : new Date(wire.expires_at);
  if (wire.spend_caps !== undefined) {
    const caps: Partial<SpendCaps> = {};
    for (const [field, period] of Object.entries(CAP_FIELDS) as Array<[keyof typeof CAP_FIELDS, keyof SpendCaps]>) {
      const value = wire.spend_caps === null ? null : wire.spend_caps[field];
      if (value !== undefined) caps[period] = capAmount(value, `spend_caps.${field}`);
    }
    patch.spendCaps = caps;
  }
  if (wire.rate_limits !== undefined) patch.rateLimits = rateLimitsPatch(wire.rate_limits);
  return patch;
}

const creditsOrNull = (amount: MicroCredits | null): string | null => (amount === null ? null : formatCredits(amount));

/** A key's scopes as the API shows them (the same shape parseKeyScopes reads), with its current spend if known. */
export function scopesView(scopes: KeyScopes, spend?: KeySpend): Record<string, unknown> {
  return {
    allowed_models: scopes.allowedModels,
    expires_at: scopes.expiresAt?.toISOString() ?? null,
    spend_caps: {
      daily_credits: creditsOrNull(scopes.spendCaps.day),
      monthly_credits: creditsOrNull(scopes.spendCaps.month),
      total_credits: creditsOrNull(scopes.spendCaps.total),
    },
    rate_limits: { ...scopes.rateLimits },
    ...(spend
      ? { spend: { daily_credits: formatCredits(spend.day), monthly_credits: formatCredits(spend.month), total_credits: formatCredits(spend.total) } }
      : {}),
  };
}

export function hasSpendCap(caps: SpendCaps): boolean {
  return caps.day !== null || caps.month !== null || caps.total !== null;
}

export function hasRateLimit(limits: KeyRateLimits): boolean {
  return limits.rpm !== null || limits.tpm !== null || limits.concurrency !== null;
}
