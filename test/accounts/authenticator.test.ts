// The key authenticator against a real SQLite store: valid, unknown, revoked, expired and suspended keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyAuthenticator } from '../../src/accounts/authenticator.ts';
import { generateApiKey } from '../../src/accounts/keys.ts';
import { GatewayError } from '../../src/domain/errors.ts';
import type { Store } from '../../src/storage/types.ts';
import { openSqliteTestStore } from '../helpers/stores.ts';

describe('KeyAuthenticator', () => {
  let store: Store;
  let auth: KeyAuthenticator;
  beforeAll(async () => {
    store = await openSqliteTestStore();
    auth = new KeyAuthenticator(store.keys, { ttlMs: 60_000, maxEntries: 100, touchEveryMs: 60_000 });
  });
  afterAll(async () => {
    await auth.close();
    await store.close();
  });

  async function newKey(): Promise<{ key: string; id: string; userId: string }> {
    const user = await store.users.create(`u-${Math.random().toString(36).slice(2)}@example.com`);
    const generated = generateApiKey();
    const record = await store.keys.create({ userId: user.id, name: 'k', hash: generated.hash, prefix: generated.prefix });
    return { key: generated.key, id: record.id, userId: user.id };
  }

  async function failure(key: string | undefined): Promise<GatewayError> {
    const error = await auth.authenticate(key).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }

  it('accepts a valid key and refuses a missing or unknown one with 401 invalid_api_key', async () => {
    const { key, id, userId } = await newKey();
    expect(await auth.authenticate(key)).toMatchObject({ keyId: id, userId, allowedModels: null });
    expect((await failure(undefined)).code).toBe('invalid_api_key');
    const unknown = await failure('sk-sy-' + 'A'.repeat(43));
    expect([unknown.status, unknown.code]).toEqual([401, 'invalid_api_key']);
  });

  it('refuses a key once its expiry has passed, also when it was cached before', async () => {
    const { key, id } = await newKey();
    await store.keys.setExpiry(id, new Date(Date.now() + 150));
    expect((await auth.authenticate(key)).keyId).toBe(id);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const error = await failure(key);
    expect([error.status, error.code, error.message]).toEqual([401, 'invalid_api_key', 'This API key has expired.']);
  });

  it('refuses a revoked key and a suspended user after eviction', async () => {
    const revoked = await newKey();
    await auth.authenticate(revoked.key);
    await store.keys.revoke(revoked.id);
    auth.evictKey(revoked.id);
    expect((await failure(revoked.key)).message).toBe('This API key has been revoked.');

    const suspended = await newKey();
    await auth.authenticate(suspended.key);
    await store.users.setStatus(suspended.userId, 'suspended');
    auth.evictUser(suspended.userId);
    expect((await failure(suspended.key)).code).toBe('account_suspended');
  });
});
