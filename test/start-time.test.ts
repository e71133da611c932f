// `npm start` runs the compiled gateway (dist/main.js, one bundle built by `npm install` / `npm test`) on the
// embedded default: a fresh SQLite database, migrated at start-up, one model configured. The time to the first
// answered request is printed here and measured in bench/start.ts (targets live in benchmarks, not in tests).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/processes.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'switchyard.js');
const dir = mkdtempSync(join(tmpdir(), 'switchyard-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('start-up', () => {
  it('serves from the compiled build on a fresh data directory', async () => {
    // `npm test` builds first (pretest): the build is there and newer than every source file, which is what
    // bin/switchyard.js checks before it runs the build rather than the sources.
    expect(existsSync(join(ROOT, 'dist', 'main.js'))).toBe(true);
    const stamp = statSync(join(ROOT, 'dist', '.built')).mtimeMs;
    const sources = readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(sources.every((e) => statSync(join(e.parentPath, e.name)).mtimeMs <= stamp)).toBe(true);
    writeFileSync(
      join(dir, 'switchyard.yaml'),
      'providers:\n  - { id: up, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", api_key: k }\nmodels:\n  - { id: m, channels: [{ provider: up }], price: { input_per_mtok_usd: 1, output_per_mtok_usd: 2 } }\n',
    );
    const port = await freePort();
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    let firstAnswerMs = Number.NaN;
    try {
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        const ok = await fetch(`http://127.0.0.1:${port}/v1/models`).then((r) => r.status, () => 0);
        if (ok !== 0) {
          expect(ok).toBe(401); // answered (no key): the whole app is up, not just the socket
          firstAnswerMs = performance.now() - started;
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      child.kill('SIGTERM');
    }
    console.log(`[start-time] first request answered ${firstAnswerMs.toFixed(0)} ms after spawn`);
    expect(statSync(join(dir, 'data', 'switchyard.db')).size).toBeGreaterThan(0);
    expect(Number.isFinite(firstAnswerMs)).toBe(true);
  }, 30_000);
});
