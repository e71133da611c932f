// Releases holds whose request died with its process (ARCHITECTURE §4): a hold carries an expiry, and every
// replica runs this sweeper. It is safe everywhere at once: each hold is finished by one conditional statement
// (`… WHERE status = 'held'`), so two sweepers, or a sweeper and the request's own late settle, can never both
// release it (storage/ledger.ts). A sweep runs at start-up (a replacement process frees its predecessor's holds
// as soon as they expire) and then every interval; it never overlaps itself, and drains a backlog in batches.
import type { Logger } from 'pino';
import type { HoldSweepConfig } from '../config/index.ts';
import type { LedgerRepo } from '../storage/types.ts';

/** A tick releases at most this many batches, so one sweep never holds the database for long. */
const MAX_BATCHES_PER_TICK = 20;

export class HoldSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly ledger: Pick<LedgerRepo, 'releaseExpired'>,
    private readonly config: Readonly<HoldSweepConfig>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.config.intervalMs);
    this.timer.unref();
  }

  /** One sweep now (or the one already running): the number of holds it released. */
  async sweep(): Promise<number> {
    let released = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_TICK && !this.stopped; batch++) {
      const n = await this.ledger.releaseExpired(new Date(), this.config.batch);
      released += n;
      if (n < this.config.batch) break;
      // Let requests through between batches (on SQLite a batch runs on the event loop).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return released;
  }

  private tick(): Promise<void> {
    this.running ??= this.sweep()
      .then((released) => {
        if (released > 0) this.logger.info({ released }, 'released expired holds');
      })
      .catch((error: unknown) => this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'hold sweep failed'))
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
