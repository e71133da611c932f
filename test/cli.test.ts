// The CLI as a user runs it: `switchyard serve` in its own process, then `switchyard admin …` against it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockOpenAI, type MockOpenAI } from './upstreams/openai.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../bin/switchyard.js');

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => ok(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

let dir: string;
let port: number;
let child: ChildProcess;
let output = '';
let mock: MockOpenAI;
let env: NodeJS.ProcessEnv;

async function cli(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [BIN, 'admin', ...args], { env, cwd: dir, timeout: 30_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

beforeAll(async () => {
  mock = await startMockOpenAI({ apiKey: 'up-key' });
  dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
  port = await freePort();
  writeFileSync(
    join(dir, 'switchyard.yaml'),
    `providers:\n  - id: main-openai\n    type: openai-compatible\n    base_url: ${mock.url}\n    api_key: \${UPSTREAM_KEY}\nmodels:\n  - id: gpt-4o-mini\n    channels:\n      - provider: main-openai\n    price: { input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }\n`,
  );
  // No SWITCHYARD_ADMIN_TOKEN: the gateway generates one under ./data and the CLI finds it there.
  env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), UPSTREAM_KEY: 'up-key' };
  child = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const until = Date.now() + 30_000;
  while (!output.includes('Switchyard listening on')) {
    if (Date.now() > until || child.exitCode !== null) throw new Error(`gateway did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, 40_000);

afterAll(async () => {
  child?.kill('SIGTERM');
  await new Promise((r) => child?.once('exit', r));
  await mock?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('switchyard CLI', () => {
  it('serve prints where it listens, where the admin token is, and a curl to try', () => {
    expect(output).toContain(`Switchyard listening on http://127.0.0.1:${port}`);
    expect(output).toContain(`admin token: ${join(dir, 'data', 'admin-token')}`);
    expect(output).toMatch(/curl http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions/);
    expect(readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim().length).toBeGreaterThan(20);
  });

  it('admin commands create a user, grant credits, issue and revoke a key', async () => {
    const user = await cli('users', 'create', 'Cli@Example.com');
    expect(user).toMatchObject({ email: 'cli@example.com' });
    const userId = String(user.id);
    expect(await cli('credits', userId, '12.5', '--reason', 'welcome')).toMatchObject({ balance_credits: '12.5' });
    const key = await cli('keys', 'create', userId, '--name', 'laptop');
    expect(String(key.key)).toMatch(/^sk-sy-[A-Za-z0-9_-]{43}$/);

    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${String(key.key)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
    });
    expect(res.status).toBe(200);
    const charged = res.headers.get('x-switchyard-credits-charged');
    expect(await cli('balance', userId)).toMatchObject({ balance_credits: String(Number((12.5 - Number(charged)).toFixed(6))) });

    const keys = (await cli('keys', 'list', userId)).data as Array<Record<string, unknown>>;
    expect(keys).toHaveLength(1);
    expect(JSON.stringify(keys)).not.toContain(String(key.key));
    expect((await cli('keys', 'revoke', String(key.id))).revoked).toBe(true);
    const after = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${String(key.key)}` } });
    expect(after.status).toBe(401);

    const ledger = (await cli('ledger', userId)).data as Array<{ kind: string }>;
    expect(ledger.map((e) => e.kind).sort()).toEqual(['capture', 'grant', 'hold', 'release']);
    const usage = (await cli('usage', '--user', userId)).data as Array<{ status: string }>;
    expect(usage.map((u) => u.status)).toEqual(['ok']);
    const users = (await cli('users', 'list')).data as Array<{ id: string }>;
    expect(users.map((u) => u.id)).toContain(userId);
    // Nine CLI processes, each starting tsx: seconds apiece on a loaded machine.
  }, 120_000);

  it('an amount out of range or a garbage cursor exits 1 with the API\'s 400 naming the field; nothing is granted', async () => {
    const user = await cli('users', 'create', 'bounds@example.com');
    const userId = String(user.id);
    const refused = async (...args: string[]): Promise<{ code: number; stderr: string }> =>
      run(process.execPath, [BIN, 'admin', ...args], { env, cwd: dir, timeout: 30_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
    const grant = await refused('credits', userId, '99999999999999', '--reason', 'typo');
    expect(grant.code).toBe(1);
    expect(JSON.parse(grant.stderr)).toMatchObject({ error: { code: 'invalid_request', param: 'credits' } });
    const page = await refused('ledger', userId, '--before', 'garbage');
    expect(page.code).toBe(1);
    expect(JSON.parse(page.stderr)).toMatchObject({ error: { code: 'invalid_request', param: 'before' } });
    expect(await cli('balance', userId)).toMatchObject({ balance_credits: '0' });
  }, 120_000);

  it('admin verify-ledger walks every page and reports the totals', async () => {
    // Two users through the HTTP API (quicker than two more CLI processes), then pages of one user: the walk has
    // to follow next_after across every user.
    const token = readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim();
    for (const email of ['verify1@example.com', 'verify2@example.com']) {
      const res = await fetch(`http://127.0.0.1:${port}/admin/v1/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      });
      expect(res.status).toBe(201);
    }
    const report = await cli('verify-ledger', '--page', '1');
    expect(report).toMatchObject({ ok: true, users_with_drift: 0, users_with_hold_mismatch: 0, data: [] });
    expect(report.checked_users).toBeGreaterThanOrEqual(2);
    const totals = report.totals as Record<string, unknown>;
    expect(totals.drift_credits).toBe('0');
    expect(totals.balance_credits).toBe(totals.ledger_sum_credits);
  }, 120_000);

  it('admin users limits sets, shows and clears an account\'s rate-limit overrides; a bad value exits 1 naming the field', async () => {
    const token = readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim();
    const created = await fetch(`http://127.0.0.1:${port}/admin/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'limits@example.com' }),
    });
    const userId = String(((await created.json()) as { id: string }).id);

    expect(await cli('users', 'limits', userId, '--rpm', '60', '--concurrency', '4')).toMatchObject({
      id: userId, rate_limits: { rpm: 60, tpm: null, concurrency: 4 }, effective_rate_limits: { rpm: 60, tpm: null, concurrency: 4 },
    });
    // "null" clears one kind; no option shows the account.
    expect(await cli('users', 'limits', userId, '--concurrency', 'null')).toMatchObject({ rate_limits: { rpm: 60, tpm: null, concurrency: null } });
    const refused = await run(process.execPath, [BIN, 'admin', 'users', 'limits', userId, '--tpm', 'lots'], { env, cwd: dir, timeout: 30_000 })
      .catch((e: { code: number; stderr: string }) => e);
    expect((refused as { code: number }).code).toBe(1);
    expect(JSON.parse((refused as { stderr: string }).stderr)).toMatchObject({ error: { code: 'invalid_request', param: 'rate_limits.tpm' } });
    expect(await cli('users', 'limits', userId)).toMatchObject({ rate_limits: { rpm: 60, tpm: null, concurrency: null } });
    expect(await cli('users', 'limits', userId, '--clear')).toMatchObject({ rate_limits: { rpm: null, tpm: null, concurrency: null } });
    const audit = (await cli('audit', '--target', userId, '--action', 'user.update')).data as Array<{ details: unknown }>;
    expect(audit).toHaveLength(3);
    expect(audit[0]?.details).toEqual({ rate_limits: { from: { rpm: 60, tpm: null, concurrency: null }, to: { rpm: null, tpm: null, concurrency: null } } });
    // Six CLI processes, each starting tsx.
  }, 120_000);

  it('admin users suspend / unsuspend / role and keys show / scopes act at once on the served gateway', async () => {
    const token = readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim();
    const adminApi = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`http://127.0.0.1:${port}/admin/v1${path}`, {
        method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    const userId = String((await adminApi('POST', '/users', { email: 'lifecycle@example.com' })).id);
    const key = await adminApi('POST', `/users/${userId}/keys`, { name: 'k' });
    const models = async (): Promise<{ status: number; code: unknown }> => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${String(key.key)}` } });
      const body = (await res.json()) as { error?: { code?: unknown } };
      return { status: res.status, code: body.error?.code };
    };
    expect((await models()).status).toBe(200);

    expect(await cli('users', 'suspend', userId)).toMatchObject({ id: userId, status: 'suspended' });
    expect(await models()).toEqual({ status: 403, code: 'account_suspended' });
    expect(await cli('users', 'unsuspend', userId)).toMatchObject({ status: 'active' });
    expect((await models()).status).toBe(200);
    expect(await cli('users', 'role', userId, 'admin')).toMatchObject({ role: 'admin' });
    // An admin's own API key now opens the admin API.
    const asAdmin = await fetch(`http://127.0.0.1:${port}/admin/v1/users/${userId}`, { headers: { authorization: `Bearer ${String(key.key)}` } });
    expect(asAdmin.status).toBe(200);

    const keyId = String(key.id);
    expect(await cli('keys', 'scopes', keyId, '{"allowed_models":["gpt-4o-mini"],"spend_caps":{"daily_credits":"5"}}')).toMatchObject({
      id: keyId, allowed_models: ['gpt-4o-mini'],
    });
    const shown = await cli('keys', 'show', keyId);
    expect(shown).toMatchObject({ id: keyId, allowed_models: ['gpt-4o-mini'] });
    expect(JSON.stringify(shown)).not.toContain(String(key.key));
    expect(shown.spend_caps).toMatchObject({ daily_credits: '5' });
  }, 120_000);

  it('admin prices schedules and cancels a version; serve refuses an unscheduled price edit with exit code 2', async () => {
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await cli('prices', 'schedule', 'gpt-4o-mini', soon, '{"input_per_mtok_usd":0.2,"output_per_mtok_usd":0.8}', '--force', '--reason', 'cli test');
    expect(scheduled).toMatchObject({ status: 'scheduled', reason: 'cli test', effective_from: soon });
    expect(await cli('prices', 'cancel', 'gpt-4o-mini', String(scheduled.version), '--reason', 'done')).toMatchObject({ status: 'cancelled', cancel_reason: 'done' });

    // The same database, the price edited in the file without a schedule.
    writeFileSync(join(dir, 'edited.yaml'), readFileSync(join(dir, 'switchyard.yaml'), 'utf8').replace('output_per_mtok_usd: 0.60', 'output_per_mtok_usd: 0.70'));
    const refused = await run(process.execPath, [BIN, 'serve'], { cwd: dir, env: { ...env, SWITCHYARD_CONFIG: 'edited.yaml' }, timeout: 30_000 })
      .catch((e: { code: number; stderr: string }) => e);
    expect((refused as { code: number }).code).toBe(2);
    expect((refused as { stderr: string }).stderr).toMatch(/switchyard: models\[0\]\.price: differs from the current price of gpt-4o-mini .*output_per_mtok_usd 0\.6 → 0\.7[\s\S]*price_changes:/);
  }, 60_000);

  it('an invalid config refuses to start, naming the field', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'switchyard-bad-'));
    writeFileSync(join(bad, 'switchyard.yaml'), 'providers:\n  - id: x\n    type: openai-compatible\n    base_url: nope\n');
    const result = await run(process.execPath, [BIN, 'serve'], { cwd: bad, env: { PATH: process.env.PATH }, timeout: 30_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((result as { code: number }).code).toBe(2);
    expect((result as { stderr: string }).stderr).toContain('providers[0].base_url');
    rmSync(bad, { recursive: true, force: true });
  });
});
