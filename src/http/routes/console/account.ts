// /console/v1/profile and /console/v1/keys — the signed-in user's profile, password, closing the account,
// and their API keys.
import { z } from 'zod';
import { DEFAULT_ROTATION_OVERLAP_S, MAX_ROTATION_OVERLAP_S } from '../../../accounts/api-keys.ts';
import { parseKeyScopes, scopesWireSchema } from '../../../accounts/scopes.ts';
import { PASSWORD_MAX } from '../../../accounts/passwords.ts';
import { formatCredits } from '../../../domain/money.ts';
import { GatewayError } from '../../../domain/errors.ts';
import { defineRoute, type ConsoleRoute } from './define.ts';
import type { ConsoleServices } from './services.ts';
import { credits, CreatedKeyView, instant, KeyView, keyView, listOf, ProfileView, profileView, RotatedKeyView } from './views.ts';

const password = z.string().min(1).max(PASSWORD_MAX * 4);
const keyId = z.strictObject({ id: z.string().min(1).max(64) });

export function accountRoutes(s: ConsoleServices): ConsoleRoute[] {
  return [
    defineRoute({
      method: 'GET', path: '/profile', tag: 'profile', access: 'session',
      summary: 'The signed-in account',
      response: ProfileView,
      handler: async ({ session }) => {
        const account = await s.store.accounts.get(session.userId);
        if (!account) throw new GatewayError('session_required', 'Sign in first.');
        return profileView(account);
      },
    }),
    defineRoute({
      method: 'POST', path: '/profile/password', tag: 'profile', access: 'session',
      summary: 'Change the password (the current one is required)',
      description: 'Every session of the account ends, this one included; the answer sets a new session cookie for this client.',
      body: z.strictObject({ current_password: password, new_password: password }),
      response: z.strictObject({ password_changed: z.literal(true) }),
      errors: ['invalid_credentials', 'rate_limit_exceeded'],
      handler: async ({ request, reply, session, body }) => {
        const issued = await s.accounts.changePassword(session, { currentPassword: body.current_password, newPassword: body.new_password });
        s.setSession(request, reply, issued);
        return { password_changed: true as const };
      },
    }),
    defineRoute({
      method: 'POST', path: '/profile/close', tag: 'profile', access: 'session',
      summary: 'Close the account (the password is required)',
      description:
        'Final. Cancels any subscription, revokes every API key at once, forfeits the remaining balance (an `adjustment` entry in the ledger), '
        + 'erases the email address (a keyed hash remains, to recognise the address) and ends every session. A confirmation is mailed to the address, read just before it is erased.',
      body: z.strictObject({ password }),
      response: z.strictObject({ closed: z.literal(true), forfeited_credits: credits }),
      errors: ['invalid_credentials', 'rate_limit_exceeded'],
      handler: async ({ reply, session, body }) => {
        const { forfeited } = await s.accounts.close(session, body.password);
        s.clearSession(reply);
        return { closed: true as const, forfeited_credits: formatCredits(forfeited) };
      },
    }),

    defineRoute({
      method: 'GET', path: '/keys', tag: 'keys', access: 'session',
      summary: 'The account\'s API keys (revoked ones included), with what each has spent',
      response: listOf(KeyView),
      handler: async ({ session }) => {
        const [keys, spend] = await Promise.all([s.store.keys.listByUser(session.userId), s.store.usage.spendByKey(session.userId)]);
        return { object: 'list' as const, data: keys.map((k) => keyView(k, spend.get(k.id) ?? 0n)), next_cursor: null };
      },
    }),
    defineRoute({
      method: 'POST', path: '/keys', tag: 'keys', access: 'session', status: 201,
      summary: 'Create an API key (shown in this answer only)',
      description: 'Needs a verified email address (403 email_not_verified) and an active account.',
      body: z.strictObject({
        name: z.string().trim().min(1).max(100).default('default'),
        allowed_models: z.array(z.string().min(1).max(200)).min(1).max(100).nullable().default(null).describe('null or absent: every model'),
        expires_at: instant.nullable().default(null).describe('null or absent: never expires'),
        spend_caps: scopesWireSchema.shape.spend_caps.describe('credits per UTC day / month / in total the key may spend, enforced atomically with the balance; absent or null: no cap'),
        rate_limits: scopesWireSchema.shape.rate_limits.describe('requests per minute, tokens per minute and concurrent requests; absent or null: only the account\'s limits'),
      }),
      response: CreatedKeyView,
      errors: ['email_not_verified', 'account_suspended'],
      handler: async ({ session, body }) => {
        const { record, key } = await s.keys.create(session, {
          name: body.name,
          allowedModels: body.allowed_models,
          expiresAt: body.expires_at === null ? null : new Date(body.expires_at),
          scopes: parseKeyScopes({ spend_caps: body.spend_caps ?? null, rate_limits: body.rate_limits ?? null }),
        });
        return { ...keyView(record, 0n), key };
      },
    }),
    defineRoute({
      method: 'POST', path: '/keys/{id}/rotate', tag: 'keys', access: 'session', status: 201,
      summary: 'Rotate a key: a new key now, the old one stops after an overlap',
      description: `The new key keeps the old one's name, models, expiry, spend caps and rate limits. The old key keeps working for \`overlap_seconds\` (default ${DEFAULT_ROTATION_OVERLAP_S}, i.e. 24 h; 0 stops it at once).`,
      params: keyId,
      body: z.strictObject({ overlap_seconds: z.number().int().min(0).max(MAX_ROTATION_OVERLAP_S).default(DEFAULT_ROTATION_OVERLAP_S) }),
      response: RotatedKeyView,
      errors: ['not_found', 'conflict', 'email_not_verified', 'account_suspended'],
      handler: async ({ session, params, body }) => {
        const { created, old } = await s.keys.rotate(session, params.id, body.overlap_seconds);
        return { ...keyView(created.record, 0n), key: created.key, replaces: { id: old.id, expires_at: (old.expiresAt ?? new Date()).toISOString() } };
      },
    }),
    defineRoute({
      method: 'DELETE', path: '/keys/{id}', tag: 'keys', access: 'session',
      summary: 'Revoke a key, at once',
      params: keyId,
      response: KeyView,
      errors: ['not_found'],
      handler: async ({ session, params }) => {
        const key = await s.keys.revoke(session, params.id);
        const spend = await s.store.usage.spendByKey(session.userId);
        return keyView(key, spend.get(key.id) ?? 0n);
      },
    }),
  ];
}
