// The hold sweeper (billing/sweeper.ts) on a real SQLite store: a sweep drains every expired hold in batches,
// start() sweeps at once and then on its interval, stop() waits for a sweep in progress and ends the timer.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoldSweeper } from '../src/billing/sweeper.ts';
import { createLogger } from '../src/observability/logger.ts';
import type { Store } from '../src/storage/types.ts';
import { openSqliteTestStore } from './helpers/stores.ts';
import { expectConsistent, fundedUser, rid } from './storage/fixtures.ts';

let store: Store;
let logs = '';
const logger = createLogger('info', new Writable({ write(chunk: Buffer, _enc, done) { logs += chunk.toString('utf8'); done(); } }));

beforeAll(async () => {
  store = await openSqliteTestStore();
});
afterAll(async () => {
  await store.close();
});

async function expiredHolds(userId: string, count: number, amount: bigint): Promise<void> {
  for (let i = 0; i < count; i++) await store.ledger.hold({ requestId: rid(), userId, amount, expiresAt: new Date(Date.now() - 1_000) });
}

describe('HoldSweeper', () => {
  it('one sweep releases every expired hold, batch after batch', async () => {
    const userId = await fundedUser(store, 1_000n);
    await expiredHolds(userId, 7, 100n);
    expect(await store.ledger.balance(userId)).toBe(300n);
    const sweeper = new HoldSweeper(store.ledger, { intervalMs: 60_000, batch: 2 }, logger);
    expect(await sweeper.sweep()).toBe(7);
    expect(await sweeper.sweep()).toBe(0);
    expect(await expectConsistent(store, userId)).toBe(1_000n);
  });

  it('start() sweeps at once and on every interval; stop() ends it', async () => {
    const userId = await fundedUser(store, 1_000n);
    await expiredHolds(userId, 3, 100n);
    const sweeper = new HoldSweeper(store.ledger, { intervalMs: 100, batch: 500 }, logger);
    sweeper.start();
    const waitForBalance = async (want: bigint): Promise<void> => {
      const until = Date.now() + 5_000;
      while ((await store.ledger.balance(userId)) !== want) {
        if (Date.now() > until) throw new Error(`balance never reached ${want}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await waitForBalance(1_000n);
    expect(logs).toContain('released expired holds');
    // A hold that expires later is picked up by a later tick.
    await store.ledger.hold({ requestId: rid(), userId, amount: 250n, expiresAt: new Date(Date.now() + 150) });
    expect(await store.ledger.balance(userId)).toBe(750n);
    await waitForBalance(1_000n);
    await sweeper.stop();
    // Stopped: an expired hold stays until someone sweeps again.
    await expiredHolds(userId, 1, 100n);
    await new Promise((r) => setTimeout(r, 300));
    expect(await store.ledger.balance(userId)).toBe(900n);
    expect(await expectConsistent(store, userId)).toBe(900n);
  });
});
