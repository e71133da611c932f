// Group commit for the SQLite hot path. Holds and settles that arrive in the same event-loop turn are
// committed in ONE write transaction, each inside its own SAVEPOINT (better-sqlite3 nests transaction
// functions as savepoints), so every operation keeps its own atomicity — the conditional debit is still
// one statement evaluated in order — while the commit (the WAL append, the write lock) is paid once per
// batch instead of once per request. A caller's promise resolves only after the batch has committed.
import type BetterSqlite3 from 'better-sqlite3';

interface Pending {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly commitBatch: BetterSqlite3.Transaction<(batch: Pending[]) => Outcome[]>;

  constructor(db: BetterSqlite3.Database, private readonly maxBatch = 512) {
    this.commitBatch = db.transaction((batch: Pending[]): Outcome[] =>
      batch.map((item) => {
        try {
          return { ok: true, value: item.run() };
        } catch (error) {
          // The operation's own savepoint was rolled back; the rest of the batch commits.
          return { ok: false, error };
        }
      }),
    );
  }

  /** `run` must be a better-sqlite3 transaction function (it becomes a savepoint inside the batch). */
  submit<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.commitBatch.immediate(batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => {
      const item = batch[i];
      if (!item) return;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  }
}
