// `npm run bench` — Switchyard's gateway next to a direct call to the mock upstream, an nginx proxy hop and a
// bare Fastify + undici proxy (node-floor).
//
//   node --import tsx bench/run.ts [--profile]
//   env: BENCH_DURATION (s per scenario, default 10), BENCH_WARMUP (s, default 2), BENCH_CONNECTIONS (default 64)
//
// Starts the mock upstream (own process), nginx (if installed), node-floor (bench/node-floor.ts, own process) and
// the gateway (`node bin/switchyard.js serve`, SQLite in a temp dir), loads each with autocannon, prints a markdown
// table and writes it to bench/results.md (with --profile: bench/.tmp/results-profile.md, since a profiled gateway
// is slower). See bench/README.md.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeExit, freePort, killAllChildrenNow, rssBytes, RssSampler, sleep, startPortPrinter, stopAllChildren, stopChild } from './lib/children.ts';
import type { Child } from './lib/children.ts';
import { JSON_BODY, MOCK_API_KEY, SSE_BODY, SSE_WORDS } from './lib/constants.ts';
import { adminGet, startGateway } from './lib/gateway.ts';
import type { Gateway } from './lib/gateway.ts';
import { checkTarget, runLoad, stopLoad } from './lib/load.ts';
import { findNginx, NGINX_INSTALL_HINT, NGINX_MODE, startNginx } from './lib/nginx.ts';
import { newestProfile, profileMarkdown, summarizeProfile } from './lib/profile.ts';
import type { Window } from './lib/profile.ts';
import { describeMachine, failures, floorBelowTarget, resultsMarkdown, resultsTable, ratiosSection, scenarioName } from './lib/report.ts';
import type { Mode, ScenarioRow, TargetName } from './lib/report.ts';
import { numberEnv as envNumber } from './lib/env.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const args = new Set(process.argv.slice(2));
if (args.has('--help') || args.has('-h')) {
  process.stdout.write('usage: node --import tsx bench/run.ts [--profile]\n  env BENCH_DURATION=10 BENCH_WARMUP=2 BENCH_CONNECTIONS=64\n');
  process.exit(0);
}
const profiling = args.has('--profile');
for (const a of args) {
  if (a !== '--profile') {
    process.stderr.write(`bench: unknown argument ${a} (try --help)\n`);
    process.exit(2);
  }
}

const numberEnv = (name: string, fallback: number, min: number): number => envNumber('bench', name, fallback, min);
const durationS = numberEnv('BENCH_DURATION', 10, 1);
const warmupS = numberEnv('BENCH_WARMUP', 2, 0);
const connections = Math.round(numberEnv('BENCH_CONNECTIONS', 64, 1));

const PROFILE_DIR = join(repoRoot, 'bench/.tmp/profiles');
const RESULTS_FILE = profiling ? join(repoRoot, 'bench/.tmp/results-profile.md') : join(repoRoot, 'bench/results.md');
const MODES: Mode[] = ['JSON', 'SSE'];
const TARGETS: TargetName[] = ['direct', 'nginx', 'node-floor', 'gateway'];

const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

// ---------------------------------------------------------------------------------------------------------
// Cleanup on every path: normal end, error, SIGINT/SIGTERM, watchdog.

const tempDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    stopLoad();
    await stopAllChildren();
    rmSync(tempDir, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on('exit', () => {
  killAllChildrenNow();
  try {
    rmSync(tempDir, { recursive: true, force: true });
  } catch {
    // best effort
  }
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the load and the child processes…`);
    void cleanup().finally(() => process.exit(130));
  });
}
// Everything is bounded in time; this is the net under it (e.g. a child that ignores SIGTERM forever).
const budgetMs = (MODES.length * TARGETS.length * (durationS + warmupS + 5) + 150) * 1000;
const watchdog = setTimeout(() => {
  log(`watchdog: the bench has run ${budgetMs / 1000} s, more than it ever should; stopping everything.`);
  void cleanup().finally(() => process.exit(1));
}, budgetMs);
watchdog.unref();

// ---------------------------------------------------------------------------------------------------------

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '?';
  } catch {
    return '?';
  }
}

async function ok200(url: string, headers: Record<string, string>): Promise<boolean> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === 200;
}

interface Endpoint {
  url: string;
  headers: Record<string, string>;
}

/**
 * What the gateway printed during the load (LOG_LEVEL=warn): pino JSON lines grouped by level, message and error
 * name, with one shortened example each, so a flood of identical lines reads as one line with a count.
 */
function summarizeGatewayOutput(text: string): string {
  const groups = new Map<string, { count: number; example: string }>();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (const line of lines) {
    let key = 'non-JSON output';
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; err?: { name?: unknown; message?: unknown; stack?: unknown } };
      const err = entry.err;
      // pino may serialize an error without `message`: the stack's first line has it.
      const message = typeof err?.message === 'string' ? `${String(err.name)}: ${err.message}` : typeof err?.stack === 'string' ? (err.stack.split('\n')[0] ?? '') : '';
      key = `level ${String(entry.level)} "${String(entry.msg)}"${message === '' ? '' : ` (${message})`}`;
    } catch {
      // keep the default key
    }
    const group = groups.get(key) ?? { count: 0, example: line.length > 600 ? `${line.slice(0, 600)}…` : line };
    group.count += 1;
    groups.set(key, group);
  }
  const parts = [...groups.entries()].map(([key, g]) => `${g.count}× ${key}; e.g.:\n\n\`\`\`\n${g.example}\n\`\`\``);
  return `The gateway printed ${lines.length} line(s) at LOG_LEVEL=warn during the warm-ups and measured runs (at the end of each run autocannon closes its connections, aborting the up to ${connections} requests in flight):\n\n${parts.join('\n\n')}`;
}

/** CLOCK_MONOTONIC in microseconds, the clock of V8's .cpuprofile timestamps. */
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

function fmtMs(ms: number): string {
  return Number.isFinite(ms) ? ms.toFixed(2) : '—';
}

async function main(): Promise<number> {
  const started = Date.now();
  const machine = describeMachine();
  const warnings: string[] = [];
  const notes: string[] = [];
  const checks: string[] = [];
  const endpoints = new Map<TargetName, Endpoint>();
  const unavailable = new Map<TargetName, string>();

  log(`${durationS} s per scenario after a ${warmupS} s warm-up, ${connections} connections${profiling ? ', gateway CPU-profiled' : ''}`);

  // nginx first: if it is missing, say so before anything else takes time.
  const nginxBin = findNginx();
  if (!nginxBin) {
    const msg = `nginx is not installed, so the nginx rows (the reference for the ≥ 0.6× target) are skipped. Install it with: ${NGINX_INSTALL_HINT}`;
    process.stderr.write(`\n${'!'.repeat(100)}\n!! ${msg}\n${'!'.repeat(100)}\n\n`);
    warnings.push(msg);
    unavailable.set('nginx', 'nginx not installed (`apt-get install -y nginx`)');
  }

  const mock = await startPortPrinter(repoRoot, 'mock upstream', 'bench/mock-server.ts', ['0']);
  const mockBase = `http://127.0.0.1:${mock.port}`;
  const mockAuth = { authorization: `Bearer ${MOCK_API_KEY}` };
  endpoints.set('direct', { url: `${mockBase}/v1/chat/completions`, headers: mockAuth });
  log(`mock upstream: ${mockBase}/v1 (pid ${mock.child.pid})`);

  let nginx: Child | undefined;
  if (nginxBin) {
    const port = await freePort();
    try {
      nginx = await startNginx(nginxBin, join(tempDir, 'nginx'), port, mock.port, () => ok200(`http://127.0.0.1:${port}/v1/models`, mockAuth));
      endpoints.set('nginx', { url: `http://127.0.0.1:${port}/v1/chat/completions`, headers: mockAuth });
      log(`nginx ${nginxBin.version}: http://127.0.0.1:${port} → mock (pid ${nginx.pid})`);
    } catch (error) {
      const msg = `nginx did not start: ${(error as Error).message}`;
      log(msg);
      warnings.push(msg.split('\n')[0] ?? msg);
      notes.push(`nginx failure:\n\n\`\`\`\n${msg}\n\`\`\``);
      unavailable.set('nginx', 'nginx did not start (see notes)');
    }
  }

  // node-floor: Fastify + undici and nothing else, the fastest a Node.js proxy of the gateway's make goes here.
  let floor: Child | undefined;
  try {
    const floorStarted = await startPortPrinter(repoRoot, 'node-floor proxy', 'bench/node-floor.ts', [mockBase, MOCK_API_KEY, '0']);
    floor = floorStarted.child;
    endpoints.set('node-floor', { url: `http://127.0.0.1:${floorStarted.port}/v1/chat/completions`, headers: {} });
    const idle = rssBytes(floor.pid);
    log(`node-floor: http://127.0.0.1:${floorStarted.port} → mock (pid ${floor.pid}, RSS ${idle === undefined ? '?' : (idle / 2 ** 20).toFixed(0)} MB idle)`);
    if (idle !== undefined) notes.push(`node-floor RSS after start-up, before any load: ${(idle / 2 ** 20).toFixed(0)} MB.`);
  } catch (error) {
    const msg = `node-floor did not start: ${(error as Error).message}`;
    log(msg);
    warnings.push(msg.split('\n')[0] ?? msg);
    notes.push(`node-floor failure:\n\n\`\`\`\n${msg}\n\`\`\``);
    unavailable.set('node-floor', 'node-floor did not start (see notes)');
  }

  let gateway: Gateway | undefined;
  const nodeFlags = profiling ? ['--cpu-prof', `--cpu-prof-dir=${relative(repoRoot, PROFILE_DIR)}`] : [];
  if (profiling) mkdirSync(PROFILE_DIR, { recursive: true });
  try {
    const dataDir = join(tempDir, 'gateway');
    mkdirSync(dataDir, { recursive: true });
    gateway = await startGateway({ repoRoot, dataDir, port: await freePort(), mockPort: mock.port, nodeFlags });
    endpoints.set('gateway', { url: `${gateway.url}/v1/chat/completions`, headers: { authorization: `Bearer ${gateway.apiKey}` } });
    const idle = rssBytes(gateway.child.pid);
    log(`gateway: ${gateway.url} (pid ${gateway.child.pid}, RSS ${idle === undefined ? '?' : (idle / 2 ** 20).toFixed(0)} MB idle), user ${gateway.userId}`);
    if (idle !== undefined) notes.push(`Gateway RSS after start-up and setup, before any load: ${(idle / 2 ** 20).toFixed(0)} MB.`);
  } catch (error) {
    const msg = (error as Error).message;
    log(`THE GATEWAY DID NOT START OR COULD NOT BE SET UP:\n${msg}`);
    warnings.push(`The gateway did not start or could not be set up: ${(msg.split('\n')[0] ?? msg).replace(/\s*Its output.*$/, '')} (what it printed is under Notes)`);
    notes.push(`Gateway failure, as seen:\n\n\`\`\`\n${msg.trimEnd()}\n\`\`\``);
    unavailable.set('gateway', 'gateway did not start (see notes)');
  }

  // One request per target and mode: a 200 is not enough, the answer must be what a client expects.
  for (const mode of MODES) {
    for (const target of TARGETS) {
      const ep = endpoints.get(target);
      if (!ep) continue;
      const check = await checkTarget(ep.url, ep.headers, mode === 'JSON' ? JSON_BODY : SSE_BODY, mode === 'SSE', SSE_WORDS);
      const line = `${target}-${mode}: ${check.ok ? 'ok' : 'FAILED'} — ${check.detail}`;
      checks.push(line);
      log(`check ${line}`);
      if (!check.ok) warnings.push(`answer check failed for ${target}-${mode}: ${check.detail}`);
    }
  }

  const outputMark = gateway?.child.outputMark() ?? 0;
  const rows: ScenarioRow[] = [];
  const profileWindows: Window[] = [];
  for (const mode of MODES) {
    for (const target of TARGETS) {
      const ep = endpoints.get(target);
      const exitedChild = target === 'gateway' ? gateway?.child : target === 'node-floor' ? floor : undefined;
      const why = unavailable.get(target) ?? (exitedChild?.exited ? `${target} exited (${describeExit(exitedChild)})` : undefined);
      if (!ep || why !== undefined) {
        rows.push({ target, mode, skipped: why ?? 'not available' });
        log(`${target}-${mode}: skipped (${why ?? 'not available'})`);
        continue;
      }
      const spec = { url: ep.url, headers: ep.headers, body: mode === 'JSON' ? JSON_BODY : SSE_BODY, connections };
      const sampled = target === 'gateway' ? gateway?.child : target === 'node-floor' ? floor : undefined;
      const sampler = sampled ? new RssSampler(sampled.pid) : undefined;
      if (warmupS > 0) {
        const warm = await runLoad({ ...spec, durationS: warmupS });
        if (warm.errors + warm.non2xx > 0) notes.push(`Warm-up of ${target}-${mode} had ${warm.errors} errors and ${warm.non2xx} non-2xx responses.`);
      }
      await sleep(200);
      sampler?.start();
      const windowStart = nowUs();
      const outcome = await runLoad({ ...spec, durationS });
      if (target === 'gateway') profileWindows.push([windowStart, nowUs()]);
      sampler?.stop();
      const row: ScenarioRow = { target, mode, outcome };
      if (sampler) {
        row.rssPeak = sampler.peak;
        row.rssEnd = sampler.last;
      }
      rows.push(row);
      const rss = sampler ? `, RSS peak ${(sampler.peak / 2 ** 20).toFixed(0)} MB` : '';
      log(
        `${scenarioName(row)}: ${outcome.reqPerSec.toFixed(0)} req/s, p50 ${fmtMs(outcome.p50)} ms, p99 ${fmtMs(outcome.p99)} ms, ${outcome.errors} errors, ${outcome.non2xx} non-2xx${rss}`,
      );
      if (failures(row) > 0) {
        const codes = Object.entries(outcome.statusCodes).map(([c, n]) => `${c}×${n}`).join(', ');
        const kinds = Object.entries(outcome.errorKinds).map(([k, n]) => `${k}×${n}`).join(', ');
        const msg = `${scenarioName(row)} had ${outcome.errors} connection errors/timeouts and ${outcome.non2xx} non-2xx responses (status codes: ${codes}${kinds ? `; errors: ${kinds}` : ''})`;
        warnings.push(msg);
        log(`⚠ ${msg}`);
      }
      await sleep(300);
    }
  }

  if (gateway) {
    if (gateway.child.exited) {
      warnings.push(`The gateway process exited during the run (${describeExit(gateway.child)}).`);
    } else {
      try {
        const balance = await adminGet(gateway, `/users/${encodeURIComponent(gateway.userId)}/balance`);
        notes.push(`Bench user's balance after the run (admin API): \`${JSON.stringify(balance)}\` (started with 1000000 credits).`);
      } catch (error) {
        notes.push(`Could not read the bench user's balance afterwards: ${(error as Error).message}`);
      }
    }
    const during = gateway.child.outputSince(outputMark).trimEnd();
    if (during !== '') notes.push(summarizeGatewayOutput(during));
  }

  // Stop the gateway first and gracefully: --cpu-prof writes its file when the process exits.
  if (gateway) await stopChild(gateway.child);
  let profileText: string | undefined;
  if (profiling) {
    const file = gateway ? newestProfile(PROFILE_DIR, started, gateway.child.pid) : undefined;
    if (!file) {
      warnings.push(`--profile: no .cpuprofile was written to ${relative(repoRoot, PROFILE_DIR)} (did the gateway exit gracefully?)`);
    } else {
      profileText = profileMarkdown(summarizeProfile(file, repoRoot, 15, profileWindows), repoRoot);
    }
  }
  if (floor) {
    if (floor.exited) warnings.push(`The node-floor process exited during the run (${describeExit(floor)}).`);
    else await stopChild(floor);
  }
  if (nginx) await stopChild(nginx);
  await stopChild(mock.child);

  const settings = [
    `Load generator: autocannon ${packageVersion('autocannon')} (programmatic, in the bench's own process), ${connections} connections, pipelining 1, ${durationS} s per scenario after a ${warmupS} s warm-up that is not counted.`,
    `req/s = 2xx responses ÷ measured seconds. p50/p99 = exact percentiles over every 2xx response, from writing the request to the last byte of the response (for SSE: the whole stream).`,
    `JSON body: \`${JSON_BODY}\``,
    `SSE body: \`${SSE_BODY}\` → the mock answers ${SSE_WORDS + 4} SSE frames (role, ${SSE_WORDS} words, finish, usage) + \`[DONE]\`, written in one go.`,
    `Mock upstream: test/upstreams/openai.ts in its own Node process (bench/mock-server.ts).`,
    nginxBin ? `nginx ${nginxBin.version}: ${NGINX_MODE}; \`upstream { keepalive 64; }\`, \`proxy_http_version 1.1\`, \`Connection ""\`, \`proxy_buffering off\`, \`access_log off\`.` : 'nginx: not installed.',
    `node-floor: \`node --import tsx bench/node-floor.ts\` (one process): Fastify ${packageVersion('fastify')} + undici ${packageVersion('undici')} (the gateway's versions), a keep-alive undici Agent with the gateway's settings, no auth, billing, database, validation or token counting; JSON: \`await res.body.json()\` then \`reply.send(json)\`; SSE: \`reply.hijack()\`, 200 + \`text/event-stream\`, the upstream body's chunks written as they come. RSS sampled like the gateway's.`,
    `Gateway: \`node ${nodeFlags.length > 0 ? `${nodeFlags.join(' ')} ` : ''}bin/switchyard.js serve\` (one process), SQLite in a temp dir, LOG_LEVEL=warn, one provider (the mock) and one model; RSS from /proc/<pid>/status every 250 ms during the measured run (peak) and right after it (end).`,
    `Every process (load generator, mock, nginx, node-floor, gateway) runs on the same ${machine.cores} cores and only on 127.0.0.1: the numbers compare the four paths with each other, they are not the gateway's capacity on a dedicated machine.`,
    `Whole run: ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  ];
  if (profiling) notes.unshift('This run was CPU-profiled (--profile): the gateway is slower than without the profiler; use bench/results.md for the numbers.');

  const markdown = resultsMarkdown({ machine, rows, settings, checks, notes, warnings, profile: profileText });
  writeFileSync(RESULTS_FILE, markdown);

  process.stdout.write(`\n${resultsTable(rows)}\n\nRatios (req/s):\n${ratiosSection(rows)}\n`);
  for (const line of floorBelowTarget(rows)) process.stdout.write(`\n${line.replaceAll('**', '')}\n`);
  if (profileText) process.stdout.write(`\n${profileText}\n`);
  if (warnings.length > 0) {
    process.stdout.write(`\n${'!'.repeat(100)}\n!! THIS RUN HAD PROBLEMS:\n${warnings.map((w) => `!!  - ${w}`).join('\n')}\n${'!'.repeat(100)}\n`);
  }
  process.stdout.write(`\nWritten to ${relative(repoRoot, RESULTS_FILE)} (machine description and notes included).\n`);
  return warnings.length > 0 ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  process.stderr.write(`\n[bench] FAILED: ${(error as Error).stack ?? String(error)}\n`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
