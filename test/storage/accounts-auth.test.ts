// Accounts, sessions, one-time tokens, closing an account and the console's usage queries, on SQLite and
// PostgreSQL (the same suite over both backends).
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConflictError } from '../../src/storage/index.ts';
import type { Store } from '../../src/storage/types.ts';
import { storeBackends } from '../helpers/stores.ts';
import { email, expectConsistent, fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

const hash = (): string => createHash('sha256').update(randomBytes(16)).digest('hex');
const DAY = 86_400_000;

describe.each(storeBackends())('accounts and sessions on $name', (backend) => {
  let store: Store;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(async () => {
    await store.close();
  });

  it('creates a user with a password, finds it for login and marks the email verified once', async () => {
    const address = email();
    const user = await store.accounts.create({ email: address, passwordHash: '$argon2id$fake' });
    expect(user).toMatchObject({ email: address, status: 'active', balance: 0n });
    await expect(store.accounts.create({ email: address, passwordHash: 'x' })).rejects.toBeInstanceOf(StorageConflictError);
    expect(await store.accounts.findLogin(address)).toEqual({ userId: user.id, status: 'active', passwordHash: '$argon2id$fake' });
    expect(await store.accounts.findLogin('nobody@example.test')).toBeUndefined();
    expect(await store.accounts.get(user.id)).toMatchObject({ emailVerifiedAt: null, hasPassword: true, closedAt: null });

    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    expect(await store.accounts.markEmailVerified(user.id, at)).toBe(true);
    expect(await store.accounts.markEmailVerified(user.id, new Date())).toBe(false);
    expect((await store.accounts.get(user.id))?.emailVerifiedAt).toEqual(at);

    const admin = await store.users.create(email());
    expect(await store.accounts.get(admin.id)).toMatchObject({ hasPassword: false, user: { role: 'user' } });
    await store.users.setRole(admin.id, 'admin');
    expect((await store.accounts.get(admin.id))?.user.role).toBe('admin');
    expect(await store.accounts.passwordHash(admin.id)).toBeNull();
    expect(await store.accounts.passwordHash('usr_none')).toBeUndefined();
  });

  it('finds a session with its user, touches it, deletes it and sweeps expired ones', async () => {
    const user = await store.accounts.create({ email: email(), passwordHash: 'h' });
    const [a, b, old] = [hash(), hash(), hash()];
    const now = new Date();
    await store.sessions.create({ hash: a, userId: user.id, now, expiresAt: new Date(now.getTime() + DAY) });
    await store.sessions.create({ hash: b, userId: user.id, now, expiresAt: new Date(now.getTime() + DAY) });
    await store.sessions.create({ hash: old, userId: user.id, now: new Date(now.getTime() - 2 * DAY), expiresAt: new Date(now.getTime() - 1) });
    const found = await store.sessions.find(a);
    expect(found).toMatchObject({ userId: user.id, userStatus: 'active', emailVerified: false });
    expect(found?.expiresAt.getTime()).toBe(now.getTime() + DAY);

    const later = new Date(now.getTime() + 60_000);
    await store.sessions.touch(a, later);
    expect((await store.sessions.find(a))?.lastSeenAt).toEqual(later);

    expect(await store.sessions.deleteExpired(now, new Date(now.getTime() - DAY))).toBeGreaterThanOrEqual(1);
    expect(await store.sessions.find(old)).toBeUndefined();
    expect(await store.sessions.find(b)).toBeDefined();
    expect(await store.sessions.delete(b)).toBe(true);
    expect(await store.sessions.delete(b)).toBe(false);
    expect(await store.sessions.find(b)).toBeUndefined();
  });

  it('consumes a one-time token once, refuses expired, used and wrong-purpose tokens', async () => {
    const user = await store.accounts.create({ email: email(), passwordHash: 'h' });
    const now = new Date();
    const [t, expired] = [hash(), hash()];
    await store.tokens.create({ hash: t, userId: user.id, purpose: 'verify_email', now, expiresAt: inAMinute() });
    await store.tokens.create({ hash: expired, userId: user.id, purpose: 'verify_email', now, expiresAt: new Date(now.getTime() - 1) });
    expect(await store.tokens.peek(t, 'verify_email', now)).toMatchObject({ userId: user.id });
    expect(await store.tokens.consume(t, 'reset_password', now)).toBeUndefined();
    const results = await Promise.all([store.tokens.consume(t, 'verify_email', now), store.tokens.consume(t, 'verify_email', now)]);
    expect(results.filter((r) => r === user.id)).toHaveLength(1);
    expect(await store.tokens.peek(t, 'verify_email', now)).toBeUndefined();
    expect(await store.tokens.consume(expired, 'verify_email', now)).toBeUndefined();
    expect(await store.tokens.deleteExpired(now)).toBeGreaterThanOrEqual(1);
  });

  it('changes a password keeping one session and dropping the others and pending reset tokens', async () => {
    const user = await store.accounts.create({ email: email(), passwordHash: 'old' });
    const [keep, other, reset] = [hash(), hash(), hash()];
    const now = new Date();
    for (const h of [keep, other]) await store.sessions.create({ hash: h, userId: user.id, now, expiresAt: inAMinute() });
    await store.tokens.create({ hash: reset, userId: user.id, purpose: 'reset_password', now, expiresAt: inAMinute() });
    expect(await store.accounts.setPassword({ userId: user.id, passwordHash: 'new', keepSession: keep })).toBe(true);
    expect(await store.accounts.passwordHash(user.id)).toBe('new');
    expect(await store.sessions.find(keep)).toBeDefined();
    expect(await store.sessions.find(other)).toBeUndefined();
    expect(await store.tokens.peek(reset, 'reset_password', now)).toBeUndefined();
    expect(await store.accounts.setPassword({ userId: 'usr_none', passwordHash: 'x' })).toBe(false);
  });

  it('resets a password with a token once: sessions and other reset tokens go, the email counts as verified', async () => {
    const user = await store.users.create(email()); // an admin-made user without a password
    const [token, second, session] = [hash(), hash(), hash()];
    const now = new Date();
    await store.tokens.create({ hash: token, userId: user.id, purpose: 'reset_password', now, expiresAt: inAMinute() });
    await store.tokens.create({ hash: second, userId: user.id, purpose: 'reset_password', now, expiresAt: inAMinute() });
    await store.sessions.create({ hash: session, userId: user.id, now, expiresAt: inAMinute() });
    expect(await store.accounts.resetPassword({ tokenHash: token, passwordHash: 'set', now })).toBe(user.id);
    expect(await store.accounts.resetPassword({ tokenHash: token, passwordHash: 'again', now })).toBeUndefined();
    expect(await store.accounts.resetPassword({ tokenHash: second, passwordHash: 'again', now })).toBeUndefined();
    expect(await store.accounts.passwordHash(user.id)).toBe('set');
    expect(await store.sessions.find(session)).toBeUndefined();
    expect((await store.accounts.get(user.id))?.emailVerifiedAt).not.toBeNull();
  });

  it('closes an account: keys revoked, balance zeroed by an adjustment, email replaced, data deleted, once', async () => {
    const address = email();
    const user = await store.accounts.create({ email: address, passwordHash: 'h' });
    await store.ledger.credit({ userId: user.id, kind: 'grant', amount: 5_000_000n, actor: 'test', reason: null });
    const key = await store.keys.create({ userId: user.id, name: 'Alice laptop', hash: hash(), prefix: 'sk-sy-x' });
    const revokedBefore = await store.keys.create({ userId: user.id, name: 'old', hash: hash(), prefix: 'sk-sy-y' });
    await store.keys.revoke(revokedBefore.id);
    const revokedAt = (await store.keys.get(revokedBefore.id))?.revokedAt;
    const session = hash();
    await store.sessions.create({ hash: session, userId: user.id, now: new Date(), expiresAt: inAMinute() });
    await store.tokens.create({ hash: hash(), userId: user.id, purpose: 'verify_email', now: new Date(), expiresAt: inAMinute() });
    await store.notifications.create([{ userId: user.id, kind: 'k', subject: 's', body: 'b' }]);

    const outcome = await store.accounts.close({ userId: user.id, emailHmac: 'f'.repeat(64), actor: `user:${user.id}`, reason: 'account closed' });
    expect(outcome?.forfeited).toBe(5_000_000n);
    expect(outcome?.revokedKeyIds.sort()).toEqual([key.id, revokedBefore.id].sort());
    expect(await store.accounts.close({ userId: user.id, emailHmac: 'x', actor: 'a', reason: 'r' })).toBeUndefined();

    const after = await store.accounts.get(user.id);
    expect(after?.user).toMatchObject({ status: 'closed', email: `closed:${user.id}`, balance: 0n });
    expect(after?.closedAt).toBeInstanceOf(Date);
    expect(after?.hasPassword).toBe(false);
    expect(await store.accounts.findLogin(address)).toBeUndefined();
    expect(await store.accounts.closedWithEmailHmac('f'.repeat(64))).toBe(1);
    expect((await store.keys.get(key.id))?.revokedAt).toBeInstanceOf(Date);
    expect((await store.keys.get(key.id))?.name).toBe('');
    expect((await store.keys.get(revokedBefore.id))?.revokedAt).toEqual(revokedAt); // an earlier revocation keeps its time
    expect(await store.sessions.find(session)).toBeUndefined();
    expect(await store.notifications.list(user.id, { limit: 10 })).toEqual([]);
    const [adjustment] = await store.ledger.entries(user.id, { limit: 1 });
    expect(adjustment).toMatchObject({ kind: 'adjustment', amount: -5_000_000n, balanceAfter: 0n, actor: `user:${user.id}`, reason: 'account closed' });
    expect(await expectConsistent(store, user.id)).toBe(0n);
    // Closed is final: an admin status change does not reopen it.
    expect(await store.users.setStatus(user.id, 'active')).toBe(false);
    expect((await store.users.get(user.id))?.status).toBe('closed');
    // The same address may sign up again (the old row no longer holds it), and closing again works.
    const again = await store.accounts.create({ email: address, passwordHash: 'h' });
    expect((await store.accounts.close({ userId: again.id, emailHmac: 'f'.repeat(64), actor: 'a', reason: 'r' }))?.forfeited).toBe(0n);
    expect(await store.accounts.closedWithEmailHmac('f'.repeat(64))).toBe(2);
    expect(await store.ledger.entries(again.id, { limit: 5 })).toEqual([]);
  });

  it('pages a user\'s usage by a stable cursor and aggregates per day × model × key', async () => {
    const userId = await fundedUser(store, 1_000_000_000n);
    const base = Math.floor(Date.now() / DAY) * DAY - 2 * DAY; // midnight UTC, two days ago
    const events: Array<{ at: number; model: string; key: string; cost: bigint }> = [
      { at: base + 1_000, model: 'm1', key: 'key_a', cost: 100n },
      { at: base + 1_000, model: 'm1', key: 'key_a', cost: 50n }, // same instant: the cursor must not skip it
      { at: base + 2_000, model: 'm2', key: 'key_b', cost: 7n },
      { at: base + DAY + 5, model: 'm1', key: 'key_a', cost: 1n },
    ];
    for (const e of events) {
      const requestId = rid();
      await store.ledger.hold({ requestId, userId, amount: e.cost, expiresAt: inAMinute() });
      await store.ledger.settle({ requestId, charge: e.cost, usage: usageEvent(requestId, userId, { model: e.model, keyId: e.key, createdAt: new Date(e.at) }) });
    }
    const seen: string[] = [];
    let page = await store.usage.page({ userId, limit: 1 });
    while (page.length > 0) {
      seen.push(...page.map((e) => e.requestId));
      const last = page[page.length - 1];
      if (!last) break;
      page = await store.usage.page({ userId, limit: 1, after: { createdAt: last.createdAt, requestId: last.requestId } });
    }
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
    expect(await store.usage.page({ userId, limit: 10, keyId: 'key_b' })).toHaveLength(1);
    expect(await store.usage.page({ userId, limit: 10, from: new Date(base + DAY) })).toHaveLength(1);
    expect(await store.usage.page({ userId: 'usr_other', limit: 10 })).toEqual([]);

    const rows = await store.usage.aggregate({ userId, from: new Date(base), to: new Date(base + 2 * DAY) });
    const day0 = base / DAY;
    expect(rows).toEqual([
      expect.objectContaining({ day: day0, model: 'm1', keyId: 'key_a', requests: 2, cost: 150n, inputTokens: 240, outputTokens: 128 }),
      expect.objectContaining({ day: day0, model: 'm2', keyId: 'key_b', requests: 1, cost: 7n }),
      expect.objectContaining({ day: day0 + 1, model: 'm1', keyId: 'key_a', requests: 1, cost: 1n }),
    ]);
    expect(await store.usage.aggregate({ userId, from: new Date(base), to: new Date(base + DAY) })).toHaveLength(2);
    const spend = await store.usage.spendByKey(userId);
    expect(spend.get('key_a')).toBe(151n);
    expect(spend.get('key_b')).toBe(7n);
  });
});
