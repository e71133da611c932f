import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsufficientBalanceError, UnknownUserError } from '../../src/storage/index.ts';
import type { LedgerEntry, Store } from '../../src/storage/types.ts';
import { storeBackends } from '../helpers/stores.ts';
import { expectConsistent, fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

/** Entries oldest first, reduced to what the ledger math is about. */
async function book(store: Store, userId: string): Promise<Array<Pick<LedgerEntry, 'kind' | 'amount' | 'balanceAfter'>>> {
  const entries = await store.ledger.entries(userId, { limit: 1000 });
  return entries.reverse().map(({ kind, amount, balanceAfter }) => ({ kind, amount, balanceAfter }));
}

describe.each(storeBackends())('ledger on $name', (backend) => {
  let store: Store;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(async () => {
    await store.close();
  });

  describe('credit', () => {
    it('grants, adjusts and records actor and reason', async () => {
      const user = await store.users.create(`credit-${rid()}@example.test`);
      expect(await store.ledger.credit({ userId: user.id, kind: 'grant', amount: 1_000n, actor: 'admin:1', reason: 'welcome' }))
        .toEqual({ balance: 1_000n });
      expect(await store.ledger.credit({ userId: user.id, kind: 'adjustment', amount: -300n, actor: 'admin:2', reason: 'duplicate grant' }))
        .toEqual({ balance: 700n });
      const [adjustment, grant] = await store.ledger.entries(user.id, { limit: 10 });
      expect(grant).toMatchObject({ kind: 'grant', amount: 1_000n, balanceAfter: 1_000n, actor: 'admin:1', reason: 'welcome', requestId: null });
      expect(adjustment).toMatchObject({ kind: 'adjustment', amount: -300n, balanceAfter: 700n, actor: 'admin:2', reason: 'duplicate grant', paymentId: null });
      expect(grant?.createdAt).toBeInstanceOf(Date);
      expect(await expectConsistent(store, user.id)).toBe(700n);
    });

    it('refuses a negative adjustment that would overdraw, changing nothing', async () => {
      const userId = await fundedUser(store, 700n);
      const attempt = store.ledger.credit({ userId, kind: 'adjustment', amount: -701n, actor: 'admin', reason: 'too much' });
      await expect(attempt).rejects.toBeInstanceOf(InsufficientBalanceError);
      await expect(attempt).rejects.toThrow(/exceeds the available balance of 700/);
      expect(await store.ledger.balance(userId)).toBe(700n);
      expect(await store.ledger.entries(userId, { limit: 10 })).toHaveLength(1);
      // Exactly to zero is allowed.
      expect((await store.ledger.credit({ userId, kind: 'adjustment', amount: -700n, actor: 'admin', reason: 'account closed' })).balance).toBe(0n);
      expect(await expectConsistent(store, userId)).toBe(0n);
    });

    it('rejects a zero amount and an unknown user', async () => {
      const userId = await fundedUser(store, 5n);
      await expect(store.ledger.credit({ userId, kind: 'grant', amount: 0n, actor: 'a', reason: null })).rejects.toThrow(RangeError);
      await expect(store.ledger.credit({ userId: 'usr_ghost', kind: 'grant', amount: 5n, actor: 'a', reason: null }))
        .rejects.toBeInstanceOf(UnknownUserError);
      expect(await store.ledger.balance('usr_ghost')).toBeUndefined();
      expect(await store.ledger.sum('usr_ghost')).toBe(0n);
    });

    it('credits a payment once per kind (webhook replays are no-ops)', async () => {
      const userId = await fundedUser(store, 0n);
      const topup = { userId, kind: 'topup' as const, amount: 5_000n, actor: 'stripe', reason: null, paymentId: 'pi_' + rid() };
      expect((await store.ledger.credit(topup)).balance).toBe(5_000n);
      expect((await store.ledger.credit(topup)).balance).toBe(5_000n);
      const refund = await store.ledger.credit({ ...topup, kind: 'refund', amount: -2_000n });
      expect(refund.balance).toBe(3_000n);
      expect((await book(store, userId)).map((e) => e.kind)).toEqual(['topup', 'refund']);
      expect(await expectConsistent(store, userId)).toBe(3_000n);
    });
  });

  describe('hold', () => {
    it('debits the balance and writes a hold entry', async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      expect(await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() })).toEqual({ ok: true });
      expect(await store.ledger.balance(userId)).toBe(700n);
      const [hold] = await store.ledger.entries(userId, { limit: 1 });
      expect(hold).toMatchObject({ kind: 'hold', amount: -300n, balanceAfter: 700n, requestId, actor: null });
      expect(await expectConsistent(store, userId)).toBe(700n);
    });

    it('refuses a hold the balance does not cover and reports the balance', async () => {
      const userId = await fundedUser(store, 700n);
      expect(await store.ledger.hold({ requestId: rid(), userId, amount: 701n, expiresAt: inAMinute() }))
        .toEqual({ ok: false, balance: 700n });
      expect(await store.ledger.balance(userId)).toBe(700n);
      expect(await book(store, userId)).toEqual([{ kind: 'grant', amount: 700n, balanceAfter: 700n }]);
      // The whole balance can be held.
      expect((await store.ledger.hold({ requestId: rid(), userId, amount: 700n, expiresAt: inAMinute() })).ok).toBe(true);
      expect(await expectConsistent(store, userId)).toBe(0n);
    });

    it('refuses a hold for an unknown user', async () => {
      expect(await store.ledger.hold({ requestId: rid(), userId: 'usr_ghost', amount: 1n, expiresAt: inAMinute() }))
        .toEqual({ ok: false, balance: 0n });
    });

    it('is idempotent by request id', async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      expect((await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() })).ok).toBe(true);
      expect((await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() })).ok).toBe(true);
      // Even a replay with another amount changes nothing.
      expect((await store.ledger.hold({ requestId, userId, amount: 5n, expiresAt: inAMinute() })).ok).toBe(true);
      expect(await store.ledger.balance(userId)).toBe(700n);
      expect((await book(store, userId)).filter((e) => e.kind === 'hold')).toHaveLength(1);
      expect(await expectConsistent(store, userId)).toBe(700n);
    });

    it('rejects a negative amount', async () => {
      const userId = await fundedUser(store, 10n);
      await expect(store.ledger.hold({ requestId: rid(), userId, amount: -1n, expiresAt: inAMinute() })).rejects.toThrow(RangeError);
      expect(await store.ledger.balance(userId)).toBe(10n);
    });
  });

  describe('settle', () => {
    it('captures the charge and releases the rest with exact balance_after values', async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() });
      const outcome = await store.ledger.settle({ requestId, charge: 120n, usage: usageEvent(requestId, userId) });
      expect(outcome).toEqual({ applied: true, charged: 120n, released: 180n });
      expect(await book(store, userId)).toEqual([
        { kind: 'grant', amount: 1_000n, balanceAfter: 1_000n },
        { kind: 'hold', amount: -300n, balanceAfter: 700n },
        { kind: 'release', amount: 300n, balanceAfter: 1_000n },
        { kind: 'capture', amount: -120n, balanceAfter: 880n },
      ]);
      expect(await expectConsistent(store, userId)).toBe(880n);
      // The usage event carries the hold and the real charge, not the caller's numbers.
      expect(await store.usage.get(requestId)).toMatchObject({ requestId, userId, held: 300n, cost: 120n, outputTokens: 64 });
    });

    it('is idempotent: a replayed settle changes nothing', async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() });
      await store.ledger.settle({ requestId, charge: 120n, usage: usageEvent(requestId, userId) });
      const before = await book(store, userId);
      const replay = await store.ledger.settle({ requestId, charge: 50n, usage: usageEvent(requestId, userId, { outputTokens: 1 }) });
      expect(replay).toEqual({ applied: false, charged: 0n, released: 0n });
      expect(await book(store, userId)).toEqual(before);
      expect(await expectConsistent(store, userId)).toBe(880n);
      expect(await store.usage.get(requestId)).toMatchObject({ cost: 120n, outputTokens: 64 });
      // And a hold replay after settlement does not re-hold.
      expect((await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() })).ok).toBe(true);
      expect(await store.ledger.balance(userId)).toBe(880n);
    });

    it('caps a charge above the hold at the hold', async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() });
      expect(await store.ledger.settle({ requestId, charge: 500n, usage: usageEvent(requestId, userId) }))
        .toEqual({ applied: true, charged: 300n, released: 0n });
      expect((await book(store, userId)).slice(2)).toEqual([
        { kind: 'release', amount: 300n, balanceAfter: 1_000n },
        { kind: 'capture', amount: -300n, balanceAfter: 700n },
      ]);
      expect(await expectConsistent(store, userId)).toBe(700n);
      expect((await store.usage.get(requestId))?.cost).toBe(300n);
    });

    it('releases everything on a failure (charge 0) without a capture entry', async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() });
      const usage = usageEvent(requestId, userId, { status: 'error', httpStatus: 502, errorCode: 'upstream_error', outputTokens: 0 });
      expect(await store.ledger.settle({ requestId, charge: 0n, usage })).toEqual({ applied: true, charged: 0n, released: 300n });
      expect((await book(store, userId)).slice(2)).toEqual([{ kind: 'release', amount: 300n, balanceAfter: 1_000n }]);
      expect(await expectConsistent(store, userId)).toBe(1_000n);
      expect(await store.usage.get(requestId)).toMatchObject({ status: 'error', httpStatus: 502, errorCode: 'upstream_error', held: 300n, cost: 0n });
      expect((await store.ledger.settle({ requestId, charge: 10n, usage })).applied).toBe(false);
    });

    it('records usage once but charges nothing when there is no hold', async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      const usage = usageEvent(requestId, userId, { held: 42n });
      expect(await store.ledger.settle({ requestId, charge: 100n, usage })).toEqual({ applied: false, charged: 0n, released: 0n });
      expect(await store.ledger.settle({ requestId, charge: 100n, usage: { ...usage, outputTokens: 9 } })).toEqual({ applied: false, charged: 0n, released: 0n });
      expect(await store.usage.get(requestId)).toMatchObject({ held: 42n, cost: 0n, outputTokens: 64 });
      expect(await expectConsistent(store, userId)).toBe(1_000n);
    });

    it('rejects a negative charge and a usage event for another request', async () => {
      const userId = await fundedUser(store, 1_000n);
      const requestId = rid();
      await store.ledger.hold({ requestId, userId, amount: 300n, expiresAt: inAMinute() });
      await expect(store.ledger.settle({ requestId, charge: -1n, usage: usageEvent(requestId, userId) })).rejects.toThrow(RangeError);
      await expect(store.ledger.settle({ requestId, charge: 1n, usage: usageEvent(rid(), userId) })).rejects.toThrow(RangeError);
      expect(await expectConsistent(store, userId)).toBe(700n);
    });
  });

  describe('releaseExpired', () => {
    it('releases each expired hold exactly once across concurrent sweepers', async () => {
      const userId = await fundedUser(store, 10_000n);
      const past = new Date(Date.now() - 1_000);
      const expired = Array.from({ length: 12 }, () => rid());
      const live = Array.from({ length: 3 }, () => rid());
      for (const requestId of expired) await store.ledger.hold({ requestId, userId, amount: 100n, expiresAt: past });
      for (const requestId of live) await store.ledger.hold({ requestId, userId, amount: 1_000n, expiresAt: inAMinute() });
      expect(await store.ledger.balance(userId)).toBe(5_800n);

      const now = new Date();
      const counts = await Promise.all([store.ledger.releaseExpired(now, 100), store.ledger.releaseExpired(now, 100)]);
      expect(counts[0] + counts[1]).toBe(12);
      expect(await store.ledger.releaseExpired(new Date(), 100)).toBe(0);

      const entries = await store.ledger.entries(userId, { limit: 1000 });
      const releases = entries.filter((e) => e.kind === 'release');
      expect(releases.map((e) => e.requestId).sort()).toEqual([...expired].sort());
      expect(releases.every((e) => e.amount === 100n && e.actor === 'sweeper' && e.reason === 'hold expired')).toBe(true);
      expect(await expectConsistent(store, userId)).toBe(7_000n);

      // The request's own settle, arriving late, finds nothing to settle and charges nothing.
      const late = expired[0] ?? '';
      expect(await store.ledger.settle({ requestId: late, charge: 50n, usage: usageEvent(late, userId) }))
        .toEqual({ applied: false, charged: 0n, released: 0n });
      expect(await store.usage.get(late)).toMatchObject({ held: 100n, cost: 0n });
      expect(await expectConsistent(store, userId)).toBe(7_000n);
    });

    it('respects the limit and leaves unexpired holds alone', async () => {
      const userId = await fundedUser(store, 1_000n);
      const past = new Date(Date.now() - 1_000);
      for (let i = 0; i < 3; i++) await store.ledger.hold({ requestId: rid(), userId, amount: 10n, expiresAt: past });
      await store.ledger.hold({ requestId: rid(), userId, amount: 10n, expiresAt: inAMinute() });
      // Other tests' holds share the table: sweep until this user's expired holds are gone.
      let total = 0;
      for (let n = await store.ledger.releaseExpired(new Date(), 1); n > 0; n = await store.ledger.releaseExpired(new Date(), 1)) {
        expect(n).toBe(1);
        total += n;
      }
      expect(total).toBeGreaterThanOrEqual(3);
      expect(await expectConsistent(store, userId)).toBe(990n);
    });
  });
});
