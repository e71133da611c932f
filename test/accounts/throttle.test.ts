// Login, reset and sign-up throttling on both stores (memory; Redis when SWITCHYARD_TEST_REDIS=1, with a
// unique key prefix cleaned up afterwards), and through the gateway: 429 with Retry-After, a right password
// refused while the account is blocked, and another IP (via a trusted proxy) unaffected by one IP's limit.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../src/accounts/throttle.ts';
import type { ThrottleConfig } from '../../src/config/index.ts';
import { GatewayError } from '../../src/domain/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { defaultYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { ConsoleClient, consoleUser, PASSWORD, uniqueEmail } from '../helpers/console.ts';

const REDIS_URL = process.env.SWITCHYARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const backends = [{ name: 'memory', redis: false }, ...(process.env.SWITCHYARD_TEST_REDIS === '1' ? [{ name: 'redis', redis: true }] : [])];

const limits = (prefix: string): ThrottleConfig => ({
  loginFailuresPerAccount: 3,
  loginAttemptsPerIp: 5,
  resetRequestsPerAccount: 2,
  resetRequestsPerIp: 3,
  signupsPerIp: 2,
  redisPrefix: prefix,
});

async function refused(work: Promise<unknown>): Promise<GatewayError> {
  const error = await work.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(GatewayError);
  const g = error as GatewayError;
  expect([g.status, g.code]).toEqual([429, 'rate_limit_exceeded']);
  expect(g.retryAfter).toBeGreaterThan(0);
  return g;
}

describe.each(backends)('auth throttle on $name', ({ redis }) => {
  const prefix = `sy:test:${randomBytes(6).toString('hex')}:`;
  const make = () => new AuthThrottle(limits(prefix), { secret: 'test-secret', redisUrl: redis ? REDIS_URL : undefined, logger: createLogger('silent') });
  let throttle: AuthThrottle;
  beforeAll(async () => {
    throttle = make();
    await throttle.start();
  });
  afterAll(async () => {
    await throttle.close();
    if (!redis) return;
    const client = new Redis(REDIS_URL);
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    await client.quit();
  });

  it('blocks an account after N failed logins, from any IP, until a success resets it', async () => {
    const email = uniqueEmail();
    for (let i = 0; i < 3; i++) {
      await throttle.beforeLogin(`10.0.0.${i}`, email);
      await throttle.loginFailed(email);
    }
    const blocked = await refused(throttle.beforeLogin('10.0.1.1', email));
    expect(blocked.retryAfter).toBeGreaterThan(60);
    await throttle.beforeLogin('10.0.1.1', uniqueEmail()); // other accounts are unaffected

    const other = uniqueEmail();
    await throttle.loginFailed(other);
    await throttle.loginFailed(other);
    await throttle.loginSucceeded(other);
    await throttle.loginFailed(other);
    await throttle.beforeLogin('10.0.2.1', other); // the count started over
  });

  it('limits login attempts per IP whatever the account', async () => {
    for (let i = 0; i < 5; i++) await throttle.beforeLogin('192.0.2.7', uniqueEmail());
    await refused(throttle.beforeLogin('192.0.2.7', uniqueEmail()));
    await throttle.beforeLogin('192.0.2.8', uniqueEmail());
  });

  it('limits reset requests per account (whether it exists or not) and per IP, and sign-ups per IP', async () => {
    const email = uniqueEmail();
    await throttle.beforeReset('198.51.100.1', email);
    await throttle.beforeReset('198.51.100.2', email);
    await refused(throttle.beforeReset('198.51.100.3', email));
    for (let i = 0; i < 3; i++) await throttle.beforeReset('198.51.100.9', uniqueEmail());
    await refused(throttle.beforeReset('198.51.100.9', uniqueEmail()));
    await throttle.beforeSignup('203.0.113.1');
    await throttle.beforeSignup('203.0.113.1');
    await refused(throttle.beforeSignup('203.0.113.1'));
  });

  it('shares its counts between instances (replicas) through the store', async () => {
    if (!redis) return; // memory is per process by design
    const email = uniqueEmail();
    const replica = make();
    await replica.start();
    try {
      for (let i = 0; i < 3; i++) await replica.loginFailed(email);
      await refused(throttle.beforeLogin('10.9.9.9', email));
    } finally {
      await replica.close();
    }
  });
});

describe('login throttling through the gateway', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({
      yaml: (u) => `${defaultYaml(u)}\naccounts:\n  trust_proxy: true\n  throttle: { login_failures_per_account: 3, login_attempts_per_ip: 8 }\n`,
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 429 with Retry-After once an account has too many failures, even to the right password', async () => {
    const { email } = await consoleUser(t, { verified: false });
    const c = new ConsoleClient(t.url);
    const from = { 'x-forwarded-for': '192.0.2.10' };
    for (let i = 0; i < 3; i++) expect((await c.request('POST', '/auth/login', { email, password: `guess number ${i}` }, from)).status).toBe(401);
    const blocked = await c.request('POST', '/auth/login', { email, password: PASSWORD }, from);
    expect(blocked.status).toBe(429);
    expect(blocked.json.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(60);
  });

  it('counts attempts per client IP (X-Forwarded-For, trusted here): one IP over its limit leaves others alone', async () => {
    const { email } = await consoleUser(t, { verified: false });
    const c = new ConsoleClient(t.url);
    for (let i = 0; i < 8; i++) await c.request('POST', '/auth/login', { email: uniqueEmail(), password: 'whatever it is' }, { 'x-forwarded-for': '198.51.100.20' });
    const limited = await c.request('POST', '/auth/login', { email, password: PASSWORD }, { 'x-forwarded-for': '198.51.100.20' });
    expect(limited.status).toBe(429);
    const elsewhere = await c.request('POST', '/auth/login', { email, password: PASSWORD }, { 'x-forwarded-for': '198.51.100.21' });
    expect(elsewhere.status).toBe(200);
  });
});
