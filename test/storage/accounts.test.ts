import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { StorageConflictError } from '../../src/storage/index.ts';
import type { Store } from '../../src/storage/types.ts';
import { storeBackends } from '../helpers/stores.ts';
import { email, fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe.each(storeBackends())('accounts on $name', (backend) => {
  let store: Store;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(async () => {
    await store.close();
  });

  it('reports its dialect', () => {
    expect(store.dialect).toBe(backend.name);
  });

  it('creates, gets and lists users', async () => {
    const address = email();
    const user = await store.users.create(address);
    expect(user.id).toMatch(/^usr_[0-9A-Za-z]{20}$/);
    expect(user).toMatchObject({ email: address, status: 'active', balance: 0n });
    expect(user.createdAt).toBeInstanceOf(Date);

    const fetched = await store.users.get(user.id);
    expect(fetched).toEqual(user);
    expect(typeof fetched?.balance).toBe('bigint');
    expect(await store.users.get('usr_doesnotexist')).toBeUndefined();

    const second = await store.users.create(email());
    const all = await store.users.list({ limit: 1000, offset: 0 });
    expect(all.map((u) => u.id)).toEqual(expect.arrayContaining([user.id, second.id]));
    const firstPage = await store.users.list({ limit: 1, offset: 0 });
    const secondPage = await store.users.list({ limit: 1, offset: 1 });
    expect(firstPage).toHaveLength(1);
    expect(secondPage).toHaveLength(1);
    expect(firstPage[0]?.id).not.toBe(secondPage[0]?.id);
  });

  it('refuses a duplicate email with a conflict error', async () => {
    const address = email();
    await store.users.create(address);
    await expect(store.users.create(address)).rejects.toBeInstanceOf(StorageConflictError);
  });

  it('creates keys, lists them per user and finds them by hash', async () => {
    const user = await store.users.create(email());
    const hash = sha256('sk-sy-secret-' + rid());
    const key = await store.keys.create({ userId: user.id, name: 'laptop', hash, prefix: 'sk-sy-AbCd1234' });
    expect(key.id).toMatch(/^key_[0-9A-Za-z]{20}$/);
    expect(key).toMatchObject({ userId: user.id, name: 'laptop', prefix: 'sk-sy-AbCd1234', revokedAt: null, lastUsedAt: null });
    expect(await store.keys.get(key.id)).toEqual(key);
    expect(await store.keys.get('key_nope')).toBeUndefined();

    const other = await store.keys.create({
      userId: user.id, name: 'ci', hash: sha256('other-' + rid()), prefix: 'sk-sy-Zz', allowedModels: ['gpt-4o', 'claude-x'],
    });
    expect((await store.keys.listByUser(user.id)).map((k) => k.id).sort()).toEqual([key.id, other.id].sort());
    expect(await store.keys.listByUser('usr_nobody')).toEqual([]);

    expect(await store.keys.findByHash(hash)).toEqual({
      keyId: key.id, userId: user.id, revoked: false, userStatus: 'active', allowedModels: null, expiresAt: null,
      spendCaps: { day: null, month: null, total: null }, rateLimits: { rpm: null, tpm: null, concurrency: null },
      accountLimits: { rpm: null, tpm: null, concurrency: null },
    });
    expect(await store.keys.findByHash(sha256('an unknown key'))).toBeUndefined();
  });

  it('keeps a key allow-list', async () => {
    const user = await store.users.create(email());
    const hash = sha256(rid());
    await store.keys.create({ userId: user.id, name: 'scoped', hash, prefix: 'sk-sy-S', allowedModels: ['gpt-4o', 'claude-x'] });
    expect((await store.keys.findByHash(hash))?.allowedModels).toEqual(['gpt-4o', 'claude-x']);
  });

  it('refuses a duplicate key hash', async () => {
    const user = await store.users.create(email());
    const hash = sha256(rid());
    await store.keys.create({ userId: user.id, name: 'a', hash, prefix: 'p' });
    await expect(store.keys.create({ userId: user.id, name: 'b', hash, prefix: 'p' })).rejects.toBeInstanceOf(StorageConflictError);
  });

  it('revokes a key once and authentication sees it', async () => {
    const user = await store.users.create(email());
    const hash = sha256(rid());
    const key = await store.keys.create({ userId: user.id, name: 'k', hash, prefix: 'p' });
    expect(await store.keys.revoke(key.id)).toBe(true);
    expect(await store.keys.revoke(key.id)).toBe(false);
    expect(await store.keys.revoke('key_unknown')).toBe(false);
    expect((await store.keys.findByHash(hash))?.revoked).toBe(true);
    const revokedAt = (await store.keys.get(key.id))?.revokedAt;
    expect(revokedAt).toBeInstanceOf(Date);
    expect(Math.abs((revokedAt?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
  });

  it('sets and clears a key expiry, seen by the key lookup', async () => {
    const user = await store.users.create(email());
    const hash = sha256(rid());
    const key = await store.keys.create({ userId: user.id, name: 'k', hash, prefix: 'p' });
    expect(key.expiresAt).toBeNull();
    expect((await store.keys.findByHash(hash))?.expiresAt).toBeNull();
    const at = new Date(Date.now() + 86_400_000);
    expect(await store.keys.setExpiry(key.id, at)).toBe(true);
    expect((await store.keys.findByHash(hash))?.expiresAt?.getTime()).toBe(at.getTime());
    expect((await store.keys.get(key.id))?.expiresAt?.getTime()).toBe(at.getTime());
    expect(await store.keys.setExpiry(key.id, null)).toBe(true);
    expect((await store.keys.get(key.id))?.expiresAt).toBeNull();
    expect(await store.keys.setExpiry('key_unknown', at)).toBe(false);
  });

  it('stores notifications per user, skips a repeated dedupe key, lists newest first and marks read', async () => {
    const a = await store.users.create(email());
    const b = await store.users.create(email());
    const inserted = await store.notifications.create([
      { userId: a.id, kind: 'price_change', subject: 'Price change', body: 'gpt-x changes price', data: { model: 'gpt-x' }, dedupeKey: 'price:1' },
      { userId: b.id, kind: 'price_change', subject: 'Price change', body: 'gpt-x changes price', dedupeKey: 'price:1' },
    ]);
    expect(inserted).toBe(2);
    expect(await store.notifications.create([{ userId: a.id, kind: 'price_change', subject: 's', body: 'b', dedupeKey: 'price:1' }])).toBe(0);
    expect(await store.notifications.create([{ userId: a.id, kind: 'account', subject: 'Hello', body: 'welcome' }])).toBe(1);
    const list = await store.notifications.list(a.id, { limit: 10 });
    expect(list.map((n) => n.kind).sort()).toEqual(['account', 'price_change']);
    const price = list.find((n) => n.kind === 'price_change');
    expect(price?.data).toEqual({ model: 'gpt-x' });
    expect(price?.readAt).toBeNull();
    expect(await store.notifications.markRead(b.id, price?.id ?? '')).toBe(false);
    expect(await store.notifications.markRead(a.id, price?.id ?? '')).toBe(true);
    expect(await store.notifications.markRead(a.id, price?.id ?? '')).toBe(true);
    expect((await store.notifications.list(a.id, { limit: 10, unreadOnly: true })).map((n) => n.kind)).toEqual(['account']);
    expect(await store.notifications.list(b.id, { limit: 10 })).toHaveLength(1);
  });

  it('reports a suspended user through the key lookup', async () => {
    const user = await store.users.create(email());
    const hash = sha256(rid());
    await store.keys.create({ userId: user.id, name: 'k', hash, prefix: 'p' });
    expect(await store.users.setStatus(user.id, 'suspended')).toBe(true);
    expect(await store.keys.findByHash(hash)).toMatchObject({ userStatus: 'suspended', revoked: false });
    expect((await store.users.get(user.id))?.status).toBe('suspended');
    expect(await store.users.setStatus(user.id, 'active')).toBe(true);
    expect((await store.keys.findByHash(hash))?.userStatus).toBe('active');
    expect(await store.users.setStatus('usr_missing', 'suspended')).toBe(false);
  });

  it('keeps an account\'s rate-limit overrides: the key lookup carries them, null clears, absent fields stay', async () => {
    const user = await store.users.create(email());
    expect(user.rateLimits).toEqual({ rpm: null, tpm: null, concurrency: null });
    const hash = sha256(rid());
    await store.keys.create({ userId: user.id, name: 'k', hash, prefix: 'p', scopes: { rateLimits: { rpm: 7 } } });
    const other = await store.users.create(email());

    expect(await store.users.setRateLimits(user.id, { rpm: 3, tpm: 150_000 })).toBe(true);
    expect(await store.keys.findByHash(hash)).toMatchObject({
      rateLimits: { rpm: 7, tpm: null, concurrency: null }, accountLimits: { rpm: 3, tpm: 150_000, concurrency: null },
    });
    expect((await store.users.get(user.id))?.rateLimits).toEqual({ rpm: 3, tpm: 150_000, concurrency: null });
    expect((await store.accounts.get(user.id))?.user.rateLimits).toEqual({ rpm: 3, tpm: 150_000, concurrency: null });
    const listed = await store.users.list({ limit: 1000, offset: 0 });
    expect(listed.find((u) => u.id === user.id)?.rateLimits).toEqual({ rpm: 3, tpm: 150_000, concurrency: null });
    expect(listed.find((u) => u.id === other.id)?.rateLimits).toEqual({ rpm: null, tpm: null, concurrency: null });

    expect(await store.users.setRateLimits(user.id, { rpm: null, concurrency: 2 })).toBe(true);
    expect((await store.keys.findByHash(hash))?.accountLimits).toEqual({ rpm: null, tpm: 150_000, concurrency: 2 });
    expect(await store.users.setRateLimits(user.id, {})).toBe(true);
    expect((await store.users.get(user.id))?.rateLimits).toEqual({ rpm: null, tpm: 150_000, concurrency: 2 });
    expect(await store.users.setRateLimits('usr_missing', { rpm: 1 })).toBe(false);
    expect(await store.users.setRateLimits('usr_missing', {})).toBe(false);
    expect((await store.users.get(other.id))?.rateLimits).toEqual({ rpm: null, tpm: null, concurrency: null });
  });

  it('touches last-used times in a batch, never backwards', async () => {
    const user = await store.users.create(email());
    const a = await store.keys.create({ userId: user.id, name: 'a', hash: sha256(rid()), prefix: 'p' });
    const b = await store.keys.create({ userId: user.id, name: 'b', hash: sha256(rid()), prefix: 'p' });
    const t1 = new Date('2030-01-02T03:04:05.678Z');
    const t2 = new Date('2030-01-02T03:05:00.000Z');
    await store.keys.touch(new Map([[a.id, t1], [b.id, t2], ['key_unknown', t2]]));
    expect((await store.keys.get(a.id))?.lastUsedAt).toEqual(t1);
    expect((await store.keys.get(b.id))?.lastUsedAt).toEqual(t2);
    await store.keys.touch(new Map([[a.id, new Date('2029-01-01T00:00:00Z')]]));
    expect((await store.keys.get(a.id))?.lastUsedAt).toEqual(t1);
    await store.keys.touch(new Map());
    expect((await store.keys.get(b.id))?.lastUsedAt).toEqual(t2);
  });

  it('stores usage events with every field and lists them newest first', async () => {
    const userId = await fundedUser(store, 10_000n);
    const base = Date.now() - 10_000;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const requestId = rid();
      ids.push(requestId);
      expect((await store.ledger.hold({ requestId, userId, amount: 100n, expiresAt: inAMinute() })).ok).toBe(true);
      await store.ledger.settle({
        requestId, charge: 40n,
        usage: usageEvent(requestId, userId, { createdAt: new Date(base + i * 1000), stream: i % 2 === 0, ttfbMs: i === 1 ? null : 50 }),
      });
    }
    const listed = await store.usage.list({ userId, limit: 10 });
    expect(listed.map((e) => e.requestId)).toEqual([...ids].reverse());
    const middle = ids[1] ?? '';
    const event = await store.usage.get(middle);
    expect(event).toEqual(usageEvent(middle, userId, { createdAt: new Date(base + 1000), stream: false, ttfbMs: null, held: 100n, cost: 40n }));
    const older = await store.usage.list({ userId, limit: 10, beforeCreatedAt: new Date(base + 1000) });
    expect(older.map((e) => e.requestId)).toEqual([ids[0]]);
    expect(await store.usage.list({ userId, limit: 1 })).toHaveLength(1);
    expect(await store.usage.get('req_unknown')).toBeUndefined();
  });
});
