// A stream client that stops reading but never disconnects cannot hold its stream, its upstream connection and
// its hold forever: once the gateway's bounded buffer is full and nothing drains for
// server.stream_stall_timeout_ms, the gateway closes the response, cancels the upstream and settles the request
// as the client's (billed for what left the process, never above the hold).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { startFirehose, type Firehose } from './upstreams/firehose.ts';

let t: TestGateway;
let fh: Firehose;

beforeAll(async () => {
  fh = await startFirehose();
  t = await startTestGateway({
    env: { SWITCHYARD_STREAM_STALL_TIMEOUT_MS: '1000' },
    yaml: () => `
providers:
  - { id: fh, type: openai-compatible, base_url: "${fh.url}/firehose", api_key: k }
models:
  - { id: firehose, max_output_tokens: 50000000, channels: [{ provider: fh }], price: { input_per_mtok_usd: 0.001, output_per_mtok_usd: 0.001 } }
`,
  });
}, 60_000);
afterAll(async () => {
  await t?.close();
  await fh?.close();
});

describe('a stream client that stops reading and stays connected', () => {
  it('is cut off after the stall timeout: upstream cancelled, request settled', async () => {
    const { userId, key } = await t.newUser('1000');
    const req = httpRequest(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'firehose', stream: true, messages: [{ role: 'user', content: 'go' }] }));
    });
    expect(res.statusCode).toBe(200);
    res.pause(); // reads nothing more, and never closes its side (a paused socket would not even see the close)
    res.socket.on('error', () => undefined);
    const started = performance.now();
    const until = Date.now() + 20_000;
    let event: { status: string; cost_credits: string; held_credits: string } | undefined;
    while (!event && Date.now() < until) {
      const events = (await t.admin('GET', `/usage?user=${userId}`)).json.data as Array<{ status: string; cost_credits: string; held_credits: string }>;
      event = events[0];
      if (!event) await new Promise((r) => setTimeout(r, 50));
    }
    const closedAfterMs = performance.now() - started;
    while (fh.openStreams() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    req.destroy();
    console.log(`[stream-stall] the gateway closed the stalled stream ${closedAfterMs.toFixed(0)} ms after its headers`);
    // Filling the buffers takes a moment, then the 1 s stall timeout runs.
    expect(closedAfterMs).toBeGreaterThanOrEqual(1_000);
    expect(closedAfterMs).toBeLessThan(15_000);
    expect(fh.openStreams()).toBe(0);
    expect(event?.status).toBe('client_closed');
    expect(BigInt(Math.round(Number(event?.cost_credits) * 1e6))).toBeLessThanOrEqual(BigInt(Math.round(Number(event?.held_credits) * 1e6)));
    const verify = await t.admin('GET', '/ledger/verify');
    expect(verify.json.ok).toBe(true);
  }, 60_000);
});
