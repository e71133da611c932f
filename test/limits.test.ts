// Rate limits and spend caps end to end on one gateway without Redis (the memory store), SQLite, the openai and
// Anthropic SDKs as clients: RPM / TPM / concurrency per key and per account, OpenAI's headers and 429s, limits on
// every upstream endpoint, refusals that cost nothing, spend caps (402), and Redis configured but unreachable.
import { createServer } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatInput, quoteChat } from '../src/billing/quote.ts';
import { ConfigError, loadConfig } from '../src/config/index.ts';
import { formatReset } from '../src/limits/limiter.ts';
import type { ChatRequest } from '../src/providers/shared/types.ts';
import { defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';

type Json = Record<string, unknown>;

async function post(t: TestGateway, key: string, path: string, body: unknown): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
}

const chat = (content = 'hi', extra: Json = {}): Json => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 20, ...extra });

async function keyWith(t: TestGateway, userId: string, scopes: Json): Promise<{ key: string; keyId: string }> {
  const res = await t.admin('POST', `/users/${userId}/keys`, { name: 'limited', ...scopes });
  expect(res.status).toBe(201);
  return { key: String(res.json.key), keyId: String(res.json.id) };
}

async function holds(t: TestGateway, userId: string): Promise<number> {
  const ledger = (await t.admin('GET', `/users/${userId}/ledger?limit=1000`)).json.data as Array<{ kind: string }>;
  return ledger.filter((e) => e.kind === 'hold').length;
}

async function eventually(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('rate limits on one process (memory store)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ yaml: (url) => `${defaultYaml(url)}\nlimits:\n  account: { rpm: 1000 }\n` });
  });
  afterAll(async () => {
    await t.close();
  });

  it('formats resets as OpenAI does (Go durations)', () => {
    expect([0, 12, 999, 1_000, 1_500, 8_640, 59_999, 60_000, 86_400, 360_000, 3_723_004].map(formatReset))
      .toEqual(['0s', '12ms', '999ms', '1s', '1.5s', '8.64s', '59.999s', '1m0s', '1m26.4s', '6m0s', '1h2m3.004s']);
  });

  it('a key with 3 RPM: three answers with x-ratelimit headers, then 429 rate_limit_exceeded (type requests) that costs nothing', async () => {
    const { userId } = await t.newUser('10');
    const { key } = await keyWith(t, userId, { rate_limits: { rpm: 3 } });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(t, key, '/v1/chat/completions', chat());
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('3');
      expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(/^(1m0s|\d+(\.\d+)?s|\d+ms)$/);
      remaining.push(String(res.headers.get('x-ratelimit-remaining-requests')));
    }
    expect(remaining).toEqual(['2', '1', '0']);

    const refused = await post(t, key, '/v1/chat/completions', chat());
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests', param: null });
    expect(String((refused.json.error as Json).message)).toMatch(/^Rate limit reached for this API key on requests per min \(RPM\): Limit 3, Used 3, Requested 1\. Please try again in /);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    // The refused request took no hold; the SDK sees its typed RateLimitError.
    expect(await holds(t, userId)).toBe(3);
    const sdk = t.client(key);
    await expect(sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }))
      .rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('TPM: the estimate (prompt + max output) counts at admission and the actual usage corrects it', async () => {
    const { userId } = await t.newUser('10');
    const { key } = await keyWith(t, userId, { rate_limits: { tpm: 1_000 } });
    const body = chat('#words:5', { max_tokens: 600 });
    const model = t.gateway.deps.catalogue.get('gpt-4o-mini');
    if (!model) throw new Error('no model');
    const request = body as unknown as ChatRequest;
    const q = quoteChat(request, model, (await countChatInput(request)).tokens);
    const estimate = q.countedInputTokens + q.maxOutputTokens;
    const first = await post(t, key, '/v1/chat/completions', body);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    expect(Number(first.headers.get('x-ratelimit-remaining-tokens'))).toBe(1_000 - estimate);
    const usage = first.json.usage as { prompt_tokens: number; completion_tokens: number };
    const actual = usage.prompt_tokens + usage.completion_tokens;
    // Corrected at settle: the next admission sees the first request's actual tokens, not its estimate.
    const second = await post(t, key, '/v1/chat/completions', body);
    expect(second.status).toBe(200);
    expect(Number(second.headers.get('x-ratelimit-remaining-tokens'))).toBe(1_000 - actual - estimate);
    // Two estimates in flight at once exceed the minute: the second is refused with type tokens.
    const [a, b] = await Promise.all([
      post(t, key, '/v1/chat/completions', chat('#delay:300 #words:1', { max_tokens: 600 })),
      post(t, key, '/v1/chat/completions', chat('#delay:300 #words:1', { max_tokens: 600 })),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 429]);
    const refusal = a.status === 429 ? a : b;
    expect(refusal.json.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'tokens' });
    expect(String((refusal.json.error as Json).message)).toMatch(/on tokens per min \(TPM\): Limit 1000, Used \d+, Requested \d+/);
  });

  it('a request larger than the whole TPM is refused at once, without a retry hint', async () => {
    const { userId } = await t.newUser('10');
    const { key } = await keyWith(t, userId, { rate_limits: { tpm: 500 } });
    const res = await post(t, key, '/v1/chat/completions', chat('hi', { max_tokens: 2_000 }));
    expect(res.status).toBe(429);
    expect(res.json.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'tokens' });
    expect(String((res.json.error as Json).message)).toMatch(/^Request too large for this API key on tokens per min \(TPM\): Limit 500, Requested \d+/);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(res.headers.get('retry-after')).toBeNull();
    expect(await holds(t, userId)).toBe(0);
  });

  it('concurrency: a key with 2 slots answers 2 of 3 simultaneous requests, and the slots come back', async () => {
    const { userId } = await t.newUser('10');
    const { key } = await keyWith(t, userId, { rate_limits: { concurrency: 2 } });
    const results = await Promise.all([1, 2, 3].map(() => post(t, key, '/v1/chat/completions', chat('#delay:600 #reply:ok'))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    const refused = results.find((r) => r.status === 429);
    expect(refused?.json.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
    expect(String((refused?.json.error as Json).message)).toMatch(/^Too many concurrent requests for this API key: Limit 2/);
    expect(refused?.headers.get('retry-after')).toBe('1');
    // Streams and failures free their slot too.
    const stream = await t.client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#words:3' }], stream: true });
    for await (const chunk of stream) void chunk;
    expect((await post(t, key, '/v1/chat/completions', chat('#status:500'))).status).toBe(502);
    const again = await Promise.all([1, 2].map(() => post(t, key, '/v1/chat/completions', chat('#reply:ok'))));
    expect(again.map((r) => r.status)).toEqual([200, 200]);
  });

  it('account limits from config apply across the account\'s keys, not to other accounts', async () => {
    const limited = await startTestGateway({ yaml: (url) => `${defaultYaml(url)}\nlimits:\n  account: { rpm: 2 }\n` });
    try {
      const a = await limited.newUser('10');
      const second = await keyWith(limited, a.userId, {});
      expect((await post(limited, a.key, '/v1/chat/completions', chat())).status).toBe(200);
      expect((await post(limited, second.key, '/v1/chat/completions', chat())).status).toBe(200);
      const refused = await post(limited, second.key, '/v1/chat/completions', chat());
      expect(refused.status).toBe(429);
      expect(String((refused.json.error as Json).message)).toMatch(/^Rate limit reached for this account on requests per min \(RPM\): Limit 2/);
      const b = await limited.newUser('10');
      expect((await post(limited, b.key, '/v1/chat/completions', chat())).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('every endpoint that goes upstream shares the key\'s limits: embeddings, chat, responses, messages (Anthropic shape)', async () => {
    const { userId } = await t.newUser('10');
    const { key } = await keyWith(t, userId, { rate_limits: { rpm: 1 } });
    const embedded = await post(t, key, '/v1/embeddings', { model: 'text-embedding-3-small', input: 'hello' });
    expect(embedded.status).toBe(200);
    expect(embedded.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((await post(t, key, '/v1/chat/completions', chat())).status).toBe(429);
    expect((await post(t, key, '/v1/embeddings', { model: 'text-embedding-3-small', input: 'x' })).status).toBe(429);
    expect((await post(t, key, '/v1/responses', { model: 'gpt-4o-mini', input: 'hi' })).status).toBe(429);
    const claude = new Anthropic({ baseURL: t.url, apiKey: key, maxRetries: 0 });
    const error = await claude.messages.create({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    // Free endpoints are not limited.
    const models = await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(models.status).toBe(200);
    expect(await holds(t, userId)).toBe(1);
  });

  it('a key without limits (and no account limits) gets no x-ratelimit headers', async () => {
    const plain = await startTestGateway();
    try {
      const { key } = await plain.newUser('10');
      const res = await post(plain, key, '/v1/chat/completions', chat());
      expect(res.status).toBe(200);
      expect([...res.headers.keys()].filter((h) => h.startsWith('x-ratelimit'))).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});

describe('per-account limit overrides (PATCH /admin/v1/users/:id rate_limits)', () => {
  // Every account's default from the config: 6 RPM.
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ yaml: (url) => `${defaultYaml(url)}\nlimits:\n  account: { rpm: 6 }\n` });
  });
  afterAll(async () => {
    await t.close();
  });

  /** One chat completion through the openai SDK: its status and headers, answered or refused. */
  async function sdkChat(key: string): Promise<{ status: number; headers: Headers; error?: InstanceType<typeof OpenAI.APIError> }> {
    try {
      const { response } = await t.client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 }).withResponse();
      return { status: response.status, headers: response.headers };
    } catch (error) {
      if (!(error instanceof OpenAI.APIError)) throw error;
      return { status: error.status ?? 0, headers: error.headers ?? new Headers(), error };
    }
  }

  it('an admin sets 3 RPM on one account: its 4th request in the minute is 429, another account is unaffected; null restores the default at once', async () => {
    const a = await t.newUser('10');
    const b = await t.newUser('10');
    // The first request caches a's key in the authenticator (the override must evict it) under the default.
    const first = await sdkChat(a.key);
    expect([first.status, first.headers.get('x-ratelimit-limit-requests'), first.headers.get('x-ratelimit-remaining-requests')]).toEqual([200, '6', '5']);

    const set = await t.admin('PATCH', `/users/${a.userId}`, { rate_limits: { rpm: 3 } });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({
      id: a.userId, status: 'active', rate_limits: { rpm: 3, tpm: null, concurrency: null }, effective_rate_limits: { rpm: 3, tpm: null, concurrency: null },
    });
    expect((await t.admin('GET', `/users/${a.userId}`)).json).toMatchObject({ rate_limits: { rpm: 3, tpm: null, concurrency: null } });

    const answered = [await sdkChat(a.key), await sdkChat(a.key)];
    expect(answered.map((r) => [r.status, r.headers.get('x-ratelimit-limit-requests'), r.headers.get('x-ratelimit-remaining-requests')]))
      .toEqual([[200, '3', '1'], [200, '3', '0']]);
    const refused = await sdkChat(a.key);
    expect(refused.status).toBe(429);
    expect(refused.error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused.error?.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests', param: null });
    expect(refused.error?.message).toMatch(/Rate limit reached for this account on requests per min \(RPM\): Limit 3, Used 3, Requested 1\. Please try again in /);
    expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('3');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // The limit is the account's: another key of the same user is refused too, and nothing was held for either.
    const second = await keyWith(t, a.userId, {});
    expect((await post(t, second.key, '/v1/chat/completions', chat())).status).toBe(429);
    expect(await holds(t, a.userId)).toBe(3);

    // Another account on the same gateway keeps the config default.
    const others = [];
    for (let i = 0; i < 4; i++) others.push(await sdkChat(b.key));
    expect(others.map((r) => [r.status, r.headers.get('x-ratelimit-limit-requests')])).toEqual(Array.from({ length: 4 }, () => [200, '6']));

    // Cleared: the next request is under the default again (6, of which 3 are used), without waiting for a cache TTL.
    const cleared = await t.admin('PATCH', `/users/${a.userId}`, { rate_limits: { rpm: null } });
    expect(cleared.json).toMatchObject({ rate_limits: { rpm: null, tpm: null, concurrency: null }, effective_rate_limits: { rpm: 6, tpm: null, concurrency: null } });
    const again = await sdkChat(a.key);
    expect([again.status, again.headers.get('x-ratelimit-limit-requests'), again.headers.get('x-ratelimit-remaining-requests')]).toEqual([200, '6', '2']);

    // Audited as user.update with what changed, newest first.
    const entries = (await t.admin('GET', `/audit?target=${a.userId}&action=user.update`)).json.data as Json[];
    expect(entries.map((e) => e.details)).toEqual([
      { rate_limits: { from: { rpm: 3, tpm: null, concurrency: null }, to: { rpm: null, tpm: null, concurrency: null } } },
      { rate_limits: { from: { rpm: null, tpm: null, concurrency: null }, to: { rpm: 3, tpm: null, concurrency: null } } },
    ]);
    expect(entries[0]).toMatchObject({ actor: 'admin-token', action: 'user.update', target: a.userId });
  });

  it('an override may also raise a limit and set other kinds; clearing them all applies the default to what was counted', async () => {
    const { userId, key } = await t.newUser('10');
    const set = await t.admin('PATCH', `/users/${userId}`, { rate_limits: { rpm: 1_000, concurrency: 1 } });
    expect(set.json).toMatchObject({ effective_rate_limits: { rpm: 1_000, tpm: null, concurrency: 1 } });
    // More than the default 6 in the minute.
    for (let i = 0; i < 7; i++) {
      const res = await post(t, key, '/v1/chat/completions', chat());
      expect([res.status, res.headers.get('x-ratelimit-limit-requests')]).toEqual([200, '1000']);
    }
    const both = await Promise.all([1, 2].map(() => post(t, key, '/v1/chat/completions', chat('#delay:400 #reply:ok'))));
    expect(both.map((r) => r.status).sort()).toEqual([200, 429]);
    const busy = both.find((r) => r.status === 429);
    expect(String((busy?.json.error as Json).message)).toMatch(/^Too many concurrent requests for this account: Limit 1/);

    // rate_limits: null clears every override; the 8 requests counted this minute are over the default 6.
    const cleared = await t.admin('PATCH', `/users/${userId}`, { rate_limits: null });
    expect(cleared.json).toMatchObject({ rate_limits: { rpm: null, tpm: null, concurrency: null }, effective_rate_limits: { rpm: 6, tpm: null, concurrency: null } });
    const refused = await post(t, key, '/v1/chat/completions', chat());
    expect(refused.status).toBe(429);
    expect(String((refused.json.error as Json).message)).toMatch(/^Rate limit reached for this account on requests per min \(RPM\): Limit 6, Used 8, Requested 1/);
  });
});

describe('spend caps and scopes through the admin API', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t.close();
  });

  it('a daily cap refuses with 402 spend_limit_exceeded (no hold, no upstream call); raising it works at once', async () => {
    const { userId } = await t.newUser('100');
    const { key, keyId } = await keyWith(t, userId, { spend_caps: { daily_credits: '0.01' } });
    // max_tokens 20_000 at $0.60/Mtok output ≈ 12 credits worst case: over a 0.01-credit cap.
    const before = t.mock.requests.length;
    const refused = await post(t, key, '/v1/chat/completions', chat('hi', { max_tokens: 20_000 }));
    expect(refused.status).toBe(402);
    expect(refused.json.error).toMatchObject({ code: 'spend_limit_exceeded', type: 'insufficient_quota' });
    expect(String((refused.json.error as Json).message)).toMatch(/^This API key's daily spend limit is 0\.01 credits; 0 are spent or reserved today \(UTC\) and this request may cost up to [\d.]+\. The limit resets at \d{4}-\d\d-\d\dT00:00:00\.000Z/);
    expect(t.mock.requests.length).toBe(before);
    expect(await holds(t, userId)).toBe(0);
    const sdkError = await t.client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: 20_000 }).catch((e: unknown) => e);
    expect(sdkError).toBeInstanceOf(OpenAI.APIError);
    expect((sdkError as InstanceType<typeof OpenAI.APIError>).status).toBe(402);

    // A small request fits; its capture is what the key has spent today.
    const small = await post(t, key, '/v1/chat/completions', chat('hi', { max_tokens: 5 }));
    expect(small.status).toBe(200);
    const shown = await t.admin('GET', `/keys/${keyId}`);
    expect(shown.json).toMatchObject({ spend_caps: { daily_credits: '0.01', monthly_credits: null, total_credits: null } });
    expect((shown.json.spend as Json).daily_credits).toBe(small.headers.get('x-switchyard-credits-charged'));

    const raised = await t.admin('PATCH', `/keys/${keyId}`, { spend_caps: { daily_credits: '50' } });
    expect(raised.status).toBe(200);
    expect((await post(t, key, '/v1/chat/completions', chat('hi', { max_tokens: 20_000 }))).status).toBe(200);
  });

  it('PATCH /admin/v1/keys/:id sets and clears scopes; expiry and models apply to the next request', async () => {
    const { userId, key, keyId } = await t.newUser('10');
    const set = await t.admin('PATCH', `/keys/${keyId}`, {
      allowed_models: ['renamed-model'], rate_limits: { rpm: 50, concurrency: 3 }, spend_caps: { monthly_credits: '5', total_credits: 20 },
    });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({
      id: keyId, user_id: userId, allowed_models: ['renamed-model'], expires_at: null,
      rate_limits: { rpm: 50, tpm: null, concurrency: 3 }, spend_caps: { daily_credits: null, monthly_credits: '5', total_credits: '20' },
      spend: { daily_credits: '0', monthly_credits: '0', total_credits: '0' },
    });
    expect((await post(t, key, '/v1/chat/completions', chat())).status).toBe(404);
    const cleared = await t.admin('PATCH', `/keys/${keyId}`, { allowed_models: null, rate_limits: null, spend_caps: { total_credits: null } });
    expect(cleared.json).toMatchObject({ allowed_models: null, rate_limits: { rpm: null, tpm: null, concurrency: null }, spend_caps: { monthly_credits: '5', total_credits: null } });
    expect((await post(t, key, '/v1/chat/completions', chat())).status).toBe(200);

    const expired = await t.admin('PATCH', `/keys/${keyId}`, { expires_at: new Date(Date.now() - 1_000).toISOString() });
    expect(expired.status).toBe(200);
    const refused = await post(t, key, '/v1/chat/completions', chat());
    expect(refused.status).toBe(401);
    expect((refused.json.error as Json).message).toBe('This API key has expired.');
    await t.admin('PATCH', `/keys/${keyId}`, { expires_at: null });
    expect((await post(t, key, '/v1/chat/completions', chat())).status).toBe(200);
  });

  it('bad scopes are 400 naming the field, and change nothing', async () => {
    const { keyId } = await t.newUser('1');
    const cases: Array<[Json, string]> = [
      [{ spend_caps: { daily_credits: '-1' } }, 'spend_caps.daily_credits'],
      [{ spend_caps: { daily_credits: '0.0000001' } }, 'spend_caps.daily_credits'],
      [{ spend_caps: { weekly_credits: '1' } }, 'spend_caps'],
      [{ rate_limits: { rpm: 0 } }, 'rate_limits.rpm'],
      [{ rate_limits: { tpm: 1.5 } }, 'rate_limits.tpm'],
      [{ expires_at: 'tomorrow' }, 'expires_at'],
      [{ allowed_models: [] }, 'allowed_models'],
      [{ name: 'renamed' }, 'name'],
    ];
    for (const [body, param] of cases) {
      const res = await t.admin('PATCH', `/keys/${keyId}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((res.json.error as Json).param, JSON.stringify(body)).toBe(param);
    }
    expect((await t.admin('PATCH', '/keys/key_ghost', { rate_limits: { rpm: 1 } })).status).toBe(404);
    const key = await t.admin('GET', `/keys/${keyId}`);
    expect(key.json).toMatchObject({ rate_limits: { rpm: null }, spend_caps: { daily_credits: null } });
  });
});

describe('limits config', () => {
  const load = (yamlText: string, env: Record<string, string> = {}) => loadConfig({ env: { SWITCHYARD_ADMIN_TOKEN: 't', SWITCHYARD_SECRET: 's', ...env }, cwd: '/tmp', yamlText });

  it('reads account limits and the lease time; none by default; the Redis prefix from the environment', () => {
    const config = load('limits:\n  account: { rpm: 600, concurrency: 4 }\n  concurrency_lease_ms: 30000\n', { SWITCHYARD_REDIS_PREFIX: 'gw1:' });
    expect(config.limits).toEqual({ account: { rpm: 600, tpm: null, concurrency: 4 }, concurrencyLeaseMs: 30_000 });
    expect(config.redisPrefix).toBe('gw1:');
    const defaults = load('');
    expect(defaults.limits).toEqual({ account: { rpm: null, tpm: null, concurrency: null }, concurrencyLeaseMs: 60_000 });
    expect(defaults.redisPrefix).toBe('sy:');
  });

  it('refuses a bad limit, naming the field', () => {
    expect(() => load('limits:\n  account: { rpm: 0 }\n')).toThrow(ConfigError);
    expect(() => load('limits:\n  account: { rpm: 0 }\n')).toThrow(/limits\.account\.rpm/);
    expect(() => load('limits:\n  account: { rps: 5 }\n')).toThrow(/limits\.account/);
  });
});

describe('Redis configured but unreachable', () => {
  it('fails open to per-process limits: still enforced here, one warning logged, requests served', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const t = await startTestGateway({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    try {
      const { userId } = await t.newUser('10');
      const { key } = await keyWith(t, userId, { rate_limits: { rpm: 2, concurrency: 5 } });
      expect((await post(t, key, '/v1/chat/completions', chat())).status).toBe(200);
      expect((await post(t, key, '/v1/chat/completions', chat())).status).toBe(200);
      expect((await post(t, key, '/v1/chat/completions', chat())).status).toBe(429);
      await eventually(async () => t.logs().includes('rate limits are enforced per replica'));
      // Revocation still takes effect at once in this process.
      const other = await keyWith(t, userId, {});
      expect((await post(t, other.key, '/v1/chat/completions', chat())).status).toBe(200);
      await t.admin('DELETE', `/keys/${other.keyId}`);
      expect((await post(t, other.key, '/v1/chat/completions', chat())).status).toBe(401);
    } finally {
      await t.close();
    }
  });
});
