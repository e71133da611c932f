// Group commit for the PostgreSQL hot path (docs/decisions/0015-postgres-group-commit.md). Operations of one
// kind (holds, or settles) that arrive while a batch of that kind is in flight wait for it, then go together
// as ONE call (sy_hold_batch / sy_settle_batch, migration 0007): one round trip, one row lock and one balance
// update per user per batch instead of one per request. An operation that arrives while nothing is in flight
// goes at once, alone, as the single-request statement: an idle gateway pays no added latency, a busy one
// pays at most the batch ahead of it. If a batch fails (a concurrent duplicate request id, a deadlock, a
// timeout), nothing of it was written and every operation of it is re-run alone, so one bad item never fails
// another request — unless the database itself is unreachable (../availability.ts): then every operation of the
// batch fails at once, instead of each waiting out its own timeout again.

import type { BatchStats } from '../types.ts';
import { isUnavailable } from '../availability.ts';

interface Pending<In, Out> {
  input: In;
  resolve: (value: Out) => void;
  reject: (error: unknown) => void;
}

export class Batcher<In, Out> {
  readonly stats: BatchStats = { batches: 0, batchedOps: 0, single: 0, fallbacks: 0 };
  private queue: Array<Pending<In, Out>> = [];
  private running = false;

  constructor(
    /** One call for many inputs; resolves to one output per input, in order. */
    private readonly runBatch: (inputs: In[]) => Promise<Out[]>,
    /** The same operation alone (the idle path and the fallback). */
    private readonly runOne: (input: In) => Promise<Out>,
    private readonly maxBatch = 256,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.running) {
        this.running = true;
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        if (batch.length === 1) {
          this.stats.single += 1;
          await this.alone(batch);
        }
        else {
          let outputs: Out[] | undefined;
          try {
            outputs = await this.runBatch(batch.map((p) => p.input));
          } catch (error) {
            if (isUnavailable(error)) {
              for (const p of batch) p.reject(error);
              continue;
            }
            outputs = undefined;
          }
          if (outputs && outputs.length === batch.length) {
            this.stats.batches += 1;
            this.stats.batchedOps += batch.length;
            batch.forEach((p, i) => p.resolve(outputs[i] as Out));
          } else {
            this.stats.fallbacks += 1;
            await this.alone(batch);
          }
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async alone(batch: Array<Pending<In, Out>>): Promise<void> {
    await Promise.all(batch.map((p) => this.runOne(p.input).then(p.resolve, p.reject)));
  }
}
