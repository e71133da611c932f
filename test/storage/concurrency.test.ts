// Concurrency: on PostgreSQL these run over a pool of 10 connections, so the statements really race;
// on SQLite they exercise the same code path serialized by the synchronous transactions.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import type { Store } from '../../src/storage/types.ts';
import { storeBackends } from '../helpers/stores.ts';
import { expectConsistent, fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

describe.each(storeBackends())('concurrency on $name', (backend) => {
  let store: Store;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(async () => {
    await store.close();
  });

  it('200 concurrent holds on a balance for 50: exactly 50 succeed, then 200 concurrent settles', async () => {
    const H = 1_000n;
    const userId = await fundedUser(store, 50n * H);
    const ids = Array.from({ length: 200 }, () => rid());

    const holds = await Promise.all(ids.map((requestId) => store.ledger.hold({ requestId, userId, amount: H, expiresAt: inAMinute() })));
    const heldIds = ids.filter((_, i) => holds[i]?.ok === true);
    expect(heldIds).toHaveLength(50);
    // Balances only fall during this phase, so every refusal reports a balance that truly is short.
    for (const outcome of holds) if (!outcome.ok) expect(outcome.balance).toBeLessThan(H);
    expect(await expectConsistent(store, userId)).toBe(0n);
    const entries = await store.ledger.entries(userId, { limit: 1000 });
    expect(entries.filter((e) => e.kind === 'hold')).toHaveLength(50);
    expect(new Set(entries.map((e) => e.balanceAfter)).size).toBe(entries.length); // every step distinct: no lost update

    const charges = new Map(ids.map((id) => [id, BigInt(randomInt(0, 1_500))]));
    const settles = await Promise.all(ids.map((requestId) => store.ledger.settle({
      requestId, charge: charges.get(requestId) ?? 0n, usage: usageEvent(requestId, userId),
    })));
    const applied = settles.filter((s) => s.applied);
    expect(applied).toHaveLength(50);
    const expectedCharged = heldIds.reduce((sum, id) => {
      const c = charges.get(id) ?? 0n;
      return sum + (c < H ? c : H);
    }, 0n);
    const charged = applied.reduce((sum, s) => sum + s.charged, 0n);
    expect(charged).toBe(expectedCharged);
    expect(applied.every((s) => s.charged + s.released === H)).toBe(true);
    expect(await expectConsistent(store, userId)).toBe(50n * H - expectedCharged);

    const after = await store.ledger.entries(userId, { limit: 1000 });
    expect(after.filter((e) => e.kind === 'release')).toHaveLength(50);
    expect(after.filter((e) => e.kind === 'capture')).toHaveLength(heldIds.filter((id) => (charges.get(id) ?? 0n) > 0n).length);
    expect(await store.usage.list({ userId, limit: 1000 })).toHaveLength(200);
  });

  it('the same request id held 20 times at once debits once', async () => {
    const userId = await fundedUser(store, 10_000n);
    const requestId = rid();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () =>
      store.ledger.hold({ requestId, userId, amount: 400n, expiresAt: inAMinute() })));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(await expectConsistent(store, userId)).toBe(9_600n);
    expect((await store.ledger.entries(userId, { limit: 100 })).filter((e) => e.kind === 'hold')).toHaveLength(1);
  });

  it('the same settle replayed 10 times at once applies once', async () => {
    const userId = await fundedUser(store, 10_000n);
    const requestId = rid();
    await store.ledger.hold({ requestId, userId, amount: 400n, expiresAt: inAMinute() });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () =>
      store.ledger.settle({ requestId, charge: 150n, usage: usageEvent(requestId, userId) })));
    expect(outcomes.filter((o) => o.applied)).toEqual([{ applied: true, charged: 150n, released: 250n }]);
    expect(await expectConsistent(store, userId)).toBe(9_850n);
  });

  it('replays of a release and of settles with other charges, all at once, apply exactly one of them', async () => {
    const userId = await fundedUser(store, 10_000n);
    const requestId = rid();
    await store.ledger.hold({ requestId, userId, amount: 400n, expiresAt: inAMinute() });
    const charges = [0n, 0n, 0n, 0n, 0n, 10n, 20n, 30n, 0n, 0n, 0n, 0n];
    const outcomes = await Promise.all(charges.map((charge) =>
      store.ledger.settle({ requestId, charge, usage: usageEvent(requestId, userId) })));
    const applied = outcomes.filter((o) => o.applied);
    expect(applied).toHaveLength(1);
    const won = applied[0]?.charged ?? -1n;
    expect(charges).toContain(won);
    const entries = (await store.ledger.entries(userId, { limit: 100 })).filter((e) => e.requestId === requestId);
    expect(entries.filter((e) => e.kind === 'release')).toHaveLength(1);
    expect(entries.filter((e) => e.kind === 'capture')).toHaveLength(won > 0n ? 1 : 0);
    expect(await expectConsistent(store, userId)).toBe(10_000n - won);
  });

  it('sweepers racing the late settles of the same expired holds: exactly one of them finishes each hold', async () => {
    const userId = await fundedUser(store, 100_000n);
    const ids = Array.from({ length: 40 }, () => rid());
    const charges = new Map(ids.map((id) => [id, BigInt(randomInt(0, 1_200))]));
    const meta = { keyId: 'key_race', model: 'gpt-race', endpoint: '/v1/chat/completions', stream: false };
    // Expired in id order, so each group's sweep reaches for the holds whose settles are in flight beside it.
    const expired = Date.now() - 10_000;
    for (const [i, requestId] of ids.entries()) await store.ledger.hold({ requestId, userId, amount: 1_000n, expiresAt: new Date(expired + i), meta });

    const settled: Array<{ applied: boolean }> = [];
    // One sweep ahead of everything, so both outcomes surely occur; then sweeps and settles race group by group.
    let swept = await store.ledger.releaseExpired(new Date(), 2);
    expect(swept).toBe(2);
    for (let i = 0; i < ids.length; i += 5) {
      const group = ids.slice(i, i + 5);
      const [n, outcomes] = await Promise.all([
        store.ledger.releaseExpired(new Date(), 3),
        Promise.all(group.map((requestId) => store.ledger.settle({ requestId, charge: charges.get(requestId) ?? 0n, usage: usageEvent(requestId, userId) }))),
      ]);
      settled.push(...outcomes);
      swept += n;
    }
    while ((await store.ledger.releaseExpired(new Date(), 100)) > 0) { /* the rest of the expired holds */ }

    const settledIds = ids.filter((_, i) => settled[i]?.applied === true);
    const sweptIds = ids.filter((_, i) => settled[i]?.applied !== true);
    expect(swept).toBeLessThanOrEqual(sweptIds.length);
    expect(settledIds.length).toBeGreaterThan(0);
    expect(sweptIds.length).toBeGreaterThanOrEqual(2);
    const entries = await store.ledger.entries(userId, { limit: 1000 });
    let expected = 100_000n;
    for (const requestId of ids) {
      const mine = entries.filter((e) => e.requestId === requestId);
      const releases = mine.filter((e) => e.kind === 'release');
      expect(releases).toHaveLength(1);
      const event = await store.usage.get(requestId);
      if (settledIds.includes(requestId)) {
        const charge = (charges.get(requestId) ?? 0n) < 1_000n ? (charges.get(requestId) ?? 0n) : 1_000n;
        expect(releases[0]?.actor).toBeNull();
        expect(mine.filter((e) => e.kind === 'capture').map((e) => e.amount)).toEqual(charge > 0n ? [-charge] : []);
        expect(event).toMatchObject({ status: 'ok', cost: charge });
        expected -= charge;
      } else {
        expect(releases[0]).toMatchObject({ actor: 'sweeper', reason: 'hold expired' });
        expect(mine.filter((e) => e.kind === 'capture')).toHaveLength(0);
        expect(event).toMatchObject({ status: 'expired', cost: 0n, held: 1_000n });
      }
    }
    expect(await expectConsistent(store, userId)).toBe(expected);
  });

  it('a payment delivered 10 times at once is credited once', async () => {
    const userId = await fundedUser(store, 0n);
    const paymentId = 'pi_' + rid();
    const results = await Promise.all(Array.from({ length: 10 }, () =>
      store.ledger.credit({ userId, kind: 'topup', amount: 2_500n, actor: 'stripe', reason: null, paymentId })));
    expect(results.every((r) => r.balance === 2_500n)).toBe(true);
    expect(await expectConsistent(store, userId)).toBe(2_500n);
  });

  it('mixed holds, settles, credits and sweeps across users keep every ledger consistent', async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => fundedUser(store, 20_000n)));
    const past = new Date(Date.now() - 1_000);
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < 120; i++) {
      const userId = users[i % users.length] ?? '';
      const requestId = rid();
      const expires = i % 5 === 0 ? past : inAMinute();
      work.push((async () => {
        const held = await store.ledger.hold({ requestId, userId, amount: BigInt(randomInt(1, 900)), expiresAt: expires });
        if (held.ok && i % 5 !== 0) {
          await store.ledger.settle({ requestId, charge: BigInt(randomInt(0, 1_000)), usage: usageEvent(requestId, userId) });
        }
      })());
      if (i % 10 === 0) work.push(store.ledger.credit({ userId, kind: 'grant', amount: 500n, actor: 'test', reason: null }));
      if (i % 30 === 0) work.push(store.ledger.releaseExpired(new Date(), 50));
    }
    await Promise.all(work);
    while ((await store.ledger.releaseExpired(new Date(), 100)) > 0) { /* drain */ }
    for (const userId of users) {
      const balance = await expectConsistent(store, userId);
      expect(balance).toBeGreaterThanOrEqual(0n);
      const entries = await store.ledger.entries(userId, { limit: 1000 });
      // Every hold was released exactly once (by its settle or by the sweeper).
      const holds = entries.filter((e) => e.kind === 'hold').map((e) => e.requestId).sort();
      const releases = entries.filter((e) => e.kind === 'release').map((e) => e.requestId).sort();
      expect(releases).toEqual(holds);
    }
  });
});
