// Holds that outlive their process (issue 5, item 2): a gateway process is killed with SIGKILL while requests hold
// credits (their upstream hangs); a new process on the same SQLite file releases the holds once they expire — the
// credits come back, each release is a `release` entry by the sweeper, each request gets an 'expired' usage event
// and receipt, and the ledger still verifies.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { startGatewayProcess, type GatewayProcess } from './helpers/processes.ts';
import { startMockOpenAI, type MockOpenAI } from './upstreams/openai.ts';

const TOKEN = 'admin-hold-expiry-token-0123456789';
const TTL_MS = 3_000;
const IN_FLIGHT = 6;

let dir: string;
let mock: MockOpenAI;
const processes: GatewayProcess[] = [];

beforeAll(async () => {
  mock = await startMockOpenAI({ apiKey: 'up-key' });
  dir = mkdtempSync(join(tmpdir(), 'switchyard-kill-'));
  writeFileSync(
    join(dir, 'switchyard.yaml'),
    [
      'providers:',
      `  - { id: up, type: openai-compatible, base_url: "${mock.url}", api_key: up-key }`,
      'models:',
      '  - id: gpt-4o-mini',
      '    channels: [{ provider: up }]',
      '    price: { input_per_mtok_usd: 1, output_per_mtok_usd: 2 }',
      `holds: { ttl_ms: ${TTL_MS}, sweep_interval_ms: 200 }`,
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  for (const p of processes) await p.stop();
  await mock?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<GatewayProcess> {
  const p = await startGatewayProcess(dir, { SWITCHYARD_ADMIN_TOKEN: TOKEN });
  processes.push(p);
  return p;
}

async function admin(p: GatewayProcess, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${p.url}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const credits = (text: unknown): bigint => {
  const value = parseCredits(String(text));
  if (value === undefined) throw new Error(`not credits: ${String(text)}`);
  return value;
};

interface Entry { id: string; kind: string; amount_credits: string; request_id: string | null; actor: string | null; reason: string | null; created_at: string }

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('kill -9 with holds in flight', () => {
  it('a new process releases the dead one’s holds once they expire, records them, and the ledger verifies', async () => {
    const first = await start();
    const user = await admin(first, 'POST', '/users', { email: 'crash@example.com' });
    const userId = String(user.id);
    await admin(first, 'POST', `/users/${userId}/credits`, { credits: '10', reason: 'test' });
    const { key } = (await admin(first, 'POST', `/users/${userId}/keys`, { name: 'crash' })) as { key: string };

    // Requests whose upstream never answers: each holds its worst case until the process dies.
    const hanging = Array.from({ length: IN_FLIGHT }, () =>
      fetch(`${first.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 200, messages: [{ role: 'user', content: '#hang' }] }),
      }).then((res) => res.status, (error: unknown) => error),
    );
    await waitFor('the requests to reach the upstream', async () => (mock.stats.inFlight === IN_FLIGHT ? true : undefined));
    const held = (await admin(first, 'GET', `/users/${userId}/ledger?limit=100`)).data as Entry[];
    const holds = held.filter((e) => e.kind === 'hold');
    expect(holds).toHaveLength(IN_FLIGHT);
    const perHold = -credits(holds[0]?.amount_credits);
    expect(perHold).toBeGreaterThan(0n);
    expect(credits((await admin(first, 'GET', `/users/${userId}/balance`)).balance_credits)).toBe(credits('10') - BigInt(IN_FLIGHT) * perHold);

    await first.kill();
    expect(first.child.signalCode).toBe('SIGKILL');
    // The clients lose their connections; nothing settled the holds.
    for (const outcome of await Promise.all(hanging)) expect(outcome).toBeInstanceOf(Error);

    const second = await start();
    const balance = await waitFor('the credits to come back', async () => {
      const b = credits((await admin(second, 'GET', `/users/${userId}/balance`)).balance_credits);
      return b === credits('10') ? b : undefined;
    });
    expect(balance).toBe(credits('10'));

    const entries = ((await admin(second, 'GET', `/users/${userId}/ledger?limit=100`)).data as Entry[]).reverse();
    expect(entries.map((e) => e.kind).sort()).toEqual(['grant', ...Array<string>(IN_FLIGHT).fill('hold'), ...Array<string>(IN_FLIGHT).fill('release')].sort());
    for (const hold of entries.filter((e) => e.kind === 'hold')) {
      const release = entries.find((e) => e.kind === 'release' && e.request_id === hold.request_id);
      expect(release).toMatchObject({ amount_credits: hold.amount_credits.slice(1), actor: 'sweeper', reason: 'hold expired' });
      // Released only after the hold's expiry, never while its request could still have been running.
      expect(Date.parse(release?.created_at ?? '') - Date.parse(hold.created_at)).toBeGreaterThanOrEqual(TTL_MS);
    }

    const events = (await admin(second, 'GET', `/usage?user=${userId}`)).data as Array<Record<string, unknown>>;
    expect(events).toHaveLength(IN_FLIGHT);
    for (const event of events) {
      expect(event).toMatchObject({ model: 'gpt-4o-mini', endpoint: 'chat.completions', status: 'expired', http_status: 0, error_code: 'hold_expired', cost_credits: '0' });
      expect(credits(event.held_credits)).toBe(perHold);
    }

    // The caller can read the receipt of a request its dead process never answered.
    const requestId = String(events[0]?.request_id);
    const receipt = await fetch(`${second.url}/v1/generation?id=${requestId}`, { headers: { authorization: `Bearer ${key}` } });
    expect(receipt.status).toBe(200);
    const { data } = (await receipt.json()) as { data: Record<string, unknown> };
    expect(data).toMatchObject({ id: requestId, status: 'expired', total_cost: '0', credits: { charged: '0' } });
    expect(credits((data.credits as Record<string, unknown>).released)).toBe(perHold);
    expect((data.ledger as Entry[]).map((e) => [e.kind, e.actor])).toEqual([['hold', null], ['release', 'sweeper']]);

    const verify = await admin(second, 'GET', '/ledger/verify?all=true');
    expect(verify).toMatchObject({ ok: true, checked_users: 1, totals: { drift_credits: '0', open_holds: 0, unreleased_hold_entries: 0 } });

    // And the new process serves as usual.
    const res = await fetch(`${second.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: '#reply:alive' }] }),
    });
    expect(res.status).toBe(200);
  }, 90_000);
});
