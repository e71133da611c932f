// Spend caps in the store (docs/decisions/0013-key-spend-caps.md): a capped hold counts its worst case against
// the key's caps atomically with the debit, settle keeps only the capture, the sweeper gives everything back; on
// PostgreSQL (pool of 10) concurrent holds really race. Also key scopes, the key's spend view, user roles and
// search, and the audit log repository. On SQLite always, on PostgreSQL with SWITCHYARD_TEST_PG=1.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spendPeriods } from '../../src/domain/periods.ts';
import type { HoldCaps, SpendCaps, Store } from '../../src/storage/types.ts';
import { storeBackends } from '../helpers/stores.ts';
import { email, expectConsistent, fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

const NO_CAPS: SpendCaps = { day: null, month: null, total: null };

async function cappedKey(store: Store, userId: string, spendCaps: Partial<SpendCaps>): Promise<string> {
  const key = await store.keys.create({ userId, name: 'capped', hash: rid(), prefix: 'sk-sy-test', scopes: { spendCaps } });
  return key.id;
}

function capsOf(keyId: string, caps: Partial<SpendCaps>, now = Date.now()): HoldCaps {
  const { dayStart, monthStart } = spendPeriods(now);
  return { keyId, caps: { ...NO_CAPS, ...caps }, dayStart, monthStart };
}

describe.each(storeBackends())('spend caps on $name', (backend) => {
  let store: Store;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(async () => {
    await store.close();
  });

  it('a hold counts its worst case until settle, then only the capture; a refusal writes nothing', async () => {
    const userId = await fundedUser(store, 10_000n);
    const keyId = await cappedKey(store, userId, { day: 1_000n });
    const caps = capsOf(keyId, { day: 1_000n });

    const a = rid();
    expect(await store.ledger.hold({ requestId: a, userId, amount: 600n, expiresAt: inAMinute(), caps })).toEqual({ ok: true });
    expect(await store.keys.spend(keyId, new Date())).toEqual({ day: 600n, month: 600n, total: 600n });

    // 600 held + 500 > 1000: refused by the daily cap, balance untouched, nothing written.
    const refused = await store.ledger.hold({ requestId: rid(), userId, amount: 500n, expiresAt: inAMinute(), caps });
    expect(refused).toEqual({ ok: false, balance: 9_400n, cap: { period: 'day', limit: 1_000n, spent: 600n } });
    expect(await store.ledger.balance(userId)).toBe(9_400n);
    expect((await store.ledger.entries(userId, { limit: 10 })).filter((e) => e.kind === 'hold')).toHaveLength(1);

    // Settle captures 100: the key has 100 counted, so 900 more fit exactly.
    const settled = await store.ledger.settle({ requestId: a, charge: 100n, usage: usageEvent(a, userId, { keyId }) });
    expect(settled).toEqual({ applied: true, charged: 100n, released: 500n });
    expect(await store.keys.spend(keyId, new Date())).toEqual({ day: 100n, month: 100n, total: 100n });
    expect(await store.ledger.hold({ requestId: rid(), userId, amount: 900n, expiresAt: inAMinute(), caps })).toEqual({ ok: true });
    expect((await store.ledger.hold({ requestId: rid(), userId, amount: 1n, expiresAt: inAMinute(), caps })).ok).toBe(false);
    // A replayed settle changes nothing.
    expect((await store.ledger.settle({ requestId: a, charge: 100n, usage: usageEvent(a, userId, { keyId }) })).applied).toBe(false);
    expect(await store.keys.spend(keyId, new Date())).toEqual({ day: 1_000n, month: 1_000n, total: 1_000n });
    expect(await expectConsistent(store, userId)).toBe(10_000n - 100n - 900n);
  });

  it('the balance is checked first, and a replayed hold is ok without counting twice', async () => {
    const userId = await fundedUser(store, 300n);
    const keyId = await cappedKey(store, userId, { total: 1_000n });
    const caps = capsOf(keyId, { total: 1_000n });
    expect(await store.ledger.hold({ requestId: rid(), userId, amount: 400n, expiresAt: inAMinute(), caps })).toEqual({ ok: false, balance: 300n });
    const id = rid();
    expect((await store.ledger.hold({ requestId: id, userId, amount: 200n, expiresAt: inAMinute(), caps })).ok).toBe(true);
    expect((await store.ledger.hold({ requestId: id, userId, amount: 200n, expiresAt: inAMinute(), caps })).ok).toBe(true);
    expect((await store.keys.spend(keyId, new Date())).total).toBe(200n);
    expect(await expectConsistent(store, userId)).toBe(100n);
  });

  it('monthly and total caps refuse on their own; the tightest applies', async () => {
    const userId = await fundedUser(store, 10_000n);
    const keyId = await cappedKey(store, userId, { day: 5_000n, month: 700n, total: 2_000n });
    const caps = capsOf(keyId, { day: 5_000n, month: 700n, total: 2_000n });
    expect((await store.ledger.hold({ requestId: rid(), userId, amount: 500n, expiresAt: inAMinute(), caps })).ok).toBe(true);
    const refused = await store.ledger.hold({ requestId: rid(), userId, amount: 300n, expiresAt: inAMinute(), caps });
    expect(refused).toMatchObject({ ok: false, cap: { period: 'month', limit: 700n, spent: 500n } });
    const totalOnly = capsOf(keyId, { total: 600n });
    expect(await store.ledger.hold({ requestId: rid(), userId, amount: 200n, expiresAt: inAMinute(), caps: totalOnly }))
      .toMatchObject({ ok: false, cap: { period: 'total', limit: 600n, spent: 500n } });
  });

  it('a new day starts from zero; a hold from the previous day settles without touching the new day', async () => {
    const userId = await fundedUser(store, 10_000n);
    const keyId = await cappedKey(store, userId, { day: 1_000n });
    const yesterday = Date.now() - 24 * 3600_000;
    const old = rid();
    expect((await store.ledger.hold({ requestId: old, userId, amount: 900n, expiresAt: inAMinute(), caps: capsOf(keyId, { day: 1_000n }, yesterday) })).ok).toBe(true);
    // Today: the 900 of yesterday do not count against today's cap.
    const today = rid();
    expect((await store.ledger.hold({ requestId: today, userId, amount: 800n, expiresAt: inAMinute(), caps: capsOf(keyId, { day: 1_000n }) })).ok).toBe(true);
    expect((await store.keys.spend(keyId, new Date())).day).toBe(800n);
    // Yesterday's hold settles: today's amount is not reduced by its release; the total is.
    await store.ledger.settle({ requestId: old, charge: 0n, usage: usageEvent(old, userId, { keyId }) });
    expect(await store.keys.spend(keyId, new Date())).toMatchObject({ day: 800n, total: 800n });
    // A replica whose clock is a day behind counts into the newer day, not over it.
    const late = await store.ledger.hold({ requestId: rid(), userId, amount: 300n, expiresAt: inAMinute(), caps: capsOf(keyId, { day: 1_000n }, yesterday) });
    expect(late).toMatchObject({ ok: false, cap: { period: 'day', spent: 800n } });
  });

  it('an expired hold released by the sweeper gives its reservation back', async () => {
    const userId = await fundedUser(store, 5_000n);
    const keyId = await cappedKey(store, userId, { day: 1_000n });
    const caps = capsOf(keyId, { day: 1_000n });
    const id = rid();
    expect((await store.ledger.hold({ requestId: id, userId, amount: 1_000n, expiresAt: new Date(Date.now() - 1), caps })).ok).toBe(true);
    expect((await store.ledger.hold({ requestId: rid(), userId, amount: 1n, expiresAt: inAMinute(), caps })).ok).toBe(false);
    expect(await store.ledger.releaseExpired(new Date(), 100)).toBeGreaterThanOrEqual(1);
    expect(await store.keys.spend(keyId, new Date())).toEqual({ day: 0n, month: 0n, total: 0n });
    expect((await store.ledger.hold({ requestId: rid(), userId, amount: 1_000n, expiresAt: inAMinute(), caps })).ok).toBe(true);
    expect(await expectConsistent(store, userId)).toBe(4_000n);
  });

  it('200 concurrent holds against a cap for 20: exactly 20 succeed, then settles give back what was not captured', async () => {
    const H = 100n;
    const userId = await fundedUser(store, 1_000_000n);
    const keyId = await cappedKey(store, userId, { day: 20n * H });
    const caps = capsOf(keyId, { day: 20n * H });
    const ids = Array.from({ length: 200 }, () => rid());
    const holds = await Promise.all(ids.map((requestId) => store.ledger.hold({ requestId, userId, amount: H, expiresAt: inAMinute(), caps })));
    const held = ids.filter((_, i) => holds[i]?.ok);
    expect(held).toHaveLength(20);
    for (const outcome of holds) if (!outcome.ok) expect(outcome.cap?.period).toBe('day');
    expect((await store.keys.spend(keyId, new Date())).day).toBe(20n * H);
    await Promise.all(held.map((requestId) => store.ledger.settle({ requestId, charge: 40n, usage: usageEvent(requestId, userId, { keyId }) })));
    expect(await store.keys.spend(keyId, new Date())).toEqual({ day: 800n, month: 800n, total: 800n });
    expect(await expectConsistent(store, userId)).toBe(1_000_000n - 800n);
  });

  it('a key that gets its first cap starts from what it was charged this period (its usage events)', async () => {
    const userId = await fundedUser(store, 10_000n);
    const key = await store.keys.create({ userId, name: 'plain', hash: rid(), prefix: 'sk-sy-test' });
    expect(key.spendCaps).toEqual(NO_CAPS);
    const id = rid();
    expect((await store.ledger.hold({ requestId: id, userId, amount: 700n, expiresAt: inAMinute() })).ok).toBe(true);
    await store.ledger.settle({ requestId: id, charge: 650n, usage: usageEvent(id, userId, { keyId: key.id, createdAt: new Date() }) });
    const updated = await store.keys.setScopes(key.id, { spendCaps: { day: 1_000n }, rateLimits: { rpm: 60 } });
    expect(updated).toMatchObject({ spendCaps: { day: 1_000n, month: null, total: null }, rateLimits: { rpm: 60, tpm: null, concurrency: null } });
    expect(await store.keys.spend(key.id, new Date())).toEqual({ day: 650n, month: 650n, total: 650n });
    const caps = capsOf(key.id, { day: 1_000n });
    expect(await store.ledger.hold({ requestId: rid(), userId, amount: 400n, expiresAt: inAMinute(), caps })).toMatchObject({ ok: false, cap: { spent: 650n } });
  });

  it('scopes: set, partly change, clear, and what authentication reads', async () => {
    const userId = await fundedUser(store, 0n);
    const hash = rid();
    const key = await store.keys.create({
      userId, name: 'scoped', hash, prefix: 'sk-sy-test', allowedModels: ['m1'],
      scopes: { rateLimits: { rpm: 100, tpm: 5_000, concurrency: 2 }, spendCaps: { month: 5_000_000n } },
    });
    expect(key).toMatchObject({ allowedModels: ['m1'], rateLimits: { rpm: 100, tpm: 5_000, concurrency: 2 }, spendCaps: { day: null, month: 5_000_000n, total: null } });
    const expiresAt = new Date(Date.now() + 3_600_000);
    const changed = await store.keys.setScopes(key.id, { rateLimits: { tpm: null }, spendCaps: { total: 9n }, expiresAt, allowedModels: null });
    expect(changed).toMatchObject({ allowedModels: null, expiresAt, rateLimits: { rpm: 100, tpm: null, concurrency: 2 }, spendCaps: { month: 5_000_000n, total: 9n } });
    expect(await store.keys.findByHash(hash)).toMatchObject({
      keyId: key.id, allowedModels: null, expiresAt, rateLimits: { rpm: 100, tpm: null, concurrency: 2 }, spendCaps: { day: null, month: 5_000_000n, total: 9n },
    });
    expect(await store.keys.setScopes('key_ghost', { rateLimits: { rpm: 1 } })).toBeUndefined();
    expect((await store.keys.listByUser(userId))[0]).toMatchObject({ rateLimits: { rpm: 100 } });
  });

  it('users: roles, and search by email substring, status and role with pages', async () => {
    const tag = rid().slice(4, 12);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await store.users.create(`search_${tag}_${i}@example.test`));
    expect(made[0]?.role).toBe('user');
    expect(await store.users.setRole(made[1]!.id, 'admin')).toBe(true);
    expect(await store.users.setRole('usr_ghost', 'admin')).toBe(false);
    await store.users.setStatus(made[2]!.id, 'suspended');
    expect((await store.users.get(made[1]!.id))?.role).toBe('admin');

    // Oldest first (ties in the same millisecond by id).
    const all = (await store.users.list({ limit: 100, offset: 0, email: `SEARCH_${tag}` })).map((u) => u.id);
    expect([...all].sort()).toEqual(made.map((u) => u.id).sort());
    expect((await store.users.list({ limit: 2, offset: 2, email: tag })).map((u) => u.id)).toEqual(all.slice(2, 4));
    expect((await store.users.list({ limit: 100, offset: 0, email: tag, role: 'admin' })).map((u) => u.id)).toEqual([made[1]!.id]);
    expect((await store.users.list({ limit: 100, offset: 0, email: tag, status: 'suspended' })).map((u) => u.id)).toEqual([made[2]!.id]);
    // LIKE wildcards in the search text match literally.
    expect(await store.users.list({ limit: 100, offset: 0, email: `search%${tag}` })).toEqual([]);
    expect(await store.users.list({ limit: 100, offset: 0, email: `search_${tag}_` })).toHaveLength(5);
    await store.users.create(email());
  });

  it('audit log: newest first, filters, pages, details as JSON', async () => {
    const target = 'usr_' + rid();
    await store.audit.record({ actor: 'admin-token', action: 'user.update', target, details: { status: { from: 'active', to: 'suspended' } }, ip: '127.0.0.1' });
    await store.audit.record({ actor: 'admin-token', action: 'credits.adjust', target, details: { credits: '5', reason: 'r' }, ip: null });
    await store.audit.record({ actor: 'usr_other', action: 'user.update', target: 'usr_x', details: null, ip: null });
    const mine = await store.audit.list({ limit: 10, target });
    expect(mine.map((e) => e.action)).toEqual(['credits.adjust', 'user.update']);
    expect(mine[1]).toMatchObject({ actor: 'admin-token', ip: '127.0.0.1', details: { status: { from: 'active', to: 'suspended' } } });
    expect(mine[1]?.createdAt).toBeInstanceOf(Date);
    expect((await store.audit.list({ limit: 10, target, beforeId: mine[0]!.id })).map((e) => e.action)).toEqual(['user.update']);
    expect((await store.audit.list({ limit: 10, actor: 'usr_other' })).every((e) => e.actor === 'usr_other')).toBe(true);
    expect((await store.audit.list({ limit: 10, action: 'credits.adjust', target }))).toHaveLength(1);
  });
});
