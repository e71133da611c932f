// Adaptive deadlines: a channel's time-to-first-byte p95, and a first-byte deadline that follows it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelHealth } from '../src/routing/health.ts';
import { defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';

describe('time-to-first-byte p95', () => {
  it('is unknown below 20 samples, then the 95th percentile of the recent ones, recomputed once a second', () => {
    const clock = { t: 1_000_000 };
    const breaker = new ChannelHealth({}, { now: () => clock.t }).breaker('c');
    for (let i = 1; i <= 19; i++) breaker.record({ ok: true, ttfbMs: i });
    expect(breaker.ttfbP95()).toBeNull();
    clock.t += 1_000;
    for (let i = 20; i <= 100; i++) breaker.record({ ok: true, ttfbMs: i });
    expect(breaker.ttfbP95()).toBe(96);
    for (let i = 0; i < 128; i++) breaker.record({ ok: true, ttfbMs: 5 });
    expect(breaker.ttfbP95()).toBe(96); // cached for a second
    clock.t += 1_000;
    expect(breaker.ttfbP95()).toBe(5); // the old samples have been replaced
  });
});

describe('adaptive first-byte deadline', () => {
  let t: TestGateway;
  let upstream: Server;
  let delayMs = 20;

  beforeAll(async () => {
    // An upstream whose first byte takes `delayMs`.
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        setTimeout(() => {
          const body = JSON.stringify({ id: 'chatcmpl-a', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok', refusal: null }, finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(body);
        }, delayMs);
      });
    });
    await new Promise<void>((ok) => upstream.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    t = await startTestGateway({
      yaml: (mockUrl) =>
        defaultYaml(
          mockUrl,
          `  - { id: steady, type: openai-compatible, base_url: "${url}", timeouts: { first_byte_ms: 5000, adaptive_first_byte: true } }`,
          `  - { id: adaptive-model, channels: [{ provider: steady, priority: 0 }, { provider: main-openai, upstream_model: gpt-4o-mini, priority: 1 }], price: { input_per_mtok_usd: 1, output_per_mtok_usd: 1 } }`,
        ),
    });
  });
  afterAll(async () => {
    await t?.close();
    upstream?.closeAllConnections();
    await new Promise((ok) => upstream?.close(ok));
  });

  it('learns the channel p95 and fails over when the channel is far slower than its usual, long before the ceiling', async () => {
    const { key } = await t.newUser('5');
    const client = t.client(key);
    for (let i = 0; i < 25; i++) {
      const r = await client.chat.completions.create({ model: 'adaptive-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
      expect(r.choices[0]?.message.content).toBe('ok');
    }
    await new Promise((r) => setTimeout(r, 1_100)); // let the p95 be recomputed
    delayMs = 2_000; // now far slower than its p95 (~20 ms), still under the 5 s ceiling
    const started = performance.now();
    const { data, response } = await client.chat.completions
      .create({ model: 'adaptive-model', messages: [{ role: 'user', content: '#reply:from the secondary' }], max_tokens: 5 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('from the secondary');
    expect(response.headers.get('x-switchyard-attempts')).toMatch(/^steady\/adaptive-model;upstream_timeout;\d+ms, main-openai\/gpt-4o-mini;ok/);
    expect(performance.now() - started).toBeLessThan(1_000); // the adaptive deadline (≥ 250 ms), not the 5 s ceiling
  });
});
