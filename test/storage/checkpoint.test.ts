// WAL checkpoints run in a worker thread, not inside request commits: the request connection has automatic
// checkpoints off, and the database file still receives the committed pages.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/storage/index.ts';

describe('sqlite checkpoints', () => {
  it('are taken off the request thread and still reach the database file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-ckpt-'));
    const file = join(dir, 'x.db');
    const store = await openStore(`sqlite:${file}`);
    try {
      await store.migrate();
      const user = await store.users.create('c@example.com');
      await store.ledger.credit({ userId: user.id, kind: 'grant', amount: 10n ** 12n, actor: 't', reason: null });
      await new Promise((r) => setTimeout(r, 600));
      const before = statSync(file).size;
      for (let i = 0; i < 1500; i++) {
        const requestId = `req_ckpt_${i}`;
        await store.ledger.hold({ requestId, userId: user.id, amount: 1000n, expiresAt: new Date(Date.now() + 60_000) });
        await store.ledger.settle({
          requestId,
          charge: 10n,
          usage: {
            requestId, userId: user.id, keyId: 'k', model: 'm', provider: 'p', channel: 'c', endpoint: 'chat', stream: false,
            inputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 1, reasoningTokens: 0, held: 1000n, cost: 10n,
            priceVersion: 1, status: 'ok', httpStatus: 200, errorCode: null, latencyMs: 1, ttfbMs: null, createdAt: new Date(),
          },
        });
      }
      await new Promise((r) => setTimeout(r, 800));
      expect(statSync(file).size).toBeGreaterThan(before);
      expect(await store.ledger.sum(user.id)).toBe(await store.ledger.balance(user.id));
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
