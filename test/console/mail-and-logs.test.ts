// Mail without SMTP (the offline default: .eml files in the outbox, links logged), mail that cannot be
// delivered (never blocks a request, logged without content), and the logs of a whole account lifecycle:
// no password, token, session id, API key or address in them.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { ConsoleClient, PASSWORD, startTestSmtp, uniqueEmail, type TestSmtp } from '../helpers/console.ts';

describe('without SMTP: the outbox', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('writes each mail as an .eml file under ./data/outbox and logs its link, which verifies the address', async () => {
    const email = uniqueEmail();
    const c = new ConsoleClient(t.url);
    expect((await c.post('/auth/signup', { email, password: PASSWORD })).status).toBe(201);
    await t.gateway.deps.mailer.idle();
    const outbox = join(t.dataDir, 'outbox');
    const files = readdirSync(outbox).filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(1);
    const path = join(outbox, files[0] ?? '');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const mail = await simpleParser(readFileSync(path));
    expect(mail.subject).toBe('Confirm your email address');
    expect([mail.to].flat().flatMap((a) => a?.value.map((v) => v.address))).toEqual([email]);

    const line = t.logs().split('\n').find((l) => l.includes('mail written to the outbox'));
    const logged = JSON.parse(line ?? '{}') as { links?: string[]; file?: string };
    expect(logged.file).toBe(path);
    expect(logged.links).toHaveLength(1);
    const link = logged.links?.[0] ?? '';
    expect(mail.text).toContain(link); // the same link as in the mail
    expect(line).not.toContain(email);
    // The public URL defaults to http://HOST:PORT (127.0.0.1:8080); this test gateway listens elsewhere.
    expect(link.startsWith('http://127.0.0.1:8080/console/v1/auth/verify-email?token=')).toBe(true);
    const followed = await fetch(link.replace('http://127.0.0.1:8080', t.url));
    expect(await followed.json()).toEqual({ email_verified: true });
    expect(t.logs()).not.toContain(PASSWORD);
  });
});

describe('an SMTP server that never answers', () => {
  let t: TestGateway;
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startTestSmtp({ hang: true });
    t = await startTestGateway({
      env: { SMTP_URL: smtp.url },
      yaml: (u) => `${defaultYaml(u)}\naccounts: { mail_timeout_ms: 3000 }\n`,
    });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('does not hold up the sign-up, and the failure is logged with a code only', async () => {
    const email = uniqueEmail();
    const res = await new ConsoleClient(t.url).post('/auth/signup', { email, password: PASSWORD });
    expect(res.status).toBe(201);
    expect(t.gateway.deps.mailer.pending()).toBe(1); // the answer went out while the mail is still trying
    await t.gateway.deps.mailer.idle();
    const line = t.logs().split('\n').find((l) => l.includes('mail delivery failed')) ?? '';
    expect(JSON.parse(line)).toMatchObject({ level: 40, mail: 'verify_email', err: expect.stringMatching(/^E[A-Z]+/) });
    expect(line).not.toContain(email);
    expect(line).not.toContain('token');
  });
});

describe('logs of an account lifecycle', () => {
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

  it('contain no password, token, session id, CSRF token, API key or address', async () => {
    const email = uniqueEmail();
    const secrets: string[] = [PASSWORD, 'the second password!', 'wrong password guess', email];
    const c = new ConsoleClient(t.url);
    secrets.push(await c.refreshCsrf());
    await c.post('/auth/signup', { email, password: PASSWORD });
    secrets.push(c.session() ?? 'missing session');
    const verify = await smtp.waitFor((m) => m.to.includes(email));
    const verifyToken = new URL(verify.links[0] ?? '').searchParams.get('token') ?? 'missing';
    secrets.push(verifyToken);
    await fetch(verify.links[0]?.replace(/^https?:\/\/[^/]+/, t.url) ?? '');
    await c.post('/auth/login', { email, password: 'wrong password guess' });
    await c.post('/auth/login', { email, password: PASSWORD });
    secrets.push(c.session() ?? 'missing session');
    const created = await c.post('/keys', { name: 'k' });
    secrets.push(String(created.json.key));
    const rotated = await c.post(`/keys/${String(created.json.id)}/rotate`);
    secrets.push(String(rotated.json.key));
    await c.post('/auth/password-reset', { email });
    const reset = await smtp.waitFor((m) => m.to.includes(email) && m.subject.includes('Reset'));
    const resetToken = new URL(reset.links[0] ?? '').searchParams.get('token') ?? 'missing';
    secrets.push(resetToken);
    await c.post('/auth/password-reset/confirm', { token: resetToken, password: 'the second password!' });
    await c.post('/auth/login', { email, password: 'the second password!' });
    secrets.push(c.session() ?? 'missing session');
    await c.post('/profile/close', { password: 'the second password!' });
    await t.gateway.deps.mailer.idle();

    const logs = t.logs();
    expect(logs).toContain('account signed up'); // the capture works
    expect(logs).toContain('account closed');
    for (const secret of secrets) expect(logs.includes(secret), `logs contain ${secret.slice(0, 12)}…`).toBe(false);
  });
});
