// Starts a real gateway (real SQLite file or PostgreSQL schema) in front of a real mock upstream socket.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { loadConfig } from '../../src/config/index.ts';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startMockOpenAI, type MockOpenAI } from '../upstreams/openai.ts';

export const ADMIN_TOKEN = 'admin-test-token-0123456789';
export const UPSTREAM_KEY = 'sk-upstream-secret-key';

export function defaultYaml(mockUrl: string, extraProviders = '', extraModels = ''): string {
  return `
providers:
  - id: main-openai
    type: openai-compatible
    base_url: ${mockUrl}
    api_key: \${UPSTREAM_KEY}
${extraProviders}
models:
  - id: gpt-4o-mini
    channels:
      - provider: main-openai
        upstream_model: gpt-4o-mini
        priority: 0
        weight: 1
    price: { input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }
  - id: renamed-model
    max_output_tokens: 1000
    channels:
      - provider: main-openai
        upstream_model: upstream-name
    price: { input_per_mtok_usd: 2.5, output_per_mtok_usd: 10, cached_input_per_mtok_usd: 1.25 }
  - id: text-embedding-3-small
    kind: embeddings
    channels:
      - provider: main-openai
    price: { input_per_mtok_usd: 0.02 }
${extraModels}`;
}

export interface TestGateway {
  url: string;
  gateway: Gateway;
  mock: MockOpenAI;
  dataDir: string;
  /** Everything the gateway logged (to prove nothing of a body was logged). */
  logs: () => string;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  /** A user with `credits` and a fresh key. */
  newUser(credits?: string): Promise<{ userId: string; key: string; keyId: string }>;
  client(key: string, options?: { maxRetries?: number }): OpenAI;
  close(): Promise<void>;
}

export function testDatabaseUrl(backend: 'sqlite' | 'postgres', dataDir: string): string {
  if (backend === 'sqlite') return `sqlite:${join(dataDir, 'switchyard.db')}`;
  const base = process.env.SWITCHYARD_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
  const schema = `t_${randomBytes(6).toString('hex')}`;
  return `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`;
}

export async function startTestGateway(options: {
  backend?: 'sqlite' | 'postgres'; yaml?: (mockUrl: string) => string; env?: Record<string, string>; subscriptions?: GatewayOptions['subscriptions'];
} = {}): Promise<TestGateway> {
  const mock = await startMockOpenAI({ apiKey: UPSTREAM_KEY });
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  const env = {
    SWITCHYARD_DATA_DIR: dataDir,
    DATABASE_URL: testDatabaseUrl(options.backend ?? 'sqlite', dataDir),
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    UPSTREAM_KEY,
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const config = loadConfig({ env, cwd: dataDir, yamlText: (options.yaml ?? defaultYaml)(mock.url) });
  let logText = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logText += chunk.toString('utf8');
      done();
    },
  });
  const gateway = await createGateway(config, { logger: createLogger('debug', sink), ...(options.subscriptions ? { subscriptions: options.subscriptions } : {}) });
  await gateway.app.listen({ host: '127.0.0.1', port: 0 });
  const address = gateway.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const url = `http://127.0.0.1:${address.port}`;

  const admin: TestGateway['admin'] = async (method, path, body) => {
    const res = await fetch(`${url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  return {
    url,
    gateway,
    mock,
    dataDir,
    logs: () => logText,
    admin,
    async newUser(credits = '100') {
      const user = await admin('POST', '/users', { email: `u-${randomBytes(5).toString('hex')}@example.com` });
      const userId = String(user.json.id);
      if (credits !== '0') await admin('POST', `/users/${userId}/credits`, { credits, reason: 'test' });
      const key = await admin('POST', `/users/${userId}/keys`, { name: 'test' });
      return { userId, key: String(key.json.key), keyId: String(key.json.id) };
    },
    client(key, clientOptions = {}) {
      return new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: clientOptions.maxRetries ?? 0, timeout: 20_000 });
    },
    async close() {
      await gateway.close();
      await mock.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
