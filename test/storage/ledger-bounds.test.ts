// Money stays inside int64 on both dialects (issue 11, finding 3): a credit that would take balance + open holds
// past MAX_CREDITS is refused and writes nothing; amounts no column can hold never reach a statement; an operation
// whose arithmetic would still leave int64 (a database tampered with) fails whole, leaving no partial commit and
// no REAL balance; and the reconciliation sums exactly and reports a damaged database instead of failing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INT64_MAX, MAX_CREDITS } from '../../src/domain/money.ts';
import { BalanceLimitError, InsufficientBalanceError } from '../../src/storage/index.ts';
import type { LedgerCheck, Store } from '../../src/storage/types.ts';
import { storeBackends, type RawStore } from '../helpers/stores.ts';
import { expectConsistent, fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

async function checkOf(store: Store, userId: string): Promise<LedgerCheck> {
  for (let after: string | undefined; ;) {
    const page = await store.ledger.verify({ limit: 500, ...(after === undefined ? {} : { afterUserId: after }) });
    const found = page.find((c) => c.userId === userId);
    if (found) return found;
    if (page.length < 500) throw new Error(`user ${userId} not verified`);
    after = page.at(-1)?.userId;
  }
}

describe.each(storeBackends())('ledger bounds on $name', (backend) => {
  let raw: RawStore;
  let store: Store;
  beforeAll(async () => {
    raw = await backend.openRaw();
    store = raw.store;
  });
  afterAll(async () => {
    await store.close();
  });

  const entryCount = async (userId: string): Promise<number> => (await store.ledger.entries(userId, { limit: 1000 })).length;

  it('grants up to the limit, then refuses the grant that would pass it and writes nothing', async () => {
    const userId = await fundedUser(store, MAX_CREDITS - 10n);
    expect((await store.ledger.credit({ userId, kind: 'grant', amount: 10n, actor: 'admin', reason: 'to the limit' })).balance).toBe(MAX_CREDITS);
    const over = store.ledger.credit({ userId, kind: 'grant', amount: 1n, actor: 'admin', reason: 'one too many' });
    await expect(over).rejects.toBeInstanceOf(BalanceLimitError);
    await expect(over).rejects.toMatchObject({ reached: MAX_CREDITS + 1n, limit: MAX_CREDITS });
    expect(await expectConsistent(store, userId)).toBe(MAX_CREDITS);
    expect(await entryCount(userId)).toBe(2);
    // A debit is never refused by the limit.
    expect((await store.ledger.credit({ userId, kind: 'adjustment', amount: -5n, actor: 'admin', reason: 'back' })).balance).toBe(MAX_CREDITS - 5n);
  });

  it('two grants whose sum would pass int64: the second is refused, the first stands, the sums stay exact', async () => {
    const userId = await fundedUser(store, 1n);
    const half = MAX_CREDITS / 2n + 1n;
    await store.ledger.credit({ userId, kind: 'grant', amount: half, actor: 'admin', reason: 'a' });
    await expect(store.ledger.credit({ userId, kind: 'grant', amount: half, actor: 'admin', reason: 'b' })).rejects.toBeInstanceOf(BalanceLimitError);
    // An amount beyond the limit (or beyond int64) is refused before any statement sees it.
    await expect(store.ledger.credit({ userId, kind: 'grant', amount: INT64_MAX, actor: 'admin', reason: 'c' })).rejects.toBeInstanceOf(BalanceLimitError);
    await expect(store.ledger.credit({ userId, kind: 'grant', amount: 2n ** 70n, actor: 'admin', reason: 'd' })).rejects.toBeInstanceOf(BalanceLimitError);
    await expect(store.ledger.credit({ userId, kind: 'adjustment', amount: -(2n ** 70n), actor: 'admin', reason: 'e' })).rejects.toThrow(RangeError);
    expect(await expectConsistent(store, userId)).toBe(half + 1n);
    expect(await entryCount(userId)).toBe(2);
    expect(await checkOf(store, userId)).toMatchObject({ balance: half + 1n, ledgerSum: half + 1n, invalidValues: 0 });
  });

  it('counts open holds against the limit, so releasing them can never pass it', async () => {
    const userId = await fundedUser(store, MAX_CREDITS);
    const requestId = rid();
    expect(await store.ledger.hold({ requestId, userId, amount: MAX_CREDITS, expiresAt: inAMinute() })).toEqual({ ok: true });
    // The balance is 0, but the hold will come back: a grant on top is refused.
    await expect(store.ledger.credit({ userId, kind: 'grant', amount: 1n, actor: 'admin', reason: 'x' })).rejects.toBeInstanceOf(BalanceLimitError);
    expect(await store.ledger.settle({ requestId, charge: 400n, usage: usageEvent(requestId, userId) })).toEqual({ applied: true, charged: 400n, released: MAX_CREDITS - 400n });
    expect((await store.ledger.credit({ userId, kind: 'grant', amount: 400n, actor: 'admin', reason: 'y' })).balance).toBe(MAX_CREDITS);
    expect(await expectConsistent(store, userId)).toBe(MAX_CREDITS);
  });

  it('a refused debit still says insufficient balance, not the limit', async () => {
    const userId = await fundedUser(store, 10n);
    await expect(store.ledger.credit({ userId, kind: 'adjustment', amount: -11n, actor: 'admin', reason: 'x' })).rejects.toBeInstanceOf(InsufficientBalanceError);
  });

  it('a hold beyond int64 is refused as short, a charge beyond it is capped by the hold: nothing fails', async () => {
    const userId = await fundedUser(store, 1_000n);
    const huge = 2n ** 80n;
    expect(await store.ledger.hold({ requestId: rid(), userId, amount: huge, expiresAt: inAMinute() })).toEqual({ ok: false, balance: 1_000n });
    const capped = { keyId: 'key_bounds', dayStart: 0, monthStart: 0, caps: { day: null, month: null, total: MAX_CREDITS } };
    expect(await store.ledger.hold({ requestId: rid(), userId, amount: huge, expiresAt: inAMinute(), caps: capped })).toMatchObject({ ok: false });
    const requestId = rid();
    expect(await store.ledger.hold({ requestId, userId, amount: 600n, expiresAt: inAMinute() })).toEqual({ ok: true });
    const usage = usageEvent(requestId, userId, { held: huge, cost: huge });
    expect(await store.ledger.settle({ requestId, charge: huge, usage })).toEqual({ applied: true, charged: 600n, released: 0n });
    // Metered billing: an absurd cost saturates in the usage event instead of failing it.
    const metered = rid();
    await store.usage.record(usageEvent(metered, userId, { held: 0n, cost: huge }));
    expect((await store.usage.get(metered))?.cost).toBe(INT64_MAX);
    expect(await expectConsistent(store, userId)).toBe(400n);
  });

  it('an operation whose arithmetic would leave int64 fails whole: no partial commit, the balance stays an integer', async () => {
    const userId = await fundedUser(store, 1_000n);
    const stuck = rid();
    const fine = rid();
    const other = await fundedUser(store, 1_000n);
    expect(await store.ledger.hold({ requestId: stuck, userId, amount: 500n, expiresAt: inAMinute() })).toEqual({ ok: true });
    expect(await store.ledger.hold({ requestId: fine, userId: other, amount: 500n, expiresAt: inAMinute() })).toEqual({ ok: true });
    // Only a database changed behind the ledger's back can get here: releasing the hold would pass int64.
    const near = INT64_MAX - 100n;
    await raw.exec(`UPDATE users SET balance = ${near} WHERE id = '${userId}'`);
    const entriesBefore = await entryCount(userId);
    // Both settles go to the same batch; the one that would overflow fails alone.
    const [bad, good] = await Promise.allSettled([
      store.ledger.settle({ requestId: stuck, charge: 0n, usage: usageEvent(stuck, userId) }),
      store.ledger.settle({ requestId: fine, charge: 100n, usage: usageEvent(fine, other) }),
    ]);
    expect(bad.status).toBe('rejected');
    expect(good).toEqual({ status: 'fulfilled', value: { applied: true, charged: 100n, released: 400n } });
    expect(await store.ledger.balance(userId)).toBe(near);
    expect(await entryCount(userId)).toBe(entriesBefore);
    expect(await expectConsistent(store, other)).toBe(900n);
    // The hold is still open (the settle wrote nothing), so the sweeper would try again, never half-done.
    expect(await checkOf(store, userId)).toMatchObject({ openHolds: 1, openHoldAmount: 500n, invalidValues: 0 });
  });

  it('the reconciliation sums past int64 exactly and reports the drift instead of failing', async () => {
    const userId = await fundedUser(store, 7n);
    const big = 9_000_000_000_000_000_000n;
    for (let i = 0; i < 2; i += 1) {
      await raw.exec(`INSERT INTO ledger (user_id, kind, amount, balance_after, actor, reason, created_at)
        VALUES ('${userId}', 'grant', ${big}, ${big}, 'tamper', 'test', 0)`);
    }
    expect(await checkOf(store, userId)).toMatchObject({ balance: 7n, ledgerSum: 2n * big + 7n, invalidValues: 0 });
    expect(await store.ledger.sum(userId)).toBe(2n * big + 7n);
  });

  if (backend.name === 'sqlite') {
    it('reports a REAL balance (an overflow before the bounds) as invalid, never a 500', async () => {
      const userId = await fundedUser(store, 7n);
      await raw.exec(`UPDATE users SET balance = balance + 9223372036854775807 WHERE id = '${userId}'`);
      await raw.exec(`INSERT INTO ledger (user_id, kind, amount, balance_after, actor, reason, created_at)
        VALUES ('${userId}', 'adjustment', 1.5, 1.5, 'tamper', 'test', 0)`);
      const check = await checkOf(store, userId);
      expect(check.invalidValues).toBe(2);
      expect(check.balance).toBeGreaterThan(INT64_MAX);
      // A credit refuses to build on it (it would need a repair first) and changes nothing.
      await expect(store.ledger.credit({ userId, kind: 'grant', amount: 1n, actor: 'admin', reason: 'x' })).rejects.toThrow(/not an integer/);
    });
  }
});
