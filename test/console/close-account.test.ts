// Closing an account from the console: the password is required; then every key dies at once, the balance is
// forfeited by an adjustment entry, the address is replaced by its HMAC, sessions end, and a confirmation is
// mailed to the address before it is erased. The same address can sign up again and is recognised.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { emailHmac } from '../../src/accounts/email.ts';
import { CLOSE_REASON } from '../../src/accounts/service.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { ConsoleClient, consoleUser, PASSWORD, startTestSmtp, type TestSmtp } from '../helpers/console.ts';

let t: TestGateway;
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startTestSmtp();
  t = await startTestGateway({ env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('closing an account', () => {
  it('needs the password, then revokes keys, forfeits credits, erases the address and ends sessions', async () => {
    const { c, email, userId } = await consoleUser(t);
    await t.admin('POST', `/users/${userId}/credits`, { credits: '25', reason: 'bought' });
    const key = String((await c.post('/keys', { name: 'prod' })).json.key);
    const spare = String((await c.post('/keys', { name: 'spare' })).json.key);
    await t.client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
    const other = new ConsoleClient(t.url);
    await other.post('/auth/login', { email, password: PASSWORD });
    const balance = String((await c.get('/balance')).json.balance_credits);

    const wrong = await c.post('/profile/close', { password: 'not the password' });
    expect([wrong.status, (wrong.json.error as { code: string }).code]).toEqual([401, 'invalid_credentials']);
    expect((await t.client(key).models.list()).data.length).toBeGreaterThan(0); // nothing happened

    const closed = await c.post('/profile/close', { password: PASSWORD });
    expect(closed.status).toBe(200);
    expect(closed.json).toEqual({ closed: true, forfeited_credits: balance });
    expect(c.session()).toBeUndefined();

    for (const k of [key, spare]) {
      const error = await t.client(k).models.list().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    }
    expect((await other.get('/profile')).status).toBe(401);
    expect((await new ConsoleClient(t.url).post('/auth/login', { email, password: PASSWORD })).status).toBe(401);

    const mail = await smtp.waitFor((m) => m.to.includes(email) && m.subject === 'Your account is closed');
    expect(mail.text).toContain(`${balance} credits was forfeited`);

    const store = t.gateway.deps.store;
    const account = await store.accounts.get(userId);
    expect(account?.user).toMatchObject({ status: 'closed', email: `closed:${userId}`, balance: 0n });
    expect(await store.accounts.closedWithEmailHmac(emailHmac(t.gateway.deps.config.secret, email))).toBe(1);
    const [last] = await store.ledger.entries(userId, { limit: 1 });
    expect(last).toMatchObject({ kind: 'adjustment', actor: `user:${userId}`, reason: CLOSE_REASON, balanceAfter: 0n });
    expect(-(last?.amount ?? 0n)).toBeGreaterThan(0n);
    expect(await store.ledger.sum(userId)).toBe(0n);
    // The operator sees a closed user that stays closed; usage and ledger stay, keyed by the user id only.
    expect((await t.admin('GET', `/users/${userId}`)).json).toMatchObject({ status: 'closed', email: `closed:${userId}` });
    await t.admin('PATCH', `/users/${userId}`, { status: 'active' });
    expect((await t.admin('GET', `/users/${userId}`)).json.status).toBe('closed');
    expect((await store.usage.page({ userId, limit: 10 })).length).toBe(1);
  });

  it('lets the same address sign up again as a new account and logs that it was closed before (no address logged)', async () => {
    const { c, email, userId } = await consoleUser(t, { verified: false });
    expect((await c.post('/profile/close', { password: PASSWORD })).json).toEqual({ closed: true, forfeited_credits: '0' });
    const again = new ConsoleClient(t.url);
    const res = await again.post('/auth/signup', { email, password: PASSWORD });
    expect(res.status).toBe(201);
    const newId = String((res.json.user as { id: string }).id);
    expect(newId).not.toBe(userId);
    const line = t.logs().split('\n').find((l) => l.includes(newId) && l.includes('account signed up'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({ userId: newId, previouslyClosed: 1 });
    expect(t.logs()).not.toContain(email);
  });
});

describe('the subscription hook', () => {
  it('is called before anything closes; when it fails the account stays open and usable', async () => {
    const calls: string[] = [];
    let fail = true;
    const hooked = await startTestGateway({
      subscriptions: {
        async cancelFor(userId) {
          calls.push(userId);
          if (fail) throw new Error('payment provider unreachable');
        },
      },
    });
    try {
      const { c, userId } = await consoleUser(hooked);
      const key = String((await c.post('/keys', { name: 'k' })).json.key);
      const failed = await c.post('/profile/close', { password: PASSWORD });
      expect(failed.status).toBe(500);
      expect(failed.json.error).toMatchObject({ type: 'server_error', code: 'internal_error' });
      expect(calls).toEqual([userId]);
      expect((await c.get('/profile')).json).toMatchObject({ id: userId, status: 'active' });
      expect((await hooked.client(key).models.list()).data.length).toBeGreaterThan(0);

      fail = false;
      expect((await c.post('/profile/close', { password: PASSWORD })).status).toBe(200);
      expect(calls).toEqual([userId, userId]);
    } finally {
      await hooked.close();
    }
  });
});
