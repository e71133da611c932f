// `npm run bench -- --billing` — what the credits ledger costs the request path (issue 5, item 8).
//
//   node --import tsx bench/run.ts --billing      (or node --import tsx bench/billing.ts)
//   env: BENCH_DURATION (s per run, default 10), BENCH_WARMUP (s, default 2), BENCH_CONNECTIONS (default 64),
//        BENCH_ROUNDS (default 2), BENCH_GATEWAY_FLAGS (extra node flags for the gateway, investigation only), BENCH_PG_URL (default postgres://root@127.0.0.1:5432/test), BENCH_BACKENDS
//        (sqlite,postgres)
//
// The full pipeline — `node bin/switchyard.js serve`, the same mock upstream process and request bodies as
// `npm run bench` — once with billing.mode prepaid (the hold before dispatch, the settle after: ledger lines,
// balance, usage event) and once with billing.mode metered (the usage event and its cost only, no credit moved),
// on SQLite and on PostgreSQL. Rounds alternate the order of the two modes so drift on a shared machine hits
// both. Besides req/s and latency it reads the CPU time the gateway (and, on PostgreSQL, every postgres
// process) spent per request, which is what billing adds even when the machine is not saturated. Writes
// bench/billing-results.md.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, killAllChildrenNow, sleep, startPortPrinter, stopAllChildren, stopChild } from './lib/children.ts';
import { JSON_BODY, SSE_BODY, SSE_WORDS } from './lib/constants.ts';
import { adminGet, startGateway, type Gateway } from './lib/gateway.ts';
import { checkTarget, runLoad, stopLoad } from './lib/load.ts';
import { describeMachine, type Mode } from './lib/report.ts';
import { cpuMs, gatewayRevision, procCpu } from './failover/observe.ts';
import { numberEnv as envNumber } from './lib/env.ts';

type Backend = 'sqlite' | 'postgres';
type BillingMode = 'prepaid' | 'metered';

const repoRoot = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const RESULTS_FILE = join(repoRoot, 'bench/billing-results.md');

const numberEnv = (name: string, fallback: number, min: number): number => envNumber('bench:billing', name, fallback, min);
const durationS = numberEnv('BENCH_DURATION', 10, 1);
const warmupS = numberEnv('BENCH_WARMUP', 2, 0);
const connections = Math.round(numberEnv('BENCH_CONNECTIONS', 64, 1));
const rounds = Math.round(numberEnv('BENCH_ROUNDS', 2, 1));
const pgBase = process.env.BENCH_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
const backends = (process.env.BENCH_BACKENDS ?? 'sqlite,postgres').split(',').map((b) => b.trim()).filter((b): b is Backend => b === 'sqlite' || b === 'postgres');
const MODES: Mode[] = ['JSON', 'SSE'];
/** The cost beyond which issue 5 asks for a faster path. */
const BUDGET = 0.25;

const log = (line: string): void => {
  process.stderr.write(`[bench:billing] ${line}\n`);
};

const tempDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-billing-'));
const schemas: string[] = [];
process.on('exit', () => {
  killAllChildrenNow();
  rmSync(tempDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopLoad();
    void stopAllChildren().finally(() => process.exit(130));
  });
}
const budgetMs = (backends.length * 2 * rounds * MODES.length * (durationS + warmupS + 3) + backends.length * 2 * rounds * 40 + 120) * 1000;
setTimeout(() => {
  log(`watchdog: ${budgetMs / 1000} s passed, more than the bench should ever take; stopping.`);
  stopLoad();
  void stopAllChildren().finally(() => process.exit(1));
}, budgetMs).unref();

/**
 * CPU ms of the PostgreSQL server (server-wide: the bench is alone on this cluster, or this is noise): every live
 * postgres process, plus the postmaster's exited children (a backend whose connection closed during the run, an
 * autovacuum worker) — without these a process that ends mid-run would take its CPU with it from the sum.
 */
function postgresCpuMs(): number {
  const procs = new Map<number, NonNullable<ReturnType<typeof procCpu>>>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith('postgres')) continue;
    } catch {
      continue;
    }
    const cpu = procCpu(Number(entry));
    if (cpu) procs.set(Number(entry), cpu);
  }
  let total = 0;
  for (const cpu of procs.values()) total += cpu.ownMs + (procs.has(cpu.ppid) ? 0 : cpu.exitedChildrenMs);
  return total;
}

interface Run {
  backend: Backend;
  billing: BillingMode;
  mode: Mode;
  round: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  failures: number;
  /** Gateway CPU ms per 2xx response (and postgres CPU ms per response, PostgreSQL only). */
  gatewayCpuPerReq: number;
  pgCpuPerReq: number | undefined;
}

function databaseUrl(backend: Backend, label: string): string {
  if (backend === 'sqlite') return `sqlite:${join(tempDir, label, 'switchyard.db')}`;
  const schema = `bench_${label.replace(/[^a-z0-9]/g, '_')}_${process.pid}`;
  schemas.push(schema);
  return `${pgBase}${pgBase.includes('?') ? '&' : '?'}schema=${schema}`;
}

async function dropSchemas(): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: pgBase, connectionTimeoutMillis: 5000, statement_timeout: 30_000 });
  try {
    await client.connect();
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } catch (error) {
    log(`could not drop the bench schemas (${String(error)}): drop ${schemas.join(', ')} by hand`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function measure(gateway: Gateway, backend: Backend, billing: BillingMode, round: number): Promise<Run[]> {
  const runs: Run[] = [];
  const url = `${gateway.url}/v1/chat/completions`;
  const headers = { authorization: `Bearer ${gateway.apiKey}` };
  for (const mode of MODES) {
    const body = mode === 'JSON' ? JSON_BODY : SSE_BODY;
    const check = await checkTarget(url, headers, body, mode === 'SSE', SSE_WORDS);
    if (!check.ok) throw new Error(`${backend}/${billing}/${mode}: the gateway's answer is wrong: ${check.detail}`);
    if (warmupS > 0) await runLoad({ url, headers, body, connections, durationS: warmupS });
    await sleep(200);
    const cpu0 = cpuMs(gateway.child.pid) ?? 0;
    const pg0 = backend === 'postgres' ? postgresCpuMs() : 0;
    const outcome = await runLoad({ url, headers, body, connections, durationS });
    const cpu1 = cpuMs(gateway.child.pid) ?? 0;
    const pg1 = backend === 'postgres' ? postgresCpuMs() : 0;
    const okCount = Math.max(outcome.ok, 1);
    const run: Run = {
      backend, billing, mode, round,
      reqPerSec: outcome.reqPerSec, p50: outcome.p50, p99: outcome.p99, failures: outcome.errors + outcome.non2xx,
      gatewayCpuPerReq: (cpu1 - cpu0) / okCount,
      pgCpuPerReq: backend === 'postgres' ? (pg1 - pg0) / okCount : undefined,
    };
    log(
      `round ${round} ${backend} ${billing} ${mode}: ${run.reqPerSec.toFixed(0)} req/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, ` +
        `${run.failures} failures, gateway CPU ${run.gatewayCpuPerReq.toFixed(3)} ms/req` +
        (run.pgCpuPerReq === undefined ? '' : `, postgres CPU ${run.pgCpuPerReq.toFixed(3)} ms/req`),
    );
    runs.push(run);
  }
  return runs;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
const f = (x: number | undefined, digits: number): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));

function report(runs: Run[], notes: string[], started: number, balances: string[]): string {
  const machine = describeMachine();
  const lines: string[] = [];
  lines.push('# Switchyard billing benchmark results', '');
  lines.push(`Generated by \`npm run bench -- --billing\` (bench/billing.ts) on ${machine.date}; gateway code: ${gatewayRevision(repoRoot)}.`, '');
  lines.push('## Machine', '');
  lines.push(`- CPU: ${machine.cpuModel}; cores (logical, as seen by Node): ${machine.cores}; memory ${machine.memoryGiB.toFixed(1)} GiB`);
  lines.push(`- Node ${machine.node}; ${machine.os}`, '');
  lines.push('## Settings', '');
  lines.push(
    `- The full pipeline: \`node bin/switchyard.js serve\` (one process, LOG_LEVEL=warn) in front of the bench's mock upstream (own process), loaded by autocannon in the bench's process: ${connections} connections, ${durationS} s measured after a ${warmupS} s warm-up, ${rounds} round(s); each round runs prepaid and metered in alternating order, each on a fresh gateway and database.`,
    '- **prepaid** = billing on: the worst-case hold before dispatch (conditional debit + hold row + ledger line), the settle after (capture/release lines, balance, usage event) — billing.mode: prepaid, the default.',
    '- **metered** = billing off: the same request path, the usage event and its cost recorded, no hold, no ledger, no balance — billing.mode: metered.',
    `- Bodies: the same as \`npm run bench\`: JSON \`${JSON_BODY}\`; SSE \`${SSE_BODY}\`.`,
    `- SQLite: a file in a temp dir (WAL, synchronous=NORMAL). PostgreSQL: ${pgBase.replace(/\/\/[^@]*@/, '//…@')} (a fresh schema per gateway), on the same machine.`,
    '- CPU ms/req: CPU time (user + system) of the gateway process (all its threads), and of all postgres processes, over the measured run ÷ 2xx responses. On this machine the load generator, the mock, the gateway and PostgreSQL share the same cores, so every CPU-millisecond the database spends is taken from the gateway: the throughput cost includes the database server\'s work, the gateway CPU cost is what one replica pays when the database has its own machine.',
    '- Every process shares the same cores: the figures compare billing on with billing off here, they are not a capacity.',
    `- Whole run: ${((Date.now() - started) / 1000).toFixed(0)} s.`,
    '',
  );
  lines.push('## Results (mean of the rounds)', '');
  lines.push('| backend | body | metered req/s | prepaid req/s | billing cost (throughput) | metered p50 / p99 ms | prepaid p50 / p99 ms | gateway CPU ms/req metered → prepaid (cost) | postgres CPU ms/req metered → prepaid | throughput cost ≤ 25 % |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const backend of backends) {
    for (const mode of MODES) {
      const pick = (billing: BillingMode): Run[] => runs.filter((r) => r.backend === backend && r.mode === mode && r.billing === billing);
      const off = pick('metered');
      const on = pick('prepaid');
      if (off.length === 0 || on.length === 0) continue;
      const offRps = mean(off.map((r) => r.reqPerSec));
      const onRps = mean(on.map((r) => r.reqPerSec));
      const cost = 1 - onRps / offRps;
      const offCpu = mean(off.map((r) => r.gatewayCpuPerReq));
      const onCpu = mean(on.map((r) => r.gatewayCpuPerReq));
      const pgCpu = (rs: Run[]): number | undefined => (backend === 'postgres' ? mean(rs.map((r) => r.pgCpuPerReq ?? 0)) : undefined);
      lines.push(
        `| ${backend} | ${mode} | ${f(offRps, 0)} | ${f(onRps, 0)} | ${cost >= 0 ? '−' : '+'}${f(Math.abs(cost) * 100, 1)} % | ` +
          `${f(mean(off.map((r) => r.p50)), 2)} / ${f(mean(off.map((r) => r.p99)), 2)} | ${f(mean(on.map((r) => r.p50)), 2)} / ${f(mean(on.map((r) => r.p99)), 2)} | ` +
          `${f(offCpu, 3)} → ${f(onCpu, 3)} (${onCpu >= offCpu ? '+' : '−'}${f((Math.abs(onCpu - offCpu) / offCpu) * 100, 0)} %) | ` +
          `${backend === 'postgres' ? `${f(pgCpu(off), 3)} → ${f(pgCpu(on), 3)}` : ''} | ${cost <= BUDGET ? 'ok' : '**over 25 %**'} |`,
      );
    }
  }
  lines.push('', '## Every run', '');
  lines.push('| round | backend | billing | body | req/s | p50 ms | p99 ms | failures | gateway CPU ms/req | postgres CPU ms/req |');
  lines.push('|---:|---|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    lines.push(`| ${r.round} | ${r.backend} | ${r.billing} | ${r.mode} | ${f(r.reqPerSec, 0)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${r.failures} | ${f(r.gatewayCpuPerReq, 3)} | ${f(r.pgCpuPerReq, 3)} |`);
  }
  lines.push('', '## Checks', '');
  lines.push(...balances.map((b) => `- ${b}`));
  if (notes.length > 0) lines.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const started = Date.now();
  const notes: string[] = [];
  const balances: string[] = [];
  const runs: Run[] = [];
  log(`${backends.join(' + ')}, ${rounds} round(s), ${durationS} s per run after ${warmupS} s warm-up, ${connections} connections`);
  const mock = await startPortPrinter(repoRoot, 'mock upstream', 'bench/mock-server.ts', ['0']);
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const backend of backends) {
        const order: BillingMode[] = round % 2 === 1 ? ['metered', 'prepaid'] : ['prepaid', 'metered'];
        for (const billing of order) {
          const label = `${backend}-${billing}-${round}`;
          mkdirSync(join(tempDir, label));
          const gateway = await startGateway({
            repoRoot, dataDir: join(tempDir, label), port: await freePort(), mockPort: mock.port,
            // BENCH_GATEWAY_FLAGS: extra node flags for the gateway (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"), for investigation only.
            nodeFlags: (process.env.BENCH_GATEWAY_FLAGS ?? '').split(' ').filter((f) => f !== ''),
            env: { DATABASE_URL: databaseUrl(backend, label), SWITCHYARD_BILLING_MODE: billing },
          });
          try {
            runs.push(...(await measure(gateway, backend, billing, round)));
            const balance = await adminGet(gateway, `/users/${encodeURIComponent(gateway.userId)}`).catch((e: unknown) => String(e));
            const verify = await adminGet(gateway, '/ledger/verify').catch((e: unknown) => String(e));
            const b = (balance as { balance_credits?: unknown }).balance_credits;
            const v = (verify as { ok?: unknown }).ok;
            balances.push(`round ${round} ${backend} ${billing}: balance after the runs ${String(b)} credits (started with 1000000); GET /admin/v1/ledger/verify ok: ${String(v)}`);
            if (v !== true) notes.push(`**${label}: the ledger does not verify** (${JSON.stringify(verify)}).`);
          } finally {
            await stopChild(gateway.child);
          }
        }
      }
    }
  } finally {
    await stopChild(mock.child);
    await dropSchemas();
  }
  const markdown = report(runs, notes, started, balances);
  writeFileSync(RESULTS_FILE, markdown);
  process.stdout.write(markdown);
  log(`wrote ${relative(repoRoot, RESULTS_FILE)}`);
  return notes.some((n) => n.includes('does not verify')) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:billing failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    void stopAllChildren().finally(() => process.exit(1));
  },
);
