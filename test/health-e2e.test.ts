// Channel health end to end: a model served by two channels on two real mock upstreams. The broken one opens
// its breaker, is skipped (it receives nothing more), shows as open in /admin/v1/channels, and after the
// cooldown exactly one probe goes through; once the upstream is healthy again the probe closes the breaker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultYaml, startTestGateway, UPSTREAM_KEY, type TestGateway } from './helpers/gateway.ts';
import { startMockOpenAI, type MockOpenAI } from './upstreams/openai.ts';

interface ChannelRow {
  id: string;
  provider: string;
  models: string[];
  state: string;
  open_until: string | null;
  open_reason: string | null;
  cooldown_ms: number;
  consecutive_failures: number;
  error_rate: number;
  requests_in_window: number;
  latency_ewma_ms: number | null;
  ttfb_ewma_ms: number | null;
  retry_after_until: string | null;
}

const FLAKY = 'flaky/gpt-4o-mini';
const MAIN = 'main-openai/gpt-4o-mini';
const COOLDOWN_MS = 2_500;

let t: TestGateway;
let broken: MockOpenAI;
let failing = true;
let key: string;

const flakyProviders = `  - id: flaky
    type: openai-compatible
    base_url: BROKEN_URL
    api_key: \${UPSTREAM_KEY}
  - id: wrong-key
    type: openai-compatible
    base_url: MAIN_URL
    api_key: sk-not-the-right-one
`;
const duoModels = `  - id: duo
    channels:
      - { provider: flaky, upstream_model: gpt-4o-mini, priority: 0 }
      - { provider: main-openai, upstream_model: gpt-4o-mini, priority: 1 }
    price: { input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }
  - id: solo
    channels:
      - { provider: flaky, upstream_model: gpt-4o-mini }
    price: { input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }
  - id: keyed
    channels:
      - { provider: wrong-key, upstream_model: gpt-4o-mini, priority: 0 }
      - { provider: main-openai, upstream_model: gpt-4o-mini, priority: 1 }
    price: { input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }
health: { cooldown_ms: ${COOLDOWN_MS}, max_cooldown_ms: ${COOLDOWN_MS * 2} }
`;

beforeAll(async () => {
  broken = await startMockOpenAI({ apiKey: UPSTREAM_KEY, fault: () => (failing ? { status: 503 } : undefined) });
  t = await startTestGateway({
    yaml: (mainUrl) => defaultYaml(mainUrl, flakyProviders.replace('BROKEN_URL', broken.url).replace('MAIN_URL', mainUrl), duoModels),
  });
  key = (await t.newUser('100')).key;
});

afterAll(async () => {
  await t?.close();
  await broken?.close();
});

async function chat(model: string): Promise<{ status: number; attempts: string }> {
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: '#reply:ok' }], max_tokens: 20 }),
  });
  await res.arrayBuffer();
  return { status: res.status, attempts: res.headers.get('x-switchyard-attempts') ?? '' };
}

const tried = (attempts: string): string[] => attempts.split(', ').filter(Boolean).map((a) => a.split(';').slice(0, 2).join(';'));

async function channels(): Promise<Map<string, ChannelRow>> {
  const res = await t.admin('GET', '/channels');
  expect(res.status).toBe(200);
  return new Map((res.json.data as ChannelRow[]).map((row) => [row.id, row]));
}

async function row(id: string): Promise<ChannelRow> {
  const found = (await channels()).get(id);
  if (!found) throw new Error(`no channel ${id}`);
  return found;
}

async function waitForState(id: string, state: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await row(id)).state !== state) {
    if (Date.now() > until) throw new Error(`${id} never became ${state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('channel health end to end', () => {
  it('lists every channel, closed, before traffic', async () => {
    const all = await channels();
    expect([...all.keys()].sort()).toEqual([FLAKY, MAIN, 'main-openai/upstream-name', 'main-openai/text-embedding-3-small', 'wrong-key/gpt-4o-mini'].sort());
    expect(all.get(MAIN)).toMatchObject({ provider: 'main-openai', models: ['gpt-4o-mini', 'duo', 'keyed'], state: 'closed', open_until: null, consecutive_failures: 0, requests_in_window: 0 });
    expect(all.get(FLAKY)?.models).toEqual(['duo', 'solo']);
    expect((await t.admin('GET', '/channels')).json.sharing).toEqual({ backend: 'local', connected: true });
  });

  it('opens the broken channel after 5 failures, then skips it', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await chat('duo');
      expect(r.status).toBe(200);
      expect(tried(r.attempts)).toEqual([`${FLAKY};upstream_error`, `${MAIN};ok`]);
    }
    expect(broken.requests).toHaveLength(5);
    for (let i = 0; i < 3; i++) {
      const r = await chat('duo');
      expect(r.status).toBe(200);
      expect(tried(r.attempts)).toEqual([`${MAIN};ok`]);
    }
    expect(broken.requests).toHaveLength(5);

    const flaky = await row(FLAKY);
    expect(flaky).toMatchObject({ state: 'open', open_reason: 'consecutive_failures', consecutive_failures: 5, error_rate: 1, requests_in_window: 5, cooldown_ms: COOLDOWN_MS });
    expect(Date.parse(flaky.open_until ?? '')).toBeGreaterThan(Date.now());
    const main = await row(MAIN);
    expect(main).toMatchObject({ state: 'closed', error_rate: 0, requests_in_window: 8 });
    expect(main.ttfb_ewma_ms).toBeGreaterThan(0);
    expect(main.latency_ewma_ms).toBeGreaterThanOrEqual(main.ttfb_ewma_ms ?? 0);
  });

  it('still tries an open channel when it is the only one (better a probe than a certain 503)', async () => {
    const r = await chat('solo');
    expect(r.status).toBe(502);
    expect(broken.requests).toHaveLength(6);
    expect(await row(FLAKY)).toMatchObject({ state: 'open', cooldown_ms: COOLDOWN_MS });
  });

  it('after the cooldown lets exactly one probe through; its failure re-opens with a doubled cooldown', async () => {
    await waitForState(FLAKY, 'half_open');
    const results = await Promise.all(Array.from({ length: 6 }, () => chat('duo')));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(broken.requests).toHaveLength(7);
    const probed = results.filter((r) => r.attempts.includes(FLAKY));
    expect(probed.map((r) => tried(r.attempts))).toEqual([[`${FLAKY};upstream_error`, `${MAIN};ok`]]);
    expect(await row(FLAKY)).toMatchObject({ state: 'open', open_reason: 'probe_failed', cooldown_ms: COOLDOWN_MS * 2 });
  });

  it('closes when a probe succeeds', async () => {
    failing = false;
    await waitForState(FLAKY, 'half_open');
    const r = await chat('duo');
    expect(tried(r.attempts)).toEqual([`${FLAKY};ok`]);
    expect(await row(FLAKY)).toMatchObject({ state: 'closed', consecutive_failures: 0, open_until: null, cooldown_ms: COOLDOWN_MS });
  });

  it('opens a channel whose key the upstream refuses (401) at once, and fails over', async () => {
    const first = await chat('keyed');
    expect(first.status).toBe(200);
    expect(tried(first.attempts)).toEqual(['wrong-key/gpt-4o-mini;upstream_auth_failed', `${MAIN};ok`]);
    expect(await row('wrong-key/gpt-4o-mini')).toMatchObject({ state: 'open', open_reason: 'auth_failed', consecutive_failures: 1 });
    expect(tried((await chat('keyed')).attempts)).toEqual([`${MAIN};ok`]);
  });
});
