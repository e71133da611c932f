// Small builders shared by the storage tests.

import { randomBytes } from 'node:crypto';
import type { Store, UsageEvent } from '../../src/storage/types.ts';

export const rid = (): string => 'req_' + randomBytes(8).toString('hex');
export const email = (): string => `u_${randomBytes(6).toString('hex')}@example.test`;
export const inAMinute = (): Date => new Date(Date.now() + 60_000);

export function usageEvent(requestId: string, userId: string, over: Partial<UsageEvent> = {}): UsageEvent {
  return {
    requestId,
    userId,
    keyId: 'key_test',
    model: 'gpt-test',
    provider: 'openai',
    channel: 'primary',
    endpoint: '/v1/chat/completions',
    stream: true,
    inputTokens: 120,
    cachedInputTokens: 20,
    cacheWriteTokens: 0,
    outputTokens: 64,
    reasoningTokens: 8,
    // Deliberately wrong: the store overrides held and cost with the hold's real numbers.
    held: 999_999n,
    cost: 777_777n,
    priceVersion: 3,
    status: 'ok',
    httpStatus: 200,
    errorCode: null,
    latencyMs: 1234,
    ttfbMs: 210,
    attempts: 'p/m;ok;12ms',
    createdAt: new Date(Math.floor(Date.now() / 1000) * 1000),
    ...over,
  };
}

/** A user credited with `balance` micro-credits. */
export async function fundedUser(store: Store, balance: bigint): Promise<string> {
  const user = await store.users.create(email());
  if (balance > 0n) await store.ledger.credit({ userId: user.id, kind: 'grant', amount: balance, actor: 'test', reason: 'setup' });
  return user.id;
}

/** The invariant: Σ ledger = users.balance. Returns the balance. */
export async function expectConsistent(store: Store, userId: string): Promise<bigint> {
  const [balance, sum] = await Promise.all([store.ledger.balance(userId), store.ledger.sum(userId)]);
  if (balance === undefined) throw new Error(`no user ${userId}`);
  if (balance !== sum) throw new Error(`ledger sum ${sum} != balance ${balance} for ${userId}`);
  return balance;
}
