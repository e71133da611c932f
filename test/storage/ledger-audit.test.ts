// What an auditor relies on (issue 5, item 1): every credit says who and why, a replayed release changes
// nothing, an expired hold leaves a usage event, a request's entries can be listed, and the reconciliation
// (ledger.verify) finds a balance or a hold that disagrees with the ledger. On both dialects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerCheck, LedgerEntry, Store } from '../../src/storage/types.ts';
import { storeBackends, type RawStore } from '../helpers/stores.ts';
import { expectConsistent, fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

const past = (): Date => new Date(Date.now() - 1_000);
const meta = { keyId: 'key_audit', model: 'gpt-audit', endpoint: '/v1/chat/completions', stream: true };

async function book(store: Store, userId: string): Promise<LedgerEntry[]> {
  return (await store.ledger.entries(userId, { limit: 1000 })).reverse();
}

/** Every page of the reconciliation, `limit` users at a time. */
async function verifyAll(store: Store, limit: number): Promise<LedgerCheck[]> {
  const out: LedgerCheck[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.ledger.verify({ limit, ...(after === undefined ? {} : { afterUserId: after }) });
    out.push(...page);
    if (page.length < limit) return out;
    after = page.at(-1)?.userId;
  }
}

async function checkOf(store: Store, userId: string): Promise<LedgerCheck> {
  const found = (await verifyAll(store, 1000)).find((c) => c.userId === userId);
  if (!found) throw new Error(`user ${userId} not verified`);
  return found;
}

describe.each(storeBackends())('ledger audit on $name', (backend) => {
  let raw: RawStore;
  let store: Store;
  beforeAll(async () => {
    raw = await backend.openRaw();
    store = raw.store;
  });
  afterAll(async () => {
    await store.close();
  });

  describe('every credit says who and why', () => {
    const rules: Array<[string, Record<string, unknown>, RegExp]> = [
      ['an adjustment without a reason', { kind: 'adjustment', amount: -5n, reason: null }, /adjustment needs a reason/],
      ['an adjustment with a blank reason', { kind: 'adjustment', amount: 5n, reason: '  ' }, /adjustment needs a reason/],
      ['a refund with neither payment id nor reason', { kind: 'refund', amount: -5n, reason: null }, /refund needs a payment id or a reason/],
      ['a topup without its payment id', { kind: 'topup', amount: 5n, reason: 'card' }, /topup needs its payment id/],
      ['a negative grant', { kind: 'grant', amount: -5n, reason: 'oops' }, /grant must be positive/],
      ['a credit without an actor', { kind: 'grant', amount: 5n, reason: 'x', actor: '' }, /needs an actor/],
    ];
    for (const [what, over, message] of rules) {
      it(`refuses ${what}, writing nothing`, async () => {
        const userId = await fundedUser(store, 100n);
        const input = { userId, kind: 'grant' as const, amount: 1n, actor: 'admin', reason: null, ...over };
        await expect(store.ledger.credit(input as Parameters<Store['ledger']['credit']>[0])).rejects.toThrow(message);
        expect((await book(store, userId)).map((e) => e.kind)).toEqual(['grant']);
        expect(await expectConsistent(store, userId)).toBe(100n);
      });
    }

    it('records the actor, the reason and the payment id of each kind', async () => {
      const userId = await fundedUser(store, 0n);
      const paymentId = 'pi_' + rid();
      await store.ledger.credit({ userId, kind: 'topup', amount: 9_000n, actor: 'stripe', reason: null, paymentId });
      await store.ledger.credit({ userId, kind: 'refund', amount: -4_000n, actor: 'stripe', reason: null, paymentId });
      await store.ledger.credit({ userId, kind: 'refund', amount: 1_000n, actor: 'admin:ops', reason: 'failed generation' });
      await store.ledger.credit({ userId, kind: 'adjustment', amount: -500n, actor: 'admin:ops', reason: 'goodwill reversed' });
      expect((await book(store, userId)).map(({ kind, amount, actor, reason, paymentId: p, requestId }) => ({ kind, amount, actor, reason, p, requestId }))).toEqual([
        { kind: 'topup', amount: 9_000n, actor: 'stripe', reason: null, p: paymentId, requestId: null },
        { kind: 'refund', amount: -4_000n, actor: 'stripe', reason: null, p: paymentId, requestId: null },
        { kind: 'refund', amount: 1_000n, actor: 'admin:ops', reason: 'failed generation', p: null, requestId: null },
        { kind: 'adjustment', amount: -500n, actor: 'admin:ops', reason: 'goodwill reversed', p: null, requestId: null },
      ]);
      expect(await expectConsistent(store, userId)).toBe(5_500n);
    });
  });

  it('a replayed release (a settle of nothing) changes nothing', async () => {
    const userId = await fundedUser(store, 1_000n);
    const requestId = rid();
    await store.ledger.hold({ requestId, userId, amount: 400n, expiresAt: inAMinute() });
    const usage = usageEvent(requestId, userId, { status: 'error', httpStatus: 502, outputTokens: 0 });
    expect(await store.ledger.settle({ requestId, charge: 0n, usage })).toEqual({ applied: true, charged: 0n, released: 400n });
    const before = await book(store, userId);
    expect(await store.ledger.settle({ requestId, charge: 0n, usage })).toEqual({ applied: false, charged: 0n, released: 0n });
    // A late settle that would charge after the release is refused the same way.
    expect(await store.ledger.settle({ requestId, charge: 300n, usage: { ...usage, status: 'ok' } })).toEqual({ applied: false, charged: 0n, released: 0n });
    expect(await store.ledger.releaseExpired(new Date(Date.now() + 120_000), 1000)).toBe(0);
    expect(await book(store, userId)).toEqual(before);
    expect(await store.usage.get(requestId)).toMatchObject({ status: 'error', cost: 0n, held: 400n });
    expect(await expectConsistent(store, userId)).toBe(1_000n);
  });

  it("lists one request's entries, oldest first, and only to its own user", async () => {
    const userId = await fundedUser(store, 1_000n);
    const other = await fundedUser(store, 1_000n);
    const requestId = rid();
    await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() });
    await store.ledger.settle({ requestId, charge: 120n, usage: usageEvent(requestId, userId) });
    const entries = await store.ledger.requestEntries(userId, requestId);
    expect(entries.map(({ kind, amount, balanceAfter, requestId: r }) => ({ kind, amount, balanceAfter, r }))).toEqual([
      { kind: 'hold', amount: -300n, balanceAfter: 700n, r: requestId },
      { kind: 'release', amount: 300n, balanceAfter: 1_000n, r: requestId },
      { kind: 'capture', amount: -120n, balanceAfter: 880n, r: requestId },
    ]);
    expect(new Set(entries.map((e) => e.id)).size).toBe(3);
    expect(await store.ledger.requestEntries(other, requestId)).toEqual([]);
    expect(await store.ledger.requestEntries(userId, rid())).toEqual([]);
  });

  describe('an expired hold', () => {
    it("is released by the sweeper and leaves the request's usage event, status 'expired'", async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      const takenAt = Date.now();
      await store.ledger.hold({ requestId, userId, amount: 250n, expiresAt: past(), meta });
      let released = 0;
      for (let n = await store.ledger.releaseExpired(new Date(), 100); n > 0; n = await store.ledger.releaseExpired(new Date(), 100)) released += n;
      expect(released).toBeGreaterThanOrEqual(1);
      const event = await store.usage.get(requestId);
      expect(event).toMatchObject({
        requestId, userId, keyId: meta.keyId, model: meta.model, endpoint: meta.endpoint, stream: true, provider: null, channel: null,
        inputTokens: 0, outputTokens: 0, held: 250n, cost: 0n, priceVersion: null, status: 'expired', httpStatus: 0, errorCode: 'hold_expired',
      });
      // Dated when the request started (its hold), not when it was swept.
      expect(Math.abs((event?.createdAt.getTime() ?? 0) - takenAt)).toBeLessThan(5_000);
      const entries = await store.ledger.requestEntries(userId, requestId);
      expect(entries.map(({ kind, amount, actor, reason }) => ({ kind, amount, actor, reason }))).toEqual([
        { kind: 'hold', amount: -250n, actor: null, reason: null },
        { kind: 'release', amount: 250n, actor: 'sweeper', reason: 'hold expired' },
      ]);

      // The request's own settle, arriving after the sweep, is not applied and does not replace the event.
      expect(await store.ledger.settle({ requestId, charge: 100n, usage: usageEvent(requestId, userId) })).toEqual({ applied: false, charged: 0n, released: 0n });
      expect(await store.usage.get(requestId)).toMatchObject({ status: 'expired', cost: 0n, outputTokens: 0 });
      expect(await expectConsistent(store, userId)).toBe(1_000n);
    });

    it('taken without metadata is released with no usage event', async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      await store.ledger.hold({ requestId, userId, amount: 250n, expiresAt: past() });
      while ((await store.ledger.releaseExpired(new Date(), 100)) > 0) { /* drain */ }
      expect(await store.usage.get(requestId)).toBeUndefined();
      expect((await store.ledger.requestEntries(userId, requestId)).map((e) => e.kind)).toEqual(['hold', 'release']);
      expect(await expectConsistent(store, userId)).toBe(1_000n);
    });
  });

  describe('verify', () => {
    it('reconciles balances and open holds, page by page', async () => {
      const users = await Promise.all(Array.from({ length: 5 }, () => fundedUser(store, 10_000n)));
      const [a = '', b = '', c = ''] = users;
      // a: one request settled, one still open; b: one hold swept; c: untouched.
      const settled = rid();
      await store.ledger.hold({ requestId: settled, userId: a, amount: 1_000n, expiresAt: inAMinute() });
      await store.ledger.settle({ requestId: settled, charge: 400n, usage: usageEvent(settled, a) });
      await store.ledger.hold({ requestId: rid(), userId: a, amount: 700n, expiresAt: inAMinute() });
      await store.ledger.hold({ requestId: rid(), userId: b, amount: 300n, expiresAt: past(), meta });
      while ((await store.ledger.releaseExpired(new Date(), 100)) > 0) { /* drain */ }

      expect(await checkOf(store, a)).toEqual({
        userId: a, balance: 8_900n, ledgerSum: 8_900n, openHolds: 1, openHoldAmount: 700n, unreleasedHolds: 1, unreleasedHoldAmount: 700n, invalidValues: 0,
      });
      expect(await checkOf(store, b)).toEqual({
        userId: b, balance: 10_000n, ledgerSum: 10_000n, openHolds: 0, openHoldAmount: 0n, unreleasedHolds: 0, unreleasedHoldAmount: 0n, invalidValues: 0,
      });
      expect(await checkOf(store, c)).toEqual({
        userId: c, balance: 10_000n, ledgerSum: 10_000n, openHolds: 0, openHoldAmount: 0n, unreleasedHolds: 0, unreleasedHoldAmount: 0n, invalidValues: 0,
      });

      // Pages of 2 visit every user once, in id order, and agree with one big page.
      const small = await verifyAll(store, 2);
      const big = await verifyAll(store, 1000);
      expect(small).toEqual(big);
      const ids = small.map((x) => x.userId);
      expect(ids).toEqual([...ids].sort());
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of users) expect(ids).toContain(id);
      expect(await store.ledger.verify({ afterUserId: ids.at(-1) ?? '', limit: 10 })).toEqual([]);
    });

    it('finds a balance that drifted from its ledger and a hold whose status disagrees with its entries', async () => {
      const drifted = await fundedUser(store, 5_000n);
      const mislabelled = await fundedUser(store, 5_000n);
      const open = rid();
      await store.ledger.hold({ requestId: open, userId: mislabelled, amount: 800n, expiresAt: inAMinute() });
      await raw.exec(`UPDATE users SET balance = balance + 7 WHERE id = '${drifted}'`);
      await raw.exec(`UPDATE holds SET status = 'settled' WHERE request_id = '${open}'`);

      expect(await checkOf(store, drifted)).toMatchObject({ balance: 5_007n, ledgerSum: 5_000n, openHolds: 0, unreleasedHolds: 0 });
      expect(await checkOf(store, mislabelled)).toMatchObject({
        balance: 4_200n, ledgerSum: 4_200n, openHolds: 0, openHoldAmount: 0n, unreleasedHolds: 1, unreleasedHoldAmount: 800n,
      });
    });
  });
});
