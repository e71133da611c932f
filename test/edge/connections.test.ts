// The cap on concurrent connections per socket peer address (3 here): the 4th connection from one address is
// answered 429 in the shape of the protocol its request names and closed, without ever reaching a route;
// beyond twice the cap connections are dropped; a slot freed is usable again.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { exchange, expectAnthropicError, expectOpenAIError, head } from '../helpers/raw-http.ts';

async function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

const closed = (socket: Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

describe('connections per client address', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ yaml: (u) => `${defaultYaml(u)}\nserver:\n  max_connections_per_ip: 3\n` });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses connections over the cap with 429 in the client’s shape, and admits again once one closes', async () => {
    const held = await Promise.all([open(t.url), open(t.url), open(t.url)]);
    try {
      const refused = await exchange(t.url, [head('GET', '/v1/models')], 10_000);
      expectOpenAIError(refused.response, 429, 'rate_limit_exceeded');
      expect(refused.response?.headers['retry-after']).toBe('1');
      expect(refused.closed).toBe(true);
      const anthropic = await exchange(t.url, [head('POST', '/v1/messages', { 'content-type': 'application/json', 'content-length': 2 }), '{}'], 10_000);
      expectAnthropicError(anthropic.response, 429, 'rate_limit_error');
      // A refused request never reached a route: the mock upstream saw nothing, no key was even looked at.
      expect(t.mock.requests.length).toBe(0);
      // The held connections still work.
      held[0]?.write(head('GET', '/healthz'));
      const answer = await new Promise<string>((resolve) => held[0]?.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      for (const socket of held) socket.destroy();
      await Promise.all(held.map(closed));
    }
    // Slots are given back when connections close.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('drops connections beyond twice the cap without an answer', async () => {
    const held = await Promise.all(Array.from({ length: 6 }, () => open(t.url)));
    try {
      const dropped = await exchange(t.url, [head('GET', '/healthz')], 10_000);
      expect(dropped.closed).toBe(true);
      expect(dropped.received.length).toBe(0);
    } finally {
      for (const socket of held) socket.destroy();
      await Promise.all(held.map(closed));
    }
  });
});
