// Group commit (docs/decisions/0015): concurrent holds and settles share one statement on PostgreSQL
// (sy_hold_batch / sy_settle_batch) and one transaction on SQLite. Batching must not change any outcome: each
// user's ledger still reads as one chain (every entry's balance_after = the previous one's + its amount), the
// invariant holds, and a batch with one bad operation fails only that operation.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/storage/types.ts';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { spendPeriods } from '../../src/domain/periods.ts';
import { openStore } from '../../src/storage/index.ts';
import { pgEnabled, pgTestUrl, storeBackends } from '../helpers/stores.ts';
import { expectConsistent, fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

describe.each(storeBackends())('group commit on $name', (backend) => {
  let store: Store;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(async () => {
    await store.close();
  });

  /** Oldest first, each entry continuing the previous one's balance. */
  async function expectChain(userId: string): Promise<void> {
    const entries = (await store.ledger.entries(userId, { limit: 10_000 })).reverse();
    let balance = 0n;
    for (const e of entries) {
      balance += e.amount;
      expect(e.balanceAfter, `entry ${e.id} (${e.kind} ${e.amount})`).toBe(balance);
    }
    expect(await expectConsistent(store, userId)).toBe(balance);
  }

  it('holds and settles of many users at once: each admitted in turn, each user one chain, every charge exact', async () => {
    const H = 100n;
    // User i can afford i + 1 holds; each sends 8.
    const users = await Promise.all(Array.from({ length: 6 }, (_, i) => fundedUser(store, BigInt(i + 1) * H)));
    const requests = users.flatMap((userId) => Array.from({ length: 8 }, () => ({ userId, requestId: rid() })));
    const before = store.ledger.batching?.();

    const holds = await Promise.all(requests.map((r) => store.ledger.hold({ ...r, amount: H, expiresAt: inAMinute() })));
    users.forEach((userId, i) => {
      expect(requests.filter((r, j) => r.userId === userId && holds[j]?.ok === true)).toHaveLength(i + 1);
    });
    for (const outcome of holds) if (!outcome.ok) expect(outcome.balance).toBe(0n);

    const settles = await Promise.all(requests.map((r, j) => store.ledger.settle({
      requestId: r.requestId, charge: BigInt(j % 7) * 10n, usage: usageEvent(r.requestId, r.userId),
    })));
    requests.forEach((r, j) => {
      const s = settles[j];
      if (holds[j]?.ok) expect(s).toEqual({ applied: true, charged: BigInt(j % 7) * 10n, released: H - BigInt(j % 7) * 10n });
      else expect(s).toEqual({ applied: false, charged: 0n, released: 0n });
    });
    for (const userId of users) await expectChain(userId);
    for (const [j, r] of requests.entries()) {
      const event = await store.usage.get(r.requestId);
      expect(event?.cost).toBe(holds[j]?.ok ? BigInt(j % 7) * 10n : 0n);
      expect(event?.held).toBe(holds[j]?.ok ? H : 999_999n);
    }

    if (backend.name === 'postgres') {
      // The 48 holds and 48 settles really went through batches, none fell back.
      const after = store.ledger.batching?.();
      expect(after).toBeDefined();
      if (!after || !before) return;
      expect(after.hold.batches).toBeGreaterThan(before.hold.batches);
      expect(after.hold.batchedOps - before.hold.batchedOps).toBeGreaterThanOrEqual(40);
      expect(after.settle.batches).toBeGreaterThan(before.settle.batches);
      expect(after.hold.fallbacks + after.settle.fallbacks).toBe(before.hold.fallbacks + before.settle.fallbacks);
    } else {
      expect(store.ledger.batching).toBeUndefined();
    }
  });

  it('one settle the database refuses fails alone: the rest of its batch is booked', async () => {
    const userId = await fundedUser(store, 10_000n);
    const ids = Array.from({ length: 12 }, () => rid());
    await Promise.all(ids.map((requestId) => store.ledger.hold({ requestId, userId, amount: 500n, expiresAt: inAMinute() })));
    const bad = ids[5] ?? '';
    const before = store.ledger.batching?.();
    const outcomes = await Promise.allSettled(ids.map((requestId) => store.ledger.settle({
      // usage_events.model is NOT NULL: this one event cannot be written, so its settle rolls back.
      requestId, charge: 100n, usage: usageEvent(requestId, userId, requestId === bad ? { model: null as unknown as string } : {}),
    })));
    ids.forEach((requestId, i) => {
      const o = outcomes[i];
      if (requestId === bad) expect(o?.status).toBe('rejected');
      else expect(o).toEqual({ status: 'fulfilled', value: { applied: true, charged: 100n, released: 400n } });
    });
    // The refused one's hold is still open (its settle wrote nothing); the others are settled.
    expect(await expectConsistent(store, userId)).toBe(10_000n - 11n * 100n - 500n);
    await expectChain(userId);
    if (backend.name === 'postgres') expect(store.ledger.batching?.().settle.fallbacks).toBeGreaterThan(before?.settle.fallbacks ?? 0);
  });

  it('metered usage events recorded at once are all written, each with its own cost, once', async () => {
    const userId = await fundedUser(store, 0n);
    const ids = Array.from({ length: 40 }, () => rid());
    const events = ids.map((requestId, i) => usageEvent(requestId, userId, { held: 0n, cost: BigInt(i) * 3n }));
    await Promise.all([...events, events[0] as (typeof events)[number]].map((e) => store.usage.record(e)));
    for (const [i, requestId] of ids.entries()) {
      const stored = await store.usage.get(requestId);
      expect(stored).toMatchObject({ requestId, userId, cost: BigInt(i) * 3n, held: 0n, inputTokens: 120, stream: true, attempts: 'p/m;ok;12ms' });
    }
    expect(await store.usage.list({ userId, limit: 100 })).toHaveLength(40);
    expect(await expectConsistent(store, userId)).toBe(0n);
  });

  it('a replayed hold is ok and debits nothing, also when the balance could not cover it again', async () => {
    const userId = await fundedUser(store, 700n);
    const requestId = rid();
    expect(await store.ledger.hold({ requestId, userId, amount: 700n, expiresAt: inAMinute() })).toEqual({ ok: true });
    // The balance is now 0: the replay must still report the hold it already has, alone and in a batch.
    expect(await store.ledger.hold({ requestId, userId, amount: 700n, expiresAt: inAMinute() })).toEqual({ ok: true });
    const other = await fundedUser(store, 1_000n);
    const again = await Promise.all([
      store.ledger.hold({ requestId, userId, amount: 700n, expiresAt: inAMinute() }),
      store.ledger.hold({ requestId: rid(), userId: other, amount: 600n, expiresAt: inAMinute() }),
      store.ledger.hold({ requestId: rid(), userId: other, amount: 600n, expiresAt: inAMinute() }),
    ]);
    expect(again.map((o) => o.ok)).toEqual([true, true, false]);
    expect(await expectConsistent(store, userId)).toBe(0n);
    expect((await store.ledger.entries(userId, { limit: 10 })).map((e) => e.kind)).toEqual(['hold', 'grant']);
    await expectChain(other);
  });

  // SQLite runs everything submitted in one turn as one batch transaction, in order, with the batch's balances kept
  // in memory and written at its end: the outcomes are exact. (PostgreSQL sends capped holds alone, concurrently
  // with the batch, so which of them a refusal hits is not fixed there.)
  it.runIf(backend.name === 'sqlite')('one user, one batch: uncapped and capped holds, a replay, refusals and settles — the balance exact, one chain', async () => {
    const userId = await fundedUser(store, 1_000n);
    const spendCaps = { day: null, month: null, total: 250n };
    const key = await store.keys.create({ userId, name: 'capped', hash: rid(), prefix: 'sk-sy-test', scopes: { spendCaps } });
    const { dayStart, monthStart } = spendPeriods(Date.now());
    const caps = { keyId: key.id, caps: spendCaps, dayStart, monthStart };
    const [a, b, c, d] = [rid(), rid(), rid(), rid()];
    const hold = (requestId: string, amount: bigint, capped = false) =>
      store.ledger.hold({ requestId, userId, amount, expiresAt: inAMinute(), ...(capped ? { caps } : {}) });
    // All submitted in the same turn: one batch, a capped hold in its middle.
    const holds = await Promise.all([hold(a, 300n), hold(b, 200n, true), hold(a, 300n), hold(c, 400n), hold(d, 200n), hold(rid(), 60n, true)]);
    // a ok; b ok (the cap of 250 covers 200); a again: a replay, ok, nothing debited; c ok (100 left);
    // d refused (100 left < 200); the last, capped: refused by the cap (200 + 60 > 250), not by the balance.
    expect(holds.map((h) => h.ok)).toEqual([true, true, true, true, false, false]);
    expect(holds[5]).toMatchObject({ balance: 100n, cap: { period: 'total', limit: 250n, spent: 200n } });
    expect(await expectConsistent(store, userId)).toBe(100n);
    const settles = await Promise.all([a, b, c].map((id, i) => store.ledger.settle({ requestId: id, charge: BigInt(50 * (i + 1)), usage: usageEvent(id, userId) })));
    expect(settles.map((o) => o.charged)).toEqual([50n, 100n, 150n]);
    expect(await expectConsistent(store, userId)).toBe(1_000n - 300n);
    await expectChain(userId);
  });
});

// Two replicas (two pools) on one PostgreSQL database holding and settling the SAME request ids at once: a batch
// that loses a race on the holds primary key rolls back whole and is re-run item by item, so each request is held,
// debited and settled exactly once.
describe.skipIf(!pgEnabled())('group commit across two replicas on postgres', () => {
  it('the same 60 request ids from two replicas at once: each held once, settled once, the ledger one chain', async () => {
    const schema = `sy_test_${randomBytes(6).toString('hex')}`;
    const a = await openStore(pgTestUrl(), { schema, poolMax: 10 });
    await a.migrate();
    const b = await openStore(pgTestUrl(), { schema, poolMax: 10 });
    try {
      const userId = await fundedUser(a, 100_000n);
      const ids = Array.from({ length: 60 }, () => rid());
      const hold = (s: typeof a, requestId: string) => s.ledger.hold({ requestId, userId, amount: 1_000n, expiresAt: inAMinute() });
      const holds = await Promise.all(ids.flatMap((id) => [hold(a, id), hold(b, id)]));
      expect(holds.every((o) => o.ok)).toBe(true);
      expect(await expectConsistent(a, userId)).toBe(100_000n - 60n * 1_000n);

      const settle = (s: typeof a, requestId: string) => s.ledger.settle({ requestId, charge: 250n, usage: usageEvent(requestId, userId) });
      const settles = await Promise.all(ids.flatMap((id) => [settle(a, id), settle(b, id)]));
      expect(settles.filter((o) => o.applied)).toHaveLength(60);
      expect(settles.filter((o) => o.applied).every((o) => o.charged === 250n && o.released === 750n)).toBe(true);
      expect(await expectConsistent(a, userId)).toBe(100_000n - 60n * 250n);
      const entries = (await a.ledger.entries(userId, { limit: 1000 })).reverse();
      let balance = 0n;
      for (const e of entries) {
        balance += e.amount;
        expect(e.balanceAfter).toBe(balance);
      }
      expect(entries.filter((e) => e.kind === 'hold')).toHaveLength(60);
      expect(entries.filter((e) => e.kind === 'capture')).toHaveLength(60);
    } finally {
      await b.close();
      await a.close();
      const client = new pg.Client({ connectionString: pgTestUrl() });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  });
});


describe.skipIf(!pgEnabled())('the batch functions plan every call (migration 0010)', () => {
  it('sy_hold_batch and sy_settle_batch run with plan_cache_mode = force_custom_plan, so no generic plan from an empty table sticks', async () => {
    const schema = `sy_test_${randomBytes(6).toString('hex')}`;
    const store = await openStore(pgTestUrl(), { schema });
    const client = new pg.Client({ connectionString: pgTestUrl() });
    await client.connect();
    try {
      await store.migrate();
      const { rows } = await client.query<{ proname: string; proconfig: string[] | null }>(
        `SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = $1 AND p.proname IN ('sy_hold_batch', 'sy_settle_batch') ORDER BY p.proname`,
        [schema],
      );
      expect(rows).toEqual([
        { proname: 'sy_hold_batch', proconfig: ['plan_cache_mode=force_custom_plan'] },
        { proname: 'sy_settle_batch', proconfig: ['plan_cache_mode=force_custom_plan'] },
      ]);
    } finally {
      await store.close();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  });
});
