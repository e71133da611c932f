// Small builders shared by the storage tests.

import { randomBytes } from 'node:crypto';
import { tokenRates, type PriceRates } from '../../src/domain/usage.ts';
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
    upstreamError: null,
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

/** Token rates of a cheap chat model (0.15 / 0.075 cached / 0.60 USD per million tokens), in micro-credits. */
export const BASE_RATES: PriceRates = tokenRates({ inputPerMtok: 150_000_000n, cachedInputPerMtok: 75_000_000n, cacheWritePerMtok: 150_000_000n, outputPerMtok: 600_000_000n });

/** Every price shape at once (reasoning 2 USD/Mtok, 0.005 USD a request, images, video, audio), in micro-credits. */
export const MEDIA_RATES: PriceRates = {
  ...BASE_RATES,
  reasoningPerMtok: 2_000_000_000n,
  perRequest: 5_000_000n,
  perImage: { '1024x1024': { low: 11_000_000n, high: 167_000_000n }, '1536x1024': { high: 250_000_000n } },
  videoPerSecond: { '720p': 100_000_000n, '1080p': 300_000_000n },
  audioInputPerMinute: 6_000_000n,
  audioOutputPerMinute: 15_000_000n,
};
