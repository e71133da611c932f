// Price-change notices are mailed (issue 5 item 4: "email delivery comes with accounts"): a scheduled change and
// its cancellation reach each recent user of the model by mail, through a real SMTP server, exactly once — also
// with two gateways on one database claiming at the same time — and a closed account gets none.
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationMailer } from '../src/accounts/notification-mail.ts';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mailer } from '../src/accounts/mailer.ts';
import { createLogger } from '../src/observability/logger.ts';
import { storeBackends } from './helpers/stores.ts';
import { defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { startTestSmtp, type TestSmtp } from './helpers/console.ts';

const DAY = 86_400_000;

describe('price-change mails through SMTP', () => {
  let t: TestGateway;
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startTestSmtp();
    t = await startTestGateway({
      env: { SMTP_URL: smtp.url },
      yaml: (u) => `${defaultYaml(u)}\naccounts: { notification_mail_interval_ms: 200 }\n`,
    });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it('a scheduled change and its cancellation are mailed to the recent users of the model, once each', async () => {
    const user = await t.newUser('10');
    const bystander = await t.newUser('10');
    const client = (key: string): OpenAI => t.client(key);
    await client(user.key).chat.completions.create({ model: 'renamed-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    await client(bystander.key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    const email = String((await t.admin('GET', `/users/${user.userId}`)).json.email);
    const otherEmail = String((await t.admin('GET', `/users/${bystander.userId}`)).json.email);

    const when = new Date(Date.now() + 15 * DAY).toISOString();
    const scheduled = await t.admin('POST', '/models/renamed-model/prices', { input_per_mtok_usd: 3, output_per_mtok_usd: 12, effective_from: when });
    expect(scheduled.status).toBe(201);
    const mail = await smtp.waitFor((m) => m.to.includes(email) && m.subject.startsWith('Price change for renamed-model'));
    expect(mail.text).toContain('input 2500 → 3000 credits per million tokens');
    expect(mail.text).toContain(when);

    const cancelled = await t.admin('DELETE', `/models/renamed-model/prices/${String(scheduled.json.version)}`, { reason: 'kept' });
    expect(cancelled.status).toBe(200);
    const notice = await smtp.waitFor((m) => m.to.includes(email) && m.subject.includes('cancelled'));
    expect(notice.text).toContain('will not happen');

    // Several more mailer rounds: nothing is mailed twice, and the bystander got nothing.
    await new Promise((r) => setTimeout(r, 800));
    expect(smtp.mails.filter((m) => m.to.includes(email))).toHaveLength(2);
    expect(smtp.mails.filter((m) => m.to.includes(otherEmail))).toHaveLength(0);
    // The notices are still in the console.
    const notes = await t.gateway.deps.store.notifications.list(user.userId, { limit: 10 });
    expect(notes.map((n) => n.kind).sort()).toEqual(['price_change', 'price_change_cancelled']);
  });
});

describe.each(storeBackends())('claiming notifications for mail on $name', (backend) => {
  it('two dispatchers claiming at once mail each notification once; a closed account gets none', async () => {
    const { store } = await backend.openRaw();
    try {
      const users = await Promise.all(Array.from({ length: 30 }, (_, i) => store.users.create(`mail${i}-${Date.now()}@example.test`)));
      await store.notifications.create(users.map((u) => ({ userId: u.id, kind: 'price_change', subject: 'S', body: 'B', data: null, dedupeKey: 'k1' })));
      const closed = users[0];
      if (!closed) throw new Error('no user');
      expect(await store.accounts.close({ userId: closed.id, emailHmac: `hmac-${closed.id}`, actor: 'test', reason: 'test' })).toBeDefined();
      // Real mailers in outbox mode: each delivered mail is an .eml file in the dispatchers' shared outbox.
      const outbox = mkdtempSync(join(tmpdir(), 'switchyard-outbox-'));
      const logger = createLogger('silent');
      const mailer = new Mailer({ smtpUrl: undefined, from: 'Switchyard <noreply@example.test>', outboxDir: outbox, logger });
      const a = new NotificationMailer(store, mailer, logger);
      const b = new NotificationMailer(store, mailer, logger);
      const counts = await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
      await mailer.idle();
      const mails = readdirSync(outbox).map((f) => readFileSync(join(outbox, f), 'utf8'));
      const recipients = mails.map((m) => /^To: (.+)$/m.exec(m)?.[1] ?? '').sort();
      expect(new Set(recipients).size).toBe(recipients.length);
      expect(counts.reduce((x, y) => x + y, 0)).toBe(mails.length);
      expect(mails).toHaveLength(29);
      expect(recipients).not.toContain(closed.email);
      expect(await a.runOnce()).toBe(0);
      expect(mails.every((m) => /^Subject: S$/m.test(m) && m.includes('B\n'))).toBe(true);
      await mailer.close();
      rmSync(outbox, { recursive: true, force: true });
    } finally {
      await store.close();
    }
  });
});

describe('a notification mail the SMTP server refuses is tried again', () => {
  it('refused once (451): given back, not claimed before its retry time, then delivered once', async () => {
    const smtp = await startTestSmtp({ refuseFirst: 1 });
    const [backend] = storeBackends();
    if (!backend) throw new Error('no store backend');
    const store = await backend.open();
    const logger = createLogger('silent');
    const mailer = new Mailer({ smtpUrl: smtp.url, from: 'Switchyard <noreply@example.test>', outboxDir: tmpdir(), logger });
    try {
      const user = await store.users.create(`retry-${Date.now()}@example.test`);
      await store.notifications.create([{ userId: user.id, kind: 'price_change', subject: 'Price change', body: 'Body', data: null, dedupeKey: 'r1' }]);
      const dispatcher = new NotificationMailer(store, mailer, logger, 15_000, 300);

      expect(await dispatcher.runOnce()).toBe(1);
      await mailer.idle();
      await dispatcher.flush();
      expect(smtp.mails).toHaveLength(0); // refused
      expect(await dispatcher.runOnce()).toBe(0); // waiting for its retry time
      await new Promise((r) => setTimeout(r, 350));
      expect(await dispatcher.runOnce()).toBe(1);
      const mail = await smtp.waitFor((m) => m.to.includes(user.email));
      expect(mail.subject).toBe('Price change');
      await mailer.idle();
      await dispatcher.flush();
      expect(await dispatcher.runOnce(new Date(Date.now() + 86_400_000))).toBe(0); // delivered: never again
      expect(smtp.mails).toHaveLength(1);
    } finally {
      await mailer.close();
      await store.close();
      await smtp.close();
    }
  });
});

describe.each(storeBackends())('giving back a failed mail on $name', (backend) => {
  it('each failure waits longer; the last attempt gives it up; a notification not claimed is left alone', async () => {
    const store = await backend.open();
    try {
      const user = await store.users.create(`giveup-${Date.now()}@example.test`);
      await store.notifications.create([{ userId: user.id, kind: 'price_change', subject: 'S', body: 'B', data: null, dedupeKey: 'g1' }]);
      let now = Date.now();
      const [claimed] = await store.notifications.claimForMail(new Date(now), 10);
      if (!claimed) throw new Error('nothing claimed');
      const waits: number[] = [];
      const at = (attempts: number): Date => new Date(now + 1_000 * 2 ** (attempts - 1));
      for (let attempt = 1; attempt <= 3; attempt++) {
        const result = await store.notifications.retryMail(claimed.id, at, 3);
        expect(result).toEqual({ attempts: attempt, retry: attempt < 3 });
        if (attempt === 3) break;
        // Not before its time (the wait doubles), then claimed again.
        const wait = 1_000 * 2 ** (attempt - 1);
        waits.push(wait);
        expect(await store.notifications.claimForMail(new Date(now + wait - 1), 10)).toHaveLength(0);
        expect(await store.notifications.retryMail(claimed.id, at, 3)).toBeNull(); // given back already: no-op
        now += wait;
        expect((await store.notifications.claimForMail(new Date(now), 10)).map((n) => n.id)).toEqual([claimed.id]);
      }
      expect(waits).toEqual([1_000, 2_000]);
      // Given up: never claimed again.
      expect(await store.notifications.claimForMail(new Date(now + 86_400_000), 10)).toHaveLength(0);
    } finally {
      await store.close();
    }
  });
});
