// The edge's deadlines on a real socket, with short configured timeouts: a connection that sends nothing, a
// request whose body never comes or trickles, slow headers, a body that never ends — each is answered 408 in
// the client's error shape (when an answer can still be written) and its connection closed within the bound.
// A long, mostly silent streaming RESPONSE is not cut by any of them; a slow but steady upload passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { exchange, expectAnthropicError, expectOpenAIError, head, type Step } from '../helpers/raw-http.ts';

const SERVER = `
server:
  headers_timeout_ms: 1000
  request_timeout_ms: 4000
  body_idle_timeout_ms: 1000
  body_min_bytes_per_second: 200
  body_rate_grace_ms: 2000
  keep_alive_timeout_ms: 1000
`;

/** Far above every configured bound (a loaded 2-core machine), yet far below "indefinitely". */
const BOUND_MS = 8000;

const json = { 'content-type': 'application/json' };
const every = (ms: number, pieces: Array<string | Buffer>): Step[] => pieces.flatMap((p) => [p, ms]);

describe('edge timeouts', () => {
  let t: TestGateway;
  let key: string;
  beforeAll(async () => {
    t = await startTestGateway({ yaml: (u) => defaultYaml(u) + SERVER });
    key = (await t.newUser('100')).key;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('closes a connection that never sends a request after the header timeout', async () => {
    const r = await exchange(t.url, [], BOUND_MS + 5000);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });

  it('answers headers without their body with 408 in OpenAI shape and closes the connection', async () => {
    const r = await exchange(t.url, [head('POST', '/v1/chat/completions', { ...json, 'content-length': 100 })], BOUND_MS + 5000);
    expectOpenAIError(r.response, 408, 'request_timeout');
    expect(r.response?.headers.connection).toBe('close');
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });

  it('answers a stalled /v1/messages body in Anthropic shape', async () => {
    const r = await exchange(t.url, [head('POST', '/v1/messages', { ...json, 'content-length': 100 }), '{"mod'], BOUND_MS + 5000);
    expectAnthropicError(r.response, 408, 'invalid_request_error');
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });

  it('cuts a body trickling one byte at a time (never idle, far below the minimum rate) after the grace period', async () => {
    const trickle = every(400, Array.from({ length: 100 }, () => 'x'));
    const r = await exchange(t.url, [head('POST', '/v1/chat/completions', { ...json, 'content-length': 1000 }), ...trickle], BOUND_MS + 5000);
    expectOpenAIError(r.response, 408, 'request_timeout');
    expect(String((r.response?.json?.error as { message?: string }).message)).toMatch(/slower than 200 bytes per second/);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(1900);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });

  it('closes a connection whose headers trickle in, with 408', async () => {
    const lines = every(300, Array.from({ length: 100 }, (_, i) => `x-slow-${i}: y\r\n`));
    const r = await exchange(t.url, ['POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n', ...lines], BOUND_MS + 5000);
    expectOpenAIError(r.response, 408, 'request_timeout');
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });

  it('bounds the whole request: a body sent steadily above the minimum rate but never ending gets 408 at the request timeout', async () => {
    const steady = every(100, Array.from({ length: 200 }, () => 'x'.repeat(100))); // ~1000 B/s for 20 s
    const r = await exchange(t.url, [head('POST', '/v1/messages', { ...json, 'content-length': 1_000_000 }), ...steady], BOUND_MS + 8000);
    expectAnthropicError(r.response, 408, 'invalid_request_error');
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(3500);
    expect(r.ms).toBeLessThan(BOUND_MS + 4000);
  });

  it('accepts a slow but steady upload', async () => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `#reply:steady ${'slowly but surely '.repeat(80)}` }] });
    const pieces = Array.from({ length: Math.ceil(body.length / 300) }, (_, i) => body.slice(i * 300, (i + 1) * 300));
    const r = await exchange(
      t.url,
      [head('POST', '/v1/chat/completions', { ...json, authorization: `Bearer ${key}`, 'content-length': Buffer.byteLength(body), connection: 'close' }), ...every(250, pieces)],
      20_000,
    );
    expect(r.response?.status).toBe(200);
    expect((r.response?.json?.choices as Array<{ message: { content: string } }>)[0]?.message.content).toContain('steady');
  });

  it('never cuts a long streaming response: silent gaps and a total far beyond every request-side timeout', async () => {
    const started = Date.now();
    const stream = await t.client(key).chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: '#words:7 #chunkdelay:1500' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('w1 w2 w3 w4 w5 w6 w7');
    // 1.5 s gaps (> body idle, header and keep-alive timeouts) for ~9 s in all (> the 4 s request timeout).
    expect(Date.now() - started).toBeGreaterThan(8000);
  }, 60_000);

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const r = await exchange(t.url, [head('GET', '/healthz')], BOUND_MS + 5000);
    expect(r.response?.status).toBe(200);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(r.ms).toBeLessThan(BOUND_MS);
  });
});
