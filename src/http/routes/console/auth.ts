// /console/v1/auth — sign-up, email verification, login, logout, password reset, the CSRF token.
import { z } from 'zod';
import { EMAIL_MAX } from '../../../accounts/email.ts';
import { PASSWORD_MAX } from '../../../accounts/passwords.ts';
import { defineRoute, type ConsoleRoute } from './define.ts';
import { SESSION_COOKIE, type ConsoleServices } from './services.ts';
import { instant, ProfileView, profileView } from './views.ts';

// Bounded before any work is done on them; the real rules (format, password length) come after.
const email = z.string().max(EMAIL_MAX * 2);
const password = z.string().min(1).max(PASSWORD_MAX * 4);
const token = z.string().min(1).max(200);
const TAG = 'auth';

export function authRoutes(s: ConsoleServices): ConsoleRoute[] {
  const profileOf = async (userId: string) => {
    const account = await s.store.accounts.get(userId);
    if (!account) throw new Error('console: account vanished right after it was used');
    return profileView(account);
  };

  return [
    defineRoute({
      method: 'GET', path: '/auth/csrf', tag: TAG, access: 'public',
      summary: 'A CSRF token for state-changing requests',
      description: 'Sets the `sy_csrf` cookie (httpOnly) and returns the token that goes with it. Send the token as `X-CSRF-Token` on every POST and DELETE, together with the cookie.',
      response: z.strictObject({ csrf_token: z.string() }),
      handler: async ({ request, reply }) => ({ csrf_token: reply.generateCsrf({ secure: request.protocol === 'https' }) }),
    }),
    defineRoute({
      method: 'POST', path: '/auth/signup', tag: TAG, access: 'public', status: 201,
      summary: 'Create an account and sign in',
      description: 'Sends a verification mail. An unverified account may sign in and look around but may not create API keys. 409 when the address already has an account.',
      body: z.strictObject({ email, password }),
      response: z.strictObject({ user: ProfileView }),
      errors: ['conflict', 'rate_limit_exceeded'],
      handler: async ({ request, reply, body }) => {
        const { userId, session } = await s.accounts.signup({
          email: body.email, password: body.password, ip: request.ip, presentedSession: request.cookies[SESSION_COOKIE],
        });
        s.setSession(request, reply, session);
        return { user: await profileOf(userId) };
      },
    }),
    defineRoute({
      method: 'GET', path: '/auth/verify-email', tag: TAG, access: 'public',
      summary: 'Verify an email address (the link in the verification mail)',
      query: z.strictObject({ token }),
      response: z.strictObject({ email_verified: z.literal(true) }),
      errors: ['invalid_token'],
      handler: async ({ query }) => {
        await s.accounts.verifyEmail(query.token);
        return { email_verified: true as const };
      },
    }),
    defineRoute({
      method: 'POST', path: '/auth/verify-email', tag: TAG, access: 'public',
      summary: 'Verify an email address with the token from the mail',
      body: z.strictObject({ token }),
      response: z.strictObject({ email_verified: z.literal(true) }),
      errors: ['invalid_token'],
      handler: async ({ body }) => {
        await s.accounts.verifyEmail(body.token);
        return { email_verified: true as const };
      },
    }),
    defineRoute({
      method: 'POST', path: '/auth/verify-email/resend', tag: TAG, access: 'session', status: 202,
      summary: 'Send a new verification mail',
      response: z.strictObject({ sent: z.literal(true) }),
      errors: ['conflict', 'rate_limit_exceeded'],
      handler: async ({ session }) => {
        await s.accounts.resendVerification(session.userId);
        return { sent: true as const };
      },
    }),
    defineRoute({
      method: 'POST', path: '/auth/login', tag: TAG, access: 'public',
      summary: 'Sign in: sets a new session cookie',
      description: 'Any session the client already had ends: a login always gets a fresh session id. Throttled per account and per client IP (429 with Retry-After).',
      body: z.strictObject({ email, password }),
      response: z.strictObject({ user: ProfileView }),
      errors: ['invalid_credentials', 'rate_limit_exceeded'],
      handler: async ({ request, reply, body }) => {
        const { userId, session } = await s.accounts.login({
          email: body.email, password: body.password, ip: request.ip, presentedSession: request.cookies[SESSION_COOKIE],
        });
        s.setSession(request, reply, session);
        return { user: await profileOf(userId) };
      },
    }),
    defineRoute({
      method: 'POST', path: '/auth/logout', tag: TAG, access: 'session', status: 204,
      summary: 'Sign out: ends this session',
      response: null,
      handler: async ({ reply, session }) => {
        await s.accounts.logout(session);
        s.clearSession(reply);
      },
    }),
    defineRoute({
      method: 'POST', path: '/auth/password-reset', tag: TAG, access: 'public', status: 202,
      summary: 'Mail a password-reset link',
      description: 'Always 202, whether or not the address has an account. Throttled per address and per client IP.',
      body: z.strictObject({ email }),
      response: z.strictObject({ accepted: z.literal(true) }),
      errors: ['rate_limit_exceeded'],
      handler: async ({ request, body }) => {
        await s.accounts.requestPasswordReset({ email: body.email, ip: request.ip });
        return { accepted: true as const };
      },
    }),
    defineRoute({
      method: 'GET', path: '/auth/password-reset', tag: TAG, access: 'public',
      summary: 'Check a password-reset link (the link in the mail) without using it up',
      query: z.strictObject({ token }),
      response: z.strictObject({ valid: z.literal(true), expires_at: instant }),
      errors: ['invalid_token'],
      handler: async ({ query }) => ({ valid: true as const, expires_at: (await s.accounts.checkResetToken(query.token)).toISOString() }),
    }),
    defineRoute({
      method: 'POST', path: '/auth/password-reset/confirm', tag: TAG, access: 'public',
      summary: 'Set a new password with the token from the mail',
      description: 'Ends every session of the account; sign in again with the new password. Also counts as email verification.',
      body: z.strictObject({ token, password }),
      response: z.strictObject({ password_reset: z.literal(true) }),
      errors: ['invalid_token'],
      handler: async ({ body }) => {
        await s.accounts.confirmPasswordReset({ token: body.token, password: body.password });
        return { password_reset: true as const };
      },
    }),
  ];
}
