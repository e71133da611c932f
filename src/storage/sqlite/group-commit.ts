// Group commit for the SQLite hot path. Holds and settles that arrive in the same event-loop turn are
// committed in ONE write transaction: each operation still runs its own statements in order, each hold checked
// against the balance the previous operations left (./ledger.ts keeps the batch's balances and writes each user's
// once, through the hooks), but the commit — the WAL append and the write lock — is paid once per batch instead
// of once per request.
// If any operation throws, the whole batch is rolled back and every operation is re-run alone in its own
// transaction, so one failure never affects another request. A promise resolves only after its commit.
import type BetterSqlite3 from 'better-sqlite3';

/** A commit this recent means the gateway is busy. */
const BUSY_WINDOW_MS = 2;
/** How long a busy gateway gathers operations into one commit (at most this much added latency). */
const GATHER_MS = 1;

interface Pending {
  /** The operation's statements without a transaction of their own (run inside the batch). */
  batched: () => unknown;
  /** The same operation in its own transaction (the fallback). */
  alone: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Run inside the batch transaction, before its first and after its last operation (./ledger.ts's balances). */
export interface BatchHooks {
  begin(): void;
  end(): void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private lastFlushAt = -Infinity;
  private readonly commitBatch: BetterSqlite3.Transaction<(batch: Pending[]) => unknown[]>;

  constructor(db: BetterSqlite3.Database, hooks: BatchHooks, private readonly maxBatch = 512) {
    this.commitBatch = db.transaction((batch: Pending[]): unknown[] => {
      hooks.begin();
      const results = batch.map((item) => item.batched());
      hooks.end();
      return results;
    });
  }

  submit<T>(batched: () => T, alone: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ batched, alone, resolve: resolve as (value: unknown) => void, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // Under load (the last commit was moments ago) wait a millisecond to gather a batch: one commit then
        // writes each shared page (the balance row, the ledger's last leaf, index leaves) once for many
        // requests. When idle, commit on the next turn of the event loop.
        if (performance.now() - this.lastFlushAt < BUSY_WINDOW_MS) setTimeout(() => this.flush(), GATHER_MS);
        else setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    this.lastFlushAt = performance.now();
    const batch = this.queue;
    this.queue = [];
    let results: unknown[] | undefined;
    try {
      results = this.commitBatch.immediate(batch);
    } catch {
      results = undefined; // rolled back as a whole: fall back to one transaction per operation
    }
    if (results) {
      batch.forEach((item, i) => item.resolve(results[i]));
      return;
    }
    for (const item of batch) {
      try {
        item.resolve(item.alone());
      } catch (error) {
        item.reject(error);
      }
    }
  }
}
