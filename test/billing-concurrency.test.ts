// The hold is one atomic conditional statement: 200 concurrent requests at a key whose balance covers
// exactly 50 worst-case holds → exactly 50 admitted, 150 × 402, and balance = Σ ledger. On both databases.
import { describe, expect, it } from 'vitest';
import { quoteChat } from '../src/billing/quote.ts';
import { formatCredits, parseCredits } from '../src/domain/money.ts';
import type { ChatRequest } from '../src/providers/shared/types.ts';
import { startTestGateway } from './helpers/gateway.ts';

const backends: Array<'sqlite' | 'postgres'> = process.env.SWITCHYARD_TEST_PG === '1' ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(backends)('concurrent holds on %s', (backend) => {
  it('admits exactly as many requests as the balance covers', async () => {
    const t = await startTestGateway({ backend });
    try {
      // The upstream waits 2.5 s, so every hold is taken before any settle gives credits back.
      const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#delay:2500 #reply:ok' }], max_tokens: 2000 };
      const model = t.gateway.deps.catalogue.get('gpt-4o-mini');
      if (!model) throw new Error('model missing');
      const hold = quoteChat(body as ChatRequest, model).hold;
      const { userId, key } = await t.newUser(formatCredits(hold * 50n));

      const results = await Promise.all(
        Array.from({ length: 200 }, () =>
          fetch(`${t.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          }).then(async (res) => ({ status: res.status, body: (await res.json()) as { error?: { code: string } } })),
        ),
      );
      const ok = results.filter((r) => r.status === 200).length;
      const refused = results.filter((r) => r.status === 402);
      expect(ok).toBe(50);
      expect(refused).toHaveLength(150);
      expect(refused.every((r) => r.body.error?.code === 'insufficient_quota')).toBe(true);

      const balance = parseCredits(String((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits));
      const ledger = (await t.admin('GET', `/users/${userId}/ledger?limit=1000`)).json.data as Array<{ kind: string; amount_credits: string }>;
      const sum = ledger.reduce((acc, e) => acc + (parseCredits(e.amount_credits) ?? 0n), 0n);
      expect(balance).toBeDefined();
      expect(balance).toBeGreaterThanOrEqual(0n);
      expect(sum).toBe(balance);
      expect(ledger.filter((e) => e.kind === 'hold')).toHaveLength(50);
      expect(ledger.filter((e) => e.kind === 'capture')).toHaveLength(50);
      expect(await t.gateway.deps.store.ledger.sum(userId)).toBe(balance);
    } finally {
      await t.close();
    }
  }, 60_000);
});
