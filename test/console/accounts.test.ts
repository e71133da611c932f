// Self-service accounts end to end on a real gateway (SQLite file) with a real SMTP server: sign-up, the
// emailed verification link, login sessions, logout, password change and reset (following the emailed link).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSecret } from '../../src/accounts/secrets.ts';
import { defaultYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { ConsoleClient, PASSWORD, startTestSmtp, uniqueEmail, type ReceivedMail, type TestSmtp } from '../helpers/console.ts';

let t: TestGateway;
let smtp: TestSmtp;

beforeAll(async () => {
  smtp = await startTestSmtp();
  t = await startTestGateway({
    env: { SMTP_URL: smtp.url, MAIL_FROM: 'Switchyard <no-reply@switchyard.test>', SWITCHYARD_PUBLIC_URL: 'https://console.switchyard.test' },
  });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

const mailTo = (address: string, kind: string): Promise<ReceivedMail> =>
  smtp.waitFor((m) => m.to.includes(address) && m.subject.toLowerCase().includes(kind));

/** The emailed link, pointed at the test gateway instead of the public URL it names. */
function local(link: string): string {
  const url = new URL(link);
  expect(url.origin).toBe('https://console.switchyard.test');
  return `${t.url}${url.pathname}${url.search}`;
}

async function signup(email = uniqueEmail()): Promise<{ c: ConsoleClient; email: string; userId: string }> {
  const c = new ConsoleClient(t.url);
  const res = await c.post('/auth/signup', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  return { c, email, userId: String((res.json.user as { id: string }).id) };
}

describe('sign-up and email verification', () => {
  it('signs up, sets a session cookie, mails a verification link that works once, and only then allows keys', async () => {
    const email = uniqueEmail();
    const c = new ConsoleClient(t.url);
    const res = await c.post('/auth/signup', { email: `  ${email.toUpperCase()} `, password: PASSWORD });
    expect(res.status).toBe(201);
    expect(res.json.user).toMatchObject({ email, email_verified: false, status: 'active', balance_credits: '0' });
    const cookie = res.headers.getSetCookie().find((line) => line.startsWith('sy_session='));
    expect(cookie).toMatch(/; Path=\/console/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP, no trusted proxy

    // Signed in but unverified: may look, may not create keys.
    expect((await c.get('/profile')).json).toMatchObject({ email, email_verified: false });
    const refused = await c.post('/keys', { name: 'early' });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toMatchObject({ code: 'email_not_verified', type: 'permission_error' });

    const mail = await mailTo(email, 'confirm');
    expect(mail.from).toBe('no-reply@switchyard.test');
    expect(mail.links).toHaveLength(1);
    const link = local(mail.links[0] ?? '');
    const followed = await fetch(link);
    expect(followed.status).toBe(200);
    expect(await followed.json()).toEqual({ email_verified: true });
    const again = await fetch(link);
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('invalid_token');

    expect((await c.get('/profile')).json).toMatchObject({ email_verified: true });
    const created = await c.post('/keys', { name: 'laptop' });
    expect(created.status).toBe(201);
    expect(String(created.json.key)).toMatch(/^sk-sy-/);
  });

  it('refuses a taken address (409), a malformed address and a short password with OpenAI-style errors', async () => {
    const { email } = await signup();
    const c = new ConsoleClient(t.url);
    const taken = await c.post('/auth/signup', { email: email.toUpperCase(), password: PASSWORD });
    expect(taken.status).toBe(409);
    expect(taken.json.error).toMatchObject({ code: 'conflict', param: 'email' });
    const bad = await c.post('/auth/signup', { email: 'not-an-address', password: PASSWORD });
    expect([bad.status, (bad.json.error as { param: string }).param]).toEqual([400, 'email']);
    const short = await c.post('/auth/signup', { email: uniqueEmail(), password: 'short' });
    expect(short.status).toBe(400);
    expect(short.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param: 'password' });
    expect(String((short.json.error as { message: string }).message)).toContain('at least 10');
    const missing = await c.post('/auth/signup', { email: uniqueEmail() });
    expect([missing.status, (missing.json.error as { param: string }).param]).toEqual([400, 'password']);
  });

  it('resends the verification mail to a signed-in unverified user; the newest link works', async () => {
    const { c, email } = await signup();
    const resent = await c.post('/auth/verify-email/resend');
    expect(resent.status).toBe(202);
    await smtp.waitFor((m) => m.to.includes(email) && smtp.mails.filter((x) => x.to.includes(email)).length >= 2);
    const links = smtp.mails.filter((m) => m.to.includes(email)).map((m) => m.links[0] ?? '');
    expect(new Set(links).size).toBe(2);
    const token = new URL(links[1] ?? '').searchParams.get('token');
    const verified = await c.post('/auth/verify-email', { token });
    expect(verified.json).toEqual({ email_verified: true });
    expect((await c.post('/auth/verify-email/resend')).status).toBe(409);
  });
});

describe('login, sessions and logout', () => {
  it('logs in with a fresh session id each time; a wrong password and an unknown address get the same 401', async () => {
    const { email, c: first } = await signup();
    const c = new ConsoleClient(t.url);
    const wrong = await c.post('/auth/login', { email, password: 'wrong password!' });
    const unknown = await c.post('/auth/login', { email: uniqueEmail(), password: PASSWORD });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json).toEqual(unknown.json);
    expect(wrong.json.error).toMatchObject({ code: 'invalid_credentials', type: 'authentication_error' });

    const login = await c.post('/auth/login', { email: email.toUpperCase(), password: PASSWORD });
    expect(login.status).toBe(200);
    const before = c.session();
    expect(before).toBeDefined();
    // Logging in again from the same client rotates the id and ends the old session.
    await c.post('/auth/login', { email, password: PASSWORD });
    const after = c.session();
    expect(after).not.toBe(before);
    const stale = new ConsoleClient(t.url);
    stale.cookies.set('sy_session', before ?? '');
    expect((await stale.get('/profile')).status).toBe(401);
    // The sign-up session on another client is untouched by this client's logins.
    expect((await first.get('/profile')).status).toBe(200);
  });

  it('logs out: the session ends and its cookie is cleared', async () => {
    const { c } = await signup();
    const id = c.session();
    const out = await c.post('/auth/logout');
    expect(out.status).toBe(204);
    expect(c.session()).toBeUndefined();
    const replay = new ConsoleClient(t.url);
    replay.cookies.set('sy_session', id ?? '');
    const res = await replay.get('/profile');
    expect(res.status).toBe(401);
    expect(res.json.error).toMatchObject({ code: 'session_required', type: 'authentication_error' });
  });

  it('changes the password: the current one is required, every other session ends, this client gets a new one', async () => {
    const { c, email } = await signup();
    const other = new ConsoleClient(t.url);
    await other.post('/auth/login', { email, password: PASSWORD });
    const wrong = await c.post('/profile/password', { current_password: 'not my password', new_password: 'a brand new password' });
    expect([wrong.status, (wrong.json.error as { code: string }).code]).toEqual([401, 'invalid_credentials']);
    const old = c.session();
    const changed = await c.post('/profile/password', { current_password: PASSWORD, new_password: 'a brand new password' });
    expect(changed.status).toBe(200);
    expect(c.session()).not.toBe(old);
    expect((await c.get('/profile')).status).toBe(200);
    expect((await other.get('/profile')).status).toBe(401);
    expect((await new ConsoleClient(t.url).post('/auth/login', { email, password: PASSWORD })).status).toBe(401);
    expect((await new ConsoleClient(t.url).post('/auth/login', { email, password: 'a brand new password' })).status).toBe(200);
    await mailTo(email, 'password was changed');
  });
});

describe('password reset by emailed link', () => {
  it('mails a link that can be checked, then used once to set a password; every session ends', async () => {
    const { c, email } = await signup();
    const requester = new ConsoleClient(t.url);
    expect((await requester.post('/auth/password-reset', { email })).status).toBe(202);
    const mail = await mailTo(email, 'reset');
    const link = local(mail.links[0] ?? '');
    // Following the link only checks it (mail scanners open links): it still works afterwards.
    const checked = await fetch(link);
    expect(checked.status).toBe(200);
    expect(await checked.json()).toMatchObject({ valid: true });
    const token = new URL(link).searchParams.get('token');
    const weak = await requester.post('/auth/password-reset/confirm', { token, password: 'short' });
    expect(weak.status).toBe(400);
    const done = await requester.post('/auth/password-reset/confirm', { token, password: 'reset to something long' });
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ password_reset: true });
    const reused = await requester.post('/auth/password-reset/confirm', { token, password: 'and again something' });
    expect([reused.status, (reused.json.error as { code: string }).code]).toEqual([400, 'invalid_token']);
    expect((await fetch(link)).status).toBe(400);
    expect((await c.get('/profile')).status).toBe(401); // the old session ended
    expect((await requester.post('/auth/login', { email, password: 'reset to something long' })).status).toBe(200);
    expect((await requester.get('/profile')).json).toMatchObject({ email_verified: true }); // the mail was received
  });

  it('answers 202 for an unknown address and mails nothing', async () => {
    const nobody = uniqueEmail();
    const res = await new ConsoleClient(t.url).post('/auth/password-reset', { email: nobody });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await t.gateway.deps.mailer.idle();
    expect(smtp.mails.some((m) => m.to.includes(nobody))).toBe(false);
  });

  it('lets a user an admin created (no password yet) set one through the reset flow', async () => {
    const email = uniqueEmail();
    expect((await t.admin('POST', '/users', { email })).status).toBe(201);
    const c = new ConsoleClient(t.url);
    expect((await c.post('/auth/login', { email, password: PASSWORD })).status).toBe(401);
    await c.post('/auth/password-reset', { email });
    const token = new URL((await mailTo(email, 'reset')).links[0] ?? '').searchParams.get('token');
    expect((await c.post('/auth/password-reset/confirm', { token, password: PASSWORD })).status).toBe(200);
    expect((await c.post('/auth/login', { email, password: PASSWORD })).status).toBe(200);
  });
});

describe('CSRF and origin checks', () => {
  it('refuses a state-changing request without the token, with a token from another client, or from another origin', async () => {
    const { c } = await signup();
    const noToken = await fetch(`${t.url}/console/v1/auth/logout`, { method: 'POST', headers: { cookie: `sy_session=${c.session() ?? ''}` } });
    expect(noToken.status).toBe(403);
    expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe('csrf_failed');

    const stranger = new ConsoleClient(t.url);
    const foreignToken = await stranger.refreshCsrf();
    const mixed = await c.request('POST', '/keys', { name: 'x' }, { 'x-csrf-token': foreignToken });
    expect([mixed.status, (mixed.json.error as { code: string }).code]).toEqual([403, 'csrf_failed']);

    const crossOrigin = await c.request('POST', '/auth/logout', undefined, { origin: 'https://evil.example' });
    expect([crossOrigin.status, (crossOrigin.json.error as { code: string }).code]).toEqual([403, 'csrf_failed']);
    const crossSite = await c.request('POST', '/auth/logout', undefined, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect((await c.get('/profile')).status).toBe(200); // none of those logged out

    const sameOrigin = await c.request('POST', '/auth/logout', undefined, { origin: 'https://console.switchyard.test' });
    expect(sameOrigin.status).toBe(204);
  });
});

describe('Secure cookies behind a trusted proxy only', () => {
  it('marks cookies Secure for X-Forwarded-Proto: https when trust_proxy is set, and ignores the header otherwise', async () => {
    const proxied = await startTestGateway({ yaml: (u) => `${defaultYaml(u)}\naccounts: { trust_proxy: true }\n` });
    try {
      for (const [gateway, secure] of [[proxied, true], [t, false]] as const) {
        const res = await fetch(`${gateway.url}/console/v1/auth/csrf`, { headers: { 'x-forwarded-proto': 'https' } });
        const cookie = res.headers.getSetCookie().find((line) => line.startsWith('sy_csrf=')) ?? '';
        expect(cookie.includes('; Secure'), `trust_proxy ${String(secure)}`).toBe(secure);
      }
    } finally {
      await proxied.close();
    }
  });
});

describe('session lifetime', () => {
  const store = () => t.gateway.deps.store;

  async function planted(createdAgoMs: number, expiresInMs: number): Promise<{ c: ConsoleClient; hash: string }> {
    const { c, userId } = await signup();
    const { secret, hash } = newSecret();
    const now = Date.now();
    await store().sessions.create({ hash, userId, now: new Date(now - createdAgoMs), expiresAt: new Date(now + expiresInMs) });
    const other = new ConsoleClient(t.url);
    other.cookies.set('sy_session', secret);
    expect(c.session()).not.toBe(secret);
    return { c: other, hash };
  }

  it('ends a session past its absolute expiry and deletes it', async () => {
    const { c, hash } = await planted(60_000, -1);
    expect((await c.get('/profile')).status).toBe(401);
    expect(await store().sessions.find(hash)).toBeUndefined();
  });

  it('ends a session idle for longer than the idle limit (7 days by default)', async () => {
    const { c, hash } = await planted(8 * 86_400_000, 86_400_000);
    expect((await c.get('/profile')).status).toBe(401);
    expect(await store().sessions.find(hash)).toBeUndefined();
  });

  it('keeps an active session and records its use at most every few minutes', async () => {
    const { c, hash } = await planted(10 * 60_000, 86_400_000);
    expect((await c.get('/profile')).status).toBe(200);
    const seen = (await store().sessions.find(hash))?.lastSeenAt.getTime() ?? 0;
    expect(Date.now() - seen).toBeLessThan(60_000);
    expect((await c.get('/profile')).status).toBe(200);
    expect((await store().sessions.find(hash))?.lastSeenAt.getTime()).toBe(seen); // no write for a recent session
  });

  it('refuses a malformed or unknown session cookie', async () => {
    for (const value of ['x', 'A'.repeat(43), '../../etc']) {
      const c = new ConsoleClient(t.url);
      c.cookies.set('sy_session', value);
      expect((await c.get('/profile')).status).toBe(401);
    }
  });
});
