// What the console API answers with: zod schemas (documented in the OpenAPI description; strict, so a field
// added without documenting it fails the contract test) and the functions that build them from records.
// Credits are exact decimal strings; instants are ISO 8601 UTC.
import { z } from 'zod';
import { formatCredits } from '../../../domain/money.ts';
import type { AccountRecord, ApiKeyRecord, NotificationRecord, UsageAggregate, UsageEvent } from '../../../storage/types.ts';
import { usageView as adminUsageView } from '../admin/index.ts';

/** The ledger reads the same for its owner as for the operator. */
export { ledgerView } from '../admin/index.ts';

export const instant = z.iso.datetime().describe('ISO 8601, UTC');
export const credits = z.string().regex(/^-?\d+(\.\d{1,6})?$/).describe('credits as an exact decimal ($1 = 1,000 credits)');
const nullableInstant = instant.nullable();
const count = z.number().int().nonnegative();

export const ProfileView = z.strictObject({
  id: z.string(),
  email: z.string(),
  email_verified: z.boolean(),
  status: z.enum(['active', 'suspended']),
  created_at: instant,
  balance_credits: credits,
});

export const KeyView = z.strictObject({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe('the key\'s visible start, e.g. sk-sy-AbCdEf'),
  allowed_models: z.array(z.string()).nullable().describe('null: every model'),
  created_at: instant,
  last_used_at: nullableInstant,
  expires_at: nullableInstant.describe('null: never expires'),
  revoked_at: nullableInstant,
  spend_credits: credits.describe('Σ cost of the requests made with this key'),
  spend_caps: z.strictObject({ daily_credits: credits.nullable(), monthly_credits: credits.nullable(), total_credits: credits.nullable() })
    .describe('null: no cap of that period'),
  rate_limits: z.strictObject({ rpm: count.nullable(), tpm: count.nullable(), concurrency: count.nullable() })
    .describe('the key\'s own limits (null: none; the account\'s limits apply too)'),
});

export const CreatedKeyView = KeyView.extend({ key: z.string().describe('the secret key: shown in this answer only, store it now') });
export const RotatedKeyView = CreatedKeyView.extend({
  replaces: z.strictObject({ id: z.string(), expires_at: instant.describe('when the old key stops working') }),
});

const tokens = z.strictObject({ input: count, cached_input: count, cache_write: count, output: count, reasoning: count });

export const UsageView = z.strictObject({
  request_id: z.string(),
  key_id: z.string(),
  model: z.string(),
  endpoint: z.string(),
  stream: z.boolean(),
  tokens,
  cost_credits: credits,
  price_version: z.number().int().nullable(),
  status: z.enum(['ok', 'error', 'client_closed', 'expired']),
  http_status: z.number().int(),
  error_code: z.string().nullable(),
  latency_ms: count,
  ttfb_ms: count.nullable(),
  created_at: instant,
});

export const UsageSummaryRow = z.strictObject({
  date: z.iso.date().describe('UTC day'),
  model: z.string(),
  key_id: z.string(),
  requests: count,
  tokens,
  cost_credits: credits,
});

export const LedgerView = z.strictObject({
  id: z.string(),
  kind: z.enum(['topup', 'grant', 'hold', 'capture', 'release', 'refund', 'adjustment']),
  amount_credits: credits,
  balance_after_credits: credits,
  request_id: z.string().nullable(),
  payment_id: z.string().nullable(),
  actor: z.string().nullable(),
  reason: z.string().nullable(),
  created_at: instant,
});

export const NotificationView = z.strictObject({
  id: z.string(),
  kind: z.string(),
  subject: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()).nullable(),
  created_at: instant,
  read_at: nullableInstant,
});

/** A page of a list; `next_cursor` (null on the last page) is passed back as `cursor`. */
export const listOf = <T extends z.ZodType>(item: T) =>
  z.strictObject({ object: z.literal('list'), data: z.array(item), next_cursor: z.string().nullable() });

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function profileView(account: AccountRecord): z.input<typeof ProfileView> {
  const { user } = account;
  return {
    id: user.id,
    email: user.email,
    email_verified: account.emailVerifiedAt !== null,
    status: user.status === 'suspended' ? 'suspended' : 'active',
    created_at: iso(user.createdAt),
    balance_credits: formatCredits(user.balance),
  };
}

export function keyView(key: ApiKeyRecord, spend: bigint): z.input<typeof KeyView> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    allowed_models: key.allowedModels,
    created_at: iso(key.createdAt),
    last_used_at: isoOrNull(key.lastUsedAt),
    expires_at: isoOrNull(key.expiresAt),
    revoked_at: isoOrNull(key.revokedAt),
    spend_credits: formatCredits(spend),
    spend_caps: {
      daily_credits: key.spendCaps.day === null ? null : formatCredits(key.spendCaps.day),
      monthly_credits: key.spendCaps.month === null ? null : formatCredits(key.spendCaps.month),
      total_credits: key.spendCaps.total === null ? null : formatCredits(key.spendCaps.total),
    },
    rate_limits: { ...key.rateLimits },
  };
}

/** What a user sees of a usage event: the operator's view without the operator-only fields (which upstream
 * channel served it, the attempt trail, the hold, the upstream's own error summary). */
export function usageView(u: UsageEvent): z.input<typeof UsageView> {
  const { user_id: _user, provider: _provider, channel: _channel, held_credits: _held, attempts: _attempts, upstream_error: _upstream, ...view } = adminUsageView(u);
  return view;
}

export function summaryRowView(row: UsageAggregate): z.input<typeof UsageSummaryRow> {
  return {
    date: new Date(row.day * 86_400_000).toISOString().slice(0, 10),
    model: row.model,
    key_id: row.keyId,
    requests: row.requests,
    tokens: {
      input: row.inputTokens, cached_input: row.cachedInputTokens, cache_write: row.cacheWriteTokens, output: row.outputTokens, reasoning: row.reasoningTokens,
    },
    cost_credits: formatCredits(row.cost),
  };
}

export function notificationView(n: NotificationRecord): z.input<typeof NotificationView> {
  return { id: n.id, kind: n.kind, subject: n.subject, body: n.body, data: n.data, created_at: iso(n.createdAt), read_at: isoOrNull(n.readAt) };
}
