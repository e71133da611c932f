// Trusted proxies: the client IP is the right-most X-Forwarded-For address that is not a trusted hop, so a
// client that writes its own left-most entries cannot spread its login attempts over invented addresses.
// Checked through the per-IP login throttle (3 attempts per IP here), for a hop count, a CIDR list, the
// legacy SWITCHYARD_TRUST_PROXY=true (one hop), and a list that does not trust the socket peer at all.
// X-Forwarded-Proto (Secure cookies) counts only from a trusted peer.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient, uniqueEmail } from '../helpers/console.ts';
import { defaultYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const THROTTLE = 'accounts:\n  throttle: { login_attempts_per_ip: 3 }\n';
const spoof = () => `203.0.113.${randomBytes(1)[0] ?? 1}, 192.0.2.${randomBytes(1)[0] ?? 1}`;

interface Case {
  name: string;
  server?: string;
  env?: Record<string, string>;
  /** The X-Forwarded-For the last proxy hands on, after the client's own (spoofed) entries. */
  forwarded: (client: string) => string;
  /** The socket peer (127.0.0.1) is a trusted proxy. */
  peerTrusted: boolean;
}

const cases: Case[] = [
  { name: 'a hop count of 1', server: 'trusted_proxies: 1', forwarded: (c) => `${spoof()}, ${c}`, peerTrusted: true },
  { name: 'a hop count of 2', server: 'trusted_proxies: 2', forwarded: (c) => `${spoof()}, ${c}, 10.0.0.2`, peerTrusted: true },
  { name: 'a CIDR list', server: 'trusted_proxies: "127.0.0.0/8, 10.0.0.0/8"', forwarded: (c) => `${spoof()}, ${c}, 10.9.9.9`, peerTrusted: true },
  { name: 'SWITCHYARD_TRUSTED_PROXIES as a list', env: { SWITCHYARD_TRUSTED_PROXIES: 'loopback,192.168.1.5' }, forwarded: (c) => `${spoof()}, ${c}, 192.168.1.5`, peerTrusted: true },
  { name: 'the legacy SWITCHYARD_TRUST_PROXY=true (one hop)', env: { SWITCHYARD_TRUST_PROXY: 'true' }, forwarded: (c) => `${spoof()}, ${c}`, peerTrusted: true },
  { name: 'a list without the socket peer', server: 'trusted_proxies: [10.0.0.0/8]', forwarded: (c) => `${spoof()}, ${c}`, peerTrusted: false },
];

describe.each(cases)('trusted proxies: $name', ({ server, env, forwarded, peerTrusted }) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ yaml: (u) => `${defaultYaml(u)}\n${THROTTLE}${server ? `server:\n  ${server}\n` : ''}`, ...(env ? { env } : {}) });
  });
  afterAll(async () => {
    await t?.close();
  });

  const login = (c: ConsoleClient, xff: string) => c.request('POST', '/auth/login', { email: uniqueEmail(), password: 'not the password' }, { 'x-forwarded-for': xff });

  it('counts login attempts per real client, whatever the client writes to the left', async () => {
    const c = new ConsoleClient(t.url);
    const attacker = `198.51.100.${10 + (randomBytes(1)[0] ?? 0) % 200}`;
    for (let i = 0; i < 3; i++) expect((await login(c, forwarded(attacker))).status).toBe(401);
    const fourth = await login(c, forwarded(attacker));
    expect(fourth.status).toBe(429);
    expect(fourth.json.error).toMatchObject({ code: 'rate_limit_exceeded' });
    // Another client behind the same proxy: its own count when the proxy is trusted; the proxy's otherwise.
    expect((await login(c, forwarded('198.51.100.250'))).status).toBe(peerTrusted ? 401 : 429);
  });

  it(`takes X-Forwarded-Proto ${peerTrusted ? 'from the trusted proxy' : 'from nobody'} (Secure cookies)`, async () => {
    const res = await fetch(`${t.url}/console/v1/auth/csrf`, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': forwarded('198.51.100.9') } });
    const cookie = res.headers.getSetCookie().find((line) => line.startsWith('sy_csrf=')) ?? '';
    expect(cookie).not.toBe('');
    expect(cookie.includes('; Secure')).toBe(peerTrusted);
  });
});
