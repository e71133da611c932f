// Mails the notifications users get in the console (price changes and their cancellations, billing/prices.ts).
// Every replica runs one: each round claims notifications not yet mailed (NotificationsRepo.claimForMail: one
// conditional update per notification, so each is mailed by exactly one replica) and queues their mails. It claims
// only what the mailer has room for, so a notice to many users drains over several rounds instead of overflowing
// the mail queue. Delivery is at most once: a mail the SMTP server refuses is logged (without its address) and
// not retried; the notification itself stays in the console.
import type { Logger } from 'pino';
import type { Store } from '../storage/types.ts';
import { notificationMail } from './mail-templates.ts';
import type { Mailer } from './mailer.ts';

/** Mails queued at most at once by this dispatcher (the mailer drops beyond its own queue limit). */
const ROOM = 200;

export class NotificationMailer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: Pick<Store, 'notifications'>,
    private readonly mailer: Pick<Mailer, 'send' | 'pending'>,
    private readonly logger: Logger,
    private readonly intervalMs = 15_000,
  ) {}

  /** One round: claims what the mailer has room for and queues it; returns how many mails were queued. */
  async runOnce(now = new Date()): Promise<number> {
    const room = ROOM - this.mailer.pending();
    if (room <= 0) return 0;
    const claimed = await this.store.notifications.claimForMail(now, room);
    for (const n of claimed) this.mailer.send(notificationMail(n.email, n.subject, n.body));
    return claimed.length;
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
