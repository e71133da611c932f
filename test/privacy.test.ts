// A unique canary sent through every endpoint appears nowhere on disk or in the logs afterwards.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('no request logs', () => {
  it('keeps no prompt, output or key on disk or in logs', async () => {
    const canary = `CANARY-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    const { key } = await t.newUser('10');
    const client = t.client(key);
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${canary} #reply:${canary}` }], max_tokens: 50 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `#reply:${canary}` }], max_tokens: 50 });
    for await (const _ of stream) void _;
    await client.embeddings.create({ model: 'text-embedding-3-small', input: canary });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${canary} #status:400` }], max_tokens: 50 }).catch(() => undefined);
    await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: canary }] }).catch(() => undefined);
    await fetch(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: `{"model":"${canary}",` });
    await t.gateway.deps.authenticator.flushLastUsed();

    // Flush SQLite's WAL into the main file too, then read every byte the gateway wrote.
    const files = filesUnder(t.dataDir);
    expect(files.some((f) => f.endsWith('.db'))).toBe(true);
    for (const file of files) {
      const bytes = readFileSync(file);
      expect(bytes.includes(Buffer.from(canary)), `${file} contains the canary`).toBe(false);
      expect(bytes.includes(Buffer.from(key)), `${file} contains the API key`).toBe(false);
    }
    expect(t.logs()).not.toContain(canary);
    expect(t.logs()).not.toContain(key);
  });
});
