// Hedging (opt-in per model): when the first channel has not answered within the hedge delay, the next one
// starts too; the first to answer wins, the loser is cancelled and never billed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
let slow: Server;
let slowSeen = 0;
let slowAborted = 0;

beforeAll(async () => {
  // An upstream that accepts the request and never answers (until the gateway gives up on it).
  slow = createServer((req, res) => {
    slowSeen += 1;
    req.resume();
    res.on('close', () => {
      if (!res.writableFinished) slowAborted += 1;
    });
  });
  await new Promise<void>((ok) => slow.listen(0, '127.0.0.1', ok));
  const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/v1`;
  t = await startTestGateway({
    yaml: (mockUrl) =>
      defaultYaml(
        mockUrl,
        `  - { id: slow, type: openai-compatible, base_url: "${slowUrl}" }`,
        `  - id: hedged
    hedge: { delay_ms: 150 }
    channels: [{ provider: slow, priority: 0 }, { provider: main-openai, upstream_model: gpt-4o-mini, priority: 1 }]
    price: { input_per_mtok_usd: 1, output_per_mtok_usd: 2 }`,
      ),
  });
});
afterAll(async () => {
  await t?.close();
  slow?.closeAllConnections();
  await new Promise((ok) => slow?.close(ok));
});

async function metricsText(): Promise<string> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
}

describe('hedging', () => {
  it('starts the next channel after the delay, cancels the slow one, bills once', async () => {
    const { key, userId } = await t.newUser('5');
    const started = performance.now();
    const { data, response } = await t.client(key).chat.completions.create({ model: 'hedged', messages: [{ role: 'user', content: '#reply:fast one' }], max_tokens: 10 }).withResponse();
    const ms = performance.now() - started;
    expect(data.choices[0]?.message.content).toBe('fast one');
    expect(ms).toBeLessThan(1_500);
    expect(response.headers.get('x-switchyard-attempts')).toMatch(/main-openai\/gpt-4o-mini;ok;\d+ms/);
    await new Promise((r) => setTimeout(r, 100));
    expect(slowSeen).toBe(1);
    expect(slowAborted).toBe(1); // the loser's upstream request was cancelled
    const ledger = (await t.admin('GET', `/users/${userId}/ledger`)).json.data as Array<{ kind: string }>;
    expect(ledger.filter((e) => e.kind === 'capture')).toHaveLength(1);
    expect(ledger.filter((e) => e.kind === 'hold')).toHaveLength(1);
    const channels = (await t.admin('GET', '/channels')).json.data as Array<{ id: string; hedges: number; state: string }>;
    const slowChannel = channels.find((c) => c.id.startsWith('slow/'));
    expect(slowChannel?.hedges).toBe(1);
    expect(slowChannel?.state).toBe('closed'); // a cancelled hedge is not the channel's failure

    // The hedge is counted in /metrics: started on the slow channel, won by the fast one, the loser cancelled.
    const metrics = await metricsText();
    expect(metrics).toMatch(/^switchyard_channel_hedges_total\{channel="slow\/[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^switchyard_channel_hedge_wins_total\{channel="main-openai\/gpt-4o-mini"\} 1$/m);
    expect(metrics).toMatch(/^switchyard_channel_attempts_total\{channel="slow\/[^"]+",outcome="hedge_cancelled"\} 1$/m);
    expect(metrics).toMatch(/^switchyard_channel_attempts_total\{channel="main-openai\/gpt-4o-mini",outcome="ok"\} 1$/m);
    expect(metrics).toMatch(/^switchyard_channel_state\{channel="slow\/[^"]+",provider="slow"\} 0$/m);
    expect(metrics).toMatch(/^switchyard_http_requests_total\{route="\/v1\/chat\/completions",method="POST",status="200"\} 1$/m);
  });

  it('serves /metrics only with the admin (or metrics) token', async () => {
    expect((await fetch(`${t.url}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${t.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    const ok = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await ok.text()).toMatch(/^switchyard_process_cpu_user_seconds_total \d/m);
  });

  it('streams too: the hedge that produces the first token wins', async () => {
    const { key } = await t.newUser('5');
    const stream = await t.client(key).chat.completions.create({ model: 'hedged', stream: true, messages: [{ role: 'user', content: '#words:4' }], max_tokens: 10 });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('w1 w2 w3 w4');
  });
});
