// Mails the notifications users get in the console (price changes and their cancellations, billing/prices.ts).
// Every replica runs one: each round claims notifications not yet mailed (NotificationsRepo.claimForMail: one
// conditional update per notification, so each is mailed by exactly one replica) and queues their mails. It claims
// only what the mailer has room for, so a notice to many users drains over several rounds instead of overflowing
// the mail queue. A mail the SMTP server refuses (or that times out, or is still queued at shutdown) gives its
// claim back to be tried again later — after 1, 2, 4 … 64 minutes, 8 attempts in all (about two hours) — by
// whichever replica claims it then; after the last attempt it is given up and logged (without the address). The
// notification itself stays in the console either way. A mail the server took but whose answer was lost is sent
// again: delivery is at least once while the attempts last.
import type { Logger } from 'pino';
import type { Store } from '../storage/types.ts';
import { notificationMail } from './mail-templates.ts';
import type { Mailer } from './mailer.ts';

/** Mails queued at most at once by this dispatcher (the mailer drops beyond its own queue limit). */
const ROOM = 200;
/** Failed deliveries before a notification mail is given up, and the first wait before trying again. */
export const MAIL_ATTEMPTS = 8;
const FIRST_RETRY_MS = 60_000;

export class NotificationMailer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly retries = new Set<Promise<void>>();

  constructor(
    private readonly store: Pick<Store, 'notifications'>,
    private readonly mailer: Pick<Mailer, 'send' | 'pending'>,
    private readonly logger: Logger,
    private readonly intervalMs = 15_000,
    /** The wait before the first retry; each further one doubles it. */
    private readonly firstRetryMs = FIRST_RETRY_MS,
  ) {}

  /** One round: claims what the mailer has room for and queues it; returns how many mails were queued. */
  async runOnce(now = new Date()): Promise<number> {
    const room = ROOM - this.mailer.pending();
    if (room <= 0) return 0;
    const claimed = await this.store.notifications.claimForMail(now, room);
    for (const n of claimed) {
      this.mailer.send(notificationMail(n.email, n.subject, n.body), (delivered) => {
        if (!delivered) this.track(this.giveBack(n.id, n.kind));
      });
    }
    return claimed.length;
  }

  /** Resolves once every failed mail's claim has been given back (tests; shutdown, after the mailer closed). */
  async flush(): Promise<void> {
    while (this.retries.size > 0) await Promise.all([...this.retries]);
  }

  private track(job: Promise<void>): void {
    this.retries.add(job);
    void job.finally(() => this.retries.delete(job));
  }

  private async giveBack(id: string, kind: string): Promise<void> {
    try {
      const at = (attempts: number): Date => new Date(Date.now() + this.firstRetryMs * 2 ** (attempts - 1));
      const result = await this.store.notifications.retryMail(id, at, MAIL_ATTEMPTS);
      if (result && !result.retry) this.logger.warn({ notification: id, kind, attempts: result.attempts }, 'notification mail given up');
      else if (result) this.logger.info({ notification: id, kind, attempts: result.attempts }, 'notification mail failed: it will be tried again');
    } catch (error) {
      this.logger.warn({ notification: id, err: (error as Error).message }, 'notification mail failed and could not be given back');
    }
  }

  start(): void {
    const tick = (): void => {
      this.running = this.runOnce()
        .then((sent) => {
          if (sent > 0) this.logger.info({ mails: sent }, 'notification mails queued');
        })
        .catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, 'notification mails: a round failed'))
        .finally(() => {
          this.running = undefined;
        });
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
