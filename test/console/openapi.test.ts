// The OpenAPI 3.1 description the gateway serves at /console/v1/openapi.json is the contract: it documents
// exactly the registered routes, and every answer of a full console session — successes and errors — matches
// the schema it documents for that method, path and status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRoutesOf } from '../../src/http/routes/console/index.ts';
import { CheckedConsoleClient, ContractChecker, type ConsoleOpenApi } from '../helpers/console-openapi.ts';
import { PASSWORD, startTestSmtp, uniqueEmail, type TestSmtp } from '../helpers/console.ts';
import { defaultYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

let t: TestGateway;
let smtp: TestSmtp;
let doc: ConsoleOpenApi;

beforeAll(async () => {
  smtp = await startTestSmtp();
  t = await startTestGateway({
    env: { SMTP_URL: smtp.url },
    yaml: (u) => `${defaultYaml(u)}\naccounts:\n  throttle: { reset_requests_per_account: 2 }  # the verification resend counts too\n`,
  });
  doc = (await (await fetch(`${t.url}/console/v1/openapi.json`)).json()) as ConsoleOpenApi;
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

const tokenFrom = (link: string | undefined): string => new URL(link ?? 'http://x').searchParams.get('token') ?? '';

describe('the console OpenAPI description', () => {
  it('is OpenAPI 3.1 and documents exactly the registered routes', () => {
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} /console/v1${path}`));
    const registered = consoleRoutesOf(t.gateway.app)
      .filter((r) => r.url !== '/console/v1/openapi.json')
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(documented.sort()).toEqual(registered.sort());
  });

  it('matches every answer of a whole console session, successes and errors', async () => {
    const checker = new ContractChecker(doc);
    const c = new CheckedConsoleClient(t.url, checker);
    const email = uniqueEmail();

    // Errors first: validation, no session, bad CSRF, unknown token, wrong password.
    await c.post('/auth/signup', { email: 'nope', password: PASSWORD });
    await c.get('/profile');
    await c.request('POST', '/auth/login', { email, password: PASSWORD }, { 'x-csrf-token': 'forged' });
    await c.get('/auth/verify-email?token=unknown');
    await c.post('/auth/login', { email, password: 'wrong password' });

    // A whole life: sign-up, verification, keys, usage, billing, notifications, password, reset, close.
    const signup = await c.post('/auth/signup', { email, password: PASSWORD });
    const userId = String((signup.json.user as { id: string }).id);
    await c.post('/auth/signup', { email, password: PASSWORD }); // 409
    await c.post('/keys', { name: 'too early' }); // 403 email_not_verified
    const resent = await c.post('/auth/verify-email/resend');
    expect(resent.json).toEqual({ sent: true });
    await smtp.waitFor(() => smtp.mails.filter((m) => m.to.includes(email)).length === 2);
    const [first, second] = smtp.mails.filter((m) => m.to.includes(email)).map((m) => tokenFrom(m.links[0]));
    await c.get(`/auth/verify-email?token=${first ?? ''}`);
    await c.post('/auth/verify-email', { token: second });
    await c.post('/auth/verify-email', { token: second }); // 400: used
    await c.post('/auth/verify-email/resend'); // 409: already verified
    await c.get('/profile');

    await t.admin('POST', `/users/${userId}/credits`, { credits: '5', reason: 'test' });
    const key = await c.post('/keys', { name: 'k', allowed_models: ['gpt-4o-mini'], expires_at: new Date(Date.now() + 86_400_000).toISOString() });
    await t.client(String(key.json.key)).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
    await c.get('/keys');
    const rotated = await c.post(`/keys/${String(key.json.id)}/rotate`, { overlap_seconds: 60 });
    await c.post(`/keys/${String(key.json.id)}/rotate`, { overlap_seconds: -1 }); // 400
    await c.del(`/keys/${String(rotated.json.id)}`);
    await c.post(`/keys/${String(rotated.json.id)}/rotate`); // 409: revoked
    await c.del('/keys/key_unknown'); // 404
    const usage = await c.get('/usage?limit=1');
    await c.get(`/usage?limit=1&cursor=${String(usage.json.next_cursor ?? '')}`);
    await c.get('/usage/summary');
    await c.get('/usage/summary?from=2020-01-01&to=2030-01-01'); // 400: too long
    await c.get('/balance');
    const ledger = await c.get('/ledger?limit=2');
    await c.get(`/ledger?limit=2&cursor=${String(ledger.json.next_cursor)}`);
    await t.gateway.deps.store.notifications.create([{ userId, kind: 'price_change', subject: 's', body: 'b', data: { model: 'gpt-4o-mini' } }]);
    const notes = await c.get('/notifications');
    await c.post(`/notifications/${String((notes.json.data as Array<{ id: string }>)[0]?.id)}/read`);
    await c.post('/notifications/ntf_unknown/read'); // 404

    await c.post('/profile/password', { current_password: 'not it at all', new_password: 'another long password' }); // 401
    await c.post('/profile/password', { current_password: PASSWORD, new_password: 'another long password' });
    await c.post('/auth/logout');
    await c.post('/auth/password-reset', { email });
    await c.post('/auth/password-reset', { email }); // 429: two per hour here, the resend was one
    const resetLink = (await smtp.waitFor((m) => m.to.includes(email) && m.subject.includes('Reset'))).links[0];
    await c.get(`/auth/password-reset?token=${tokenFrom(resetLink)}`);
    await c.post('/auth/password-reset/confirm', { token: tokenFrom(resetLink), password: PASSWORD });
    await c.post('/auth/login', { email, password: PASSWORD });
    await c.post('/profile/close', { password: PASSWORD });
    await c.get('/auth/csrf');

    expect(checker.problems).toEqual([]);
    // Every operation's documented success answer was seen and checked.
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const success = Object.keys(op.responses).find((s) => s.startsWith('2'));
        expect(checker.seen.has(`${method.toUpperCase()} ${path} ${success}`), `${method} ${path} ${success}`).toBe(true);
      }
    }
    // The checker itself catches a field the description does not have, and a wrong type.
    const strict = new ContractChecker(doc);
    strict.check('GET', '/balance', { status: 200, json: { balance_credits: '1', extra: true }, headers: new Headers() });
    strict.check('GET', '/keys', { status: 200, json: { object: 'list', data: [{ id: 1 }], next_cursor: null }, headers: new Headers() });
    expect(strict.problems).toHaveLength(2);
    for (const status of [400, 401, 403, 404, 409, 429]) {
      expect([...checker.seen].some((s) => s.endsWith(` ${status}`)), `an error ${status} was checked`).toBe(true);
    }
  });
});
