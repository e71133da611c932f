// SWITCHYARD_REDIS_PREFIX covers every key the gateway writes to Redis: limits, concurrency leases, channel
// health, auth-cache evictions and the console's login/sign-up/reset throttle. The gateway runs on a Redis
// logical database of its own (flushed first), so every key found there afterwards is one it wrote.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient, PASSWORD, uniqueEmail } from './helpers/console.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const REDIS_BASE = process.env.SWITCHYARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** A logical database no other test uses. */
const REDIS_URL = `${REDIS_BASE.replace(/\/\d*$/, '')}/11`;

describe.runIf(process.env.SWITCHYARD_TEST_REDIS === '1')('Redis key prefix', () => {
  const prefix = `gw${randomBytes(3).toString('hex')}:`;
  let redis: Redis;
  let gw: TestGateway;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, commandTimeout: 2_000 });
    await redis.connect();
    await redis.flushdb();
    gw = await startTestGateway({
      env: { REDIS_URL, SWITCHYARD_REDIS_PREFIX: prefix },
      yaml: (mockUrl) => `
providers:
  - id: main-openai
    type: openai-compatible
    base_url: ${mockUrl}
    api_key: \${UPSTREAM_KEY}
models:
  - id: gpt-4o-mini
    channels: [{ provider: main-openai }]
    price: { input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }
limits:
  account: { rpm: 1000, tpm: 1000000, concurrency: 10 }
health:
  consecutive_failures: 1
`,
    });
  });

  afterAll(async () => {
    await gw?.close();
    await redis?.flushdb();
    await redis?.quit();
  });

  it('prefixes the keys of limits, leases, health and every console throttle', async () => {
    const user = await gw.newUser('10');
    const client = gw.client(user.key);
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    // A failing upstream opens the channel's breaker, which is shared through Redis.
    const failed = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi #status:500' }] }).then(() => 'ok', () => 'failed');
    expect(failed).toBe('failed');
    // Sign-up, a failed login and a reset request each touch a throttle counter.
    const browser = new ConsoleClient(gw.url);
    const email = uniqueEmail();
    expect((await browser.post('/auth/signup', { email, password: PASSWORD })).status).toBe(201);
    expect((await new ConsoleClient(gw.url).post('/auth/login', { email, password: 'wrong-password-123' })).status).toBe(401);
    expect((await new ConsoleClient(gw.url).post('/auth/password-reset', { email })).status).toBe(202);

    const keys = await redis.keys('*');
    expect(keys.length).toBeGreaterThan(3);
    expect(keys.filter((key) => !key.startsWith(prefix))).toEqual([]);
    // The throttle's keys are among them, under the gateway's prefix.
    expect(keys.some((key) => key.startsWith(`${prefix}auth:`))).toBe(true);
  });
});
