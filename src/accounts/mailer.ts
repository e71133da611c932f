// Outgoing mail (verification, password reset, account notices). Never on the request path: `send` queues and
// returns at once; a bounded number of mails are in flight, each with connect/greeting/socket timeouts and an
// overall deadline. Failures are logged with the mail's kind and an error code only: never an address, a
// subject's details or a link.
//
// With SMTP_URL: nodemailer's pooled SMTP transport. Without: the embedded default works offline, each mail is
// written as one .eml file (mode 0600) to the outbox directory and its links are logged, so whoever runs the
// gateway can follow them. That log line is the one place a link (and so a one-time token) is logged; with
// SMTP configured none is (docs/decisions/0011).
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';

export type MailKind = 'verify_email' | 'reset_password' | 'password_changed' | 'account_closed' | 'notification';

export interface OutgoingMail {
  kind: MailKind;
  to: string;
  subject: string;
  text: string;
  /** The links inside `text` (logged in outbox mode only). */
  links: readonly string[];
}

export interface MailerOptions {
  smtpUrl: string | undefined;
  from: string;
  outboxDir: string;
  logger: Logger;
  /** Overall deadline of one delivery. Default 20 s. */
  timeoutMs?: number;
  /** Deliveries in flight at once. Default 4. */
  concurrency?: number;
  /** Mails waiting beyond this are dropped (with a warning). Default 1000. */
  maxQueue?: number;
}

interface Deliverer {
  deliver(mail: OutgoingMail): Promise<void>;
  /** Ends open connections (an SMTP delivery still running fails at once). */
  close(): void;
}

function smtpDeliverer(url: string, from: string, timeoutMs: number): Deliverer {
  const transport = nodemailer.createTransport({
    url,
    pool: true,
    maxConnections: 2,
    connectionTimeout: Math.min(5_000, timeoutMs),
    greetingTimeout: Math.min(5_000, timeoutMs),
    socketTimeout: timeoutMs,
    dnsTimeout: Math.min(5_000, timeoutMs),
    logger: false,
    debug: false,
  });
  return {
    async deliver(mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
    },
    close: () => transport.close(),
  };
}

function outboxDeliverer(dir: string, from: string, logger: Logger): Deliverer {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  let ready: Promise<unknown> | undefined;
  return {
    async deliver(mail) {
      ready ??= mkdir(dir, { recursive: true, mode: 0o700 });
      await ready;
      const info = await composer.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
      const file = join(dir, `${new Date().toISOString().replaceAll(':', '-')}-${mail.kind}-${randomBytes(4).toString('hex')}.eml`);
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      // Offline mode: the operator follows these by hand. Links only: never the address or a password.
      logger.info({ mail: mail.kind, file, links: mail.links }, 'mail written to the outbox (no SMTP_URL)');
    },
    close: () => composer.close(),
  };
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, responseCode } = error as { code?: unknown; responseCode?: unknown };
    if (typeof code === 'string') return typeof responseCode === 'number' ? `${code} ${responseCode}` : code;
    if (error instanceof Error) return error.name;
  }
  return 'unknown';
}

export class Mailer {
  readonly mode: 'smtp' | 'outbox';
  private readonly deliverer: Deliverer;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly maxQueue: number;
  private readonly queue: Array<{ mail: OutgoingMail; onResult: ((delivered: boolean) => void) | undefined }> = [];
  private readonly inFlight = new Set<Promise<void>>();
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(options: MailerOptions) {
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? 20_000;
    this.concurrency = options.concurrency ?? 4;
    this.maxQueue = options.maxQueue ?? 1000;
    this.mode = options.smtpUrl ? 'smtp' : 'outbox';
    this.deliverer = options.smtpUrl
      ? smtpDeliverer(options.smtpUrl, options.from, this.timeoutMs)
      : outboxDeliverer(options.outboxDir, options.from, options.logger);
  }

  /**
   * Queues a mail; never throws, never waits for delivery. `onResult`, when given, learns once whether the mail
   * was delivered (false: dropped, refused or timed out), for a caller that tries again (notification-mail.ts).
   */
  send(mail: OutgoingMail, onResult?: (delivered: boolean) => void): void {
    if (this.closed) {
      this.logger.warn({ mail: mail.kind }, 'mail dropped: the mailer is closed');
      onResult?.(false);
      return;
    }
    if (this.queue.length >= this.maxQueue) {
      this.logger.warn({ mail: mail.kind, queued: this.queue.length }, 'mail dropped: the mail queue is full');
      onResult?.(false);
      return;
    }
    this.queue.push({ mail, onResult });
    this.pump();
  }

  /** Mails queued or being delivered. */
  pending(): number {
    return this.queue.length + this.inFlight.size;
  }

  /** Resolves once nothing is queued or in flight (tests; shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Lets queued mails go out for up to `graceMs`, then stops. */
  async close(graceMs = 5_000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    if (this.queue.length > 0) this.logger.warn({ dropped: this.queue.length }, 'mails not sent before shutdown');
    for (const { onResult } of this.queue.splice(0)) onResult?.(false);
    this.deliverer.close();
  }

  private pump(): void {
    while (this.inFlight.size < this.concurrency && this.queue.length > 0) {
      const next = this.queue.shift();
      if (!next) break;
      const job = this.deliverOne(next.mail).then((delivered) => {
        try {
          next.onResult?.(delivered);
        } catch (error) {
          this.logger.warn({ mail: next.mail.kind, err: errorCode(error) }, 'mail result handler failed');
        }
      }).finally(() => {
        this.inFlight.delete(job);
        this.pump();
        if (this.queue.length === 0 && this.inFlight.size === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const resolve of waiters) resolve();
        }
      });
      this.inFlight.add(job);
    }
  }

  /** True when delivered; a failure is logged (without the address) and returns false. */
  private async deliverOne(mail: OutgoingMail): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('mail delivery timed out'), { code: 'ETIMEDOUT' })), this.timeoutMs);
    });
    try {
      await Promise.race([this.deliverer.deliver(mail), deadline]);
      if (this.mode === 'smtp') this.logger.debug({ mail: mail.kind }, 'mail sent');
      return true;
    } catch (error) {
      this.logger.warn({ mail: mail.kind, err: errorCode(error) }, 'mail delivery failed');
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
