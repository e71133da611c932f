// A client that goes away mid-stream cancels the upstream request, and the hold is settled for what was
// delivered (docs/billing.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

async function waitFor(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function events(userId: string): Promise<Array<Record<string, unknown>>> {
  return (await t.admin('GET', `/usage?user=${userId}`)).json.data as Array<Record<string, unknown>>;
}

describe('client disconnect', () => {
  it('mid-stream: cancels the upstream and bills the delivered output only', async () => {
    const { userId, key } = await t.newUser('10');
    const abortedBefore = t.mock.stats.aborted;
    const controller = new AbortController();
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: '#words:200 #chunkdelay:30' }] }),
      signal: controller.signal,
    });
    const reader = res.body?.getReader();
    if (!reader) throw new Error('no body');
    let received = '';
    while ((received.match(/"content":"[^"]+"/g) ?? []).length < 5) {
      const { value, done } = await reader.read();
      if (done) break;
      received += new TextDecoder().decode(value);
    }
    controller.abort();
    await waitFor(() => t.mock.stats.aborted > abortedBefore);
    await waitFor(async () => (await events(userId)).length > 0);
    const [event] = await events(userId);
    expect(event?.status).toBe('client_closed');
    const output = (event?.tokens as Record<string, number>).output;
    expect(output).toBeGreaterThanOrEqual(5);
    expect(output).toBeLessThan(100);
    expect(Number(event?.cost_credits)).toBeGreaterThan(0);
    expect(Number(event?.cost_credits)).toBeLessThan(Number(event?.held_credits));
    const balance = parseCredits(String((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits));
    expect(await t.gateway.deps.store.ledger.sum(userId)).toBe(balance);
    expect(balance).toBe(parseCredits('10')! - parseCredits(String(event?.cost_credits))!);
  });

  it('before the first byte: cancels the upstream and charges nothing', async () => {
    const { userId, key } = await t.newUser('10');
    const abortedBefore = t.mock.stats.aborted;
    const controller = new AbortController();
    const pending = fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#hang' }] }),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    await waitFor(() => t.mock.stats.inFlight > 0);
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor(() => t.mock.stats.aborted > abortedBefore);
    await waitFor(async () => (await events(userId)).length > 0);
    const [event] = await events(userId);
    expect(event).toMatchObject({ status: 'client_closed', cost_credits: '0' });
    expect((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits).toBe('10');
  });
});
