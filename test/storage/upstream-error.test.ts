// A usage event keeps the upstream's error summary (migration 0013) through every way it is written: a settle
// alone and in a group-commit batch (PostgreSQL's sy_settle_batch), and metered billing's record, alone and
// batched; the sweeper's 'expired' event and an ok event have none.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamSummary } from '../../src/domain/upstream-errors.ts';
import type { Store } from '../../src/storage/types.ts';
import { storeBackends } from '../helpers/stores.ts';
import { fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

const summary = (i: number): UpstreamSummary => ({ status: 429, code: 'rate_limit_exceeded', message: `Rate limit reached in organization [org] (${i})` });

describe.each(storeBackends())('upstream error summary on $name', (backend) => {
  let store: Store;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(async () => {
    await store.close();
  });

  it('settles alone and in batches keep it; an event without one reads null', async () => {
    const userId = await fundedUser(store, 1_000_000n);
    const ids = Array.from({ length: 24 }, () => rid());
    await Promise.all(ids.map((requestId) => store.ledger.hold({ requestId, userId, amount: 100n, expiresAt: inAMinute() })));
    const before = store.ledger.batching?.();
    // Concurrent settles: batched on PostgreSQL. Every other one failed upstream.
    await Promise.all(ids.map((requestId, i) => store.ledger.settle({
      requestId, charge: 0n,
      usage: usageEvent(requestId, userId, i % 2 === 0 ? { status: 'error', httpStatus: 429, errorCode: 'upstream_rate_limited', upstreamError: summary(i) } : {}),
    })));
    for (const [i, requestId] of ids.entries()) {
      expect((await store.usage.get(requestId))?.upstreamError ?? null).toEqual(i % 2 === 0 ? summary(i) : null);
    }
    const after = store.ledger.batching?.();
    if (before && after) expect(after.settle.batches).toBeGreaterThan(before.settle.batches);

    // One settle alone (the idle path), with a transport failure's summary (no status).
    const alone = rid();
    await store.ledger.hold({ requestId: alone, userId, amount: 100n, expiresAt: inAMinute() });
    const transport: UpstreamSummary = { status: null, code: 'connect', message: 'connect ECONNREFUSED [ip]' };
    await store.ledger.settle({ requestId: alone, charge: 0n, usage: usageEvent(alone, userId, { status: 'error', httpStatus: 502, upstreamError: transport }) });
    expect((await store.usage.get(alone))?.upstreamError).toEqual(transport);
    const listed = (await store.usage.list({ userId, limit: 100 })).find((e) => e.requestId === alone);
    expect(listed?.upstreamError).toEqual(transport);
  });

  it('metered records keep it, alone and batched', async () => {
    const userId = await fundedUser(store, 0n);
    const ids = Array.from({ length: 12 }, () => rid());
    await Promise.all(ids.map((requestId, i) => store.usage.record(usageEvent(requestId, userId, { cost: 5n, upstreamError: summary(i) }))));
    for (const [i, requestId] of ids.entries()) expect((await store.usage.get(requestId))?.upstreamError).toEqual(summary(i));
  });
});
