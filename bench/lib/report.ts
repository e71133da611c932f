// The markdown the bench prints and writes to bench/results.md.
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type as osType } from 'node:os';
import type { LoadOutcome } from './load.ts';

export type TargetName = 'direct' | 'nginx' | 'node-floor' | 'gateway';
export type Mode = 'JSON' | 'SSE';

export interface ScenarioRow {
  target: TargetName;
  mode: Mode;
  /** Undefined when the scenario could not run (e.g. nginx missing); `skipped` says why. */
  outcome?: LoadOutcome;
  skipped?: string;
  /** node-floor and gateway rows: the proxy process's RSS during the measured run, bytes. */
  rssPeak?: number;
  rssEnd?: number;
}

export const scenarioName = (row: { target: TargetName; mode: Mode }): string => `${row.target}-${row.mode}`;

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  date: string;
}

export function describeMachine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1] !== undefined) cpuModel = m[1].trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  return {
    cpuModel,
    cores: cpus().length,
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    os: `${osType()} ${release()}`,
    date: new Date().toISOString(),
  };
}

const mb = (bytes: number | undefined): string => (bytes === undefined ? '' : (bytes / 2 ** 20).toFixed(0));
const fixed = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');

export function findRow(rows: ScenarioRow[], target: TargetName, mode: Mode): ScenarioRow | undefined {
  return rows.find((r) => r.target === target && r.mode === mode);
}

/** reqPerSec(a) / reqPerSec(b), or undefined when either is missing. */
export function ratio(rows: ScenarioRow[], a: TargetName, b: TargetName, mode: Mode): number | undefined {
  const x = findRow(rows, a, mode)?.outcome;
  const y = findRow(rows, b, mode)?.outcome;
  if (!x || !y || y.reqPerSec <= 0) return undefined;
  return x.reqPerSec / y.reqPerSec;
}

export function failures(row: ScenarioRow): number {
  return row.outcome ? row.outcome.errors + row.outcome.non2xx : 0;
}

function errorCell(row: ScenarioRow): string {
  const o = row.outcome;
  if (!o) return '';
  const base = `${o.errors} / ${o.non2xx}`;
  if (o.errors + o.non2xx === 0) return base;
  const codes = Object.entries(o.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${code}×${n}`);
  const kinds = Object.entries(o.errorKinds).map(([kind, n]) => `${kind}×${n}`);
  return `**${base}** ⚠ ${[...codes, ...kinds].join(', ')}`;
}

const times = (x: number | undefined): string => (x === undefined ? '' : `${fixed(x, 2)}×`);
const timesOrNa = (x: number | undefined): string => (x === undefined ? 'n/a' : `${fixed(x, 2)}×`);

export function resultsTable(rows: ScenarioRow[]): string {
  const lines = [
    '| scenario | req/s | p50 ms | p99 ms | errors / non-2xx | proxy RSS peak / end MB | ÷ nginx req/s | gateway ÷ node-floor req/s |',
    '|---|---:|---:|---:|---|---:|---:|---:|',
  ];
  for (const row of rows) {
    const o = row.outcome;
    if (!o) {
      lines.push(`| ${scenarioName(row)} | skipped: ${row.skipped ?? 'not run'} | | | | | | |`);
      continue;
    }
    const proxy = row.target === 'gateway' || row.target === 'node-floor';
    const rss = proxy && row.rssPeak !== undefined ? `${mb(row.rssPeak)} / ${mb(row.rssEnd)}` : '';
    const vsNginx = proxy ? ratio(rows, row.target, 'nginx', row.mode) : undefined;
    const vsFloor = row.target === 'gateway' ? ratio(rows, 'gateway', 'node-floor', row.mode) : undefined;
    lines.push(
      `| ${scenarioName(row)} | ${fixed(o.reqPerSec, 0)} | ${fixed(o.p50, 2)} | ${fixed(o.p99, 2)} | ${errorCell(row)} | ${rss} | ${times(vsNginx)} | ${times(vsFloor)} |`,
    );
  }
  return lines.join('\n');
}

export const TARGET_RATIO = 0.6;

/** One line per mode: the target verdict, where the gap comes from (gateway ÷ node-floor, node-floor ÷ nginx), the rest. */
export function ratiosSection(rows: ScenarioRow[]): string {
  const lines: string[] = [];
  for (const mode of ['JSON', 'SSE'] as const) {
    const vsNginx = ratio(rows, 'gateway', 'nginx', mode);
    const vsFloor = ratio(rows, 'gateway', 'node-floor', mode);
    const floorVsNginx = ratio(rows, 'node-floor', 'nginx', mode);
    const g = findRow(rows, 'gateway', mode)?.outcome;
    const n = findRow(rows, 'nginx', mode)?.outcome;
    const f = findRow(rows, 'node-floor', mode)?.outcome;
    const d = findRow(rows, 'direct', mode)?.outcome;
    const verdict =
      vsNginx === undefined ? 'not measured' : vsNginx >= TARGET_RATIO ? `meets the ≥ ${TARGET_RATIO}× target` : `**below the ≥ ${TARGET_RATIO}× target**`;
    const floorVerdict =
      floorVsNginx === undefined ? 'not measured' : floorVsNginx >= TARGET_RATIO ? `≥ ${TARGET_RATIO}×` : `**below ${TARGET_RATIO}×**`;
    const parts = [
      `- ${mode}: gateway ÷ nginx = ${timesOrNa(vsNginx)} (${verdict})`,
      `gateway ÷ node-floor = ${timesOrNa(vsFloor)} (the cost of Switchyard's own work)`,
      `node-floor ÷ nginx = ${timesOrNa(floorVsNginx)} (the cost of Node.js itself; ${floorVerdict})`,
      `gateway ÷ direct = ${timesOrNa(ratio(rows, 'gateway', 'direct', mode))}`,
      `node-floor ÷ direct = ${timesOrNa(ratio(rows, 'node-floor', 'direct', mode))}`,
      `nginx ÷ direct = ${timesOrNa(ratio(rows, 'nginx', 'direct', mode))}`,
    ];
    if (g && d) parts.push(`p50 added by the gateway over direct: ${fixed(g.p50 - d.p50, 2)} ms`);
    if (g && n) parts.push(`over nginx: ${fixed(g.p50 - n.p50, 2)} ms`);
    if (g && f) parts.push(`over node-floor: ${fixed(g.p50 - f.p50, 2)} ms`);
    lines.push(parts.join('; '));
  }
  return lines.join('\n');
}

/**
 * The plain statement results.md must make when Node.js itself cannot reach the target: one line per mode where
 * node-floor ÷ nginx < TARGET_RATIO (empty when it is not, or when either was not measured).
 */
export function floorBelowTarget(rows: ScenarioRow[]): string[] {
  const out: string[] = [];
  for (const mode of ['JSON', 'SSE'] as const) {
    const r = ratio(rows, 'node-floor', 'nginx', mode);
    if (r === undefined || r >= TARGET_RATIO) continue;
    out.push(
      `**${mode}: node-floor itself reaches only ${fixed(r, 2)}× nginx, below ${TARGET_RATIO}×, so on this machine the ≥ ${TARGET_RATIO}× nginx target cannot be met by any Node.js proxy** — not even one built from the gateway's libraries (Fastify + undici) that does nothing but forward. The gateway's ceiling here is node-floor's ${fixed(findRow(rows, 'node-floor', mode)?.outcome?.reqPerSec ?? Number.NaN, 0)} req/s; gateway ÷ node-floor is the part Switchyard's own code can improve.`,
    );
  }
  return out;
}

export const RATIOS_EXPLAINED =
  "node-floor is the fastest a Node.js proxy built from the same HTTP server and client libraries as the gateway (Fastify 5 + undici 7, no gateway logic) reaches on this machine; gateway ÷ node-floor is the cost of Switchyard's own work (auth, validation, token counting, hold, settle, usage event); node-floor ÷ nginx is the cost of Node.js itself.";

export interface ReportInput {
  machine: Machine;
  rows: ScenarioRow[];
  settings: string[];
  checks: string[];
  notes: string[];
  warnings: string[];
  profile?: string;
}

export function resultsMarkdown(input: ReportInput): string {
  const m = input.machine;
  const out: string[] = ['# Switchyard benchmark results', ''];
  if (input.warnings.length > 0) {
    out.push('> **⚠ THIS RUN HAD PROBLEMS — the numbers below are not a valid measurement of the affected rows:**', '>');
    for (const w of input.warnings) out.push(`> - ${w}`);
    out.push('');
  }
  out.push(
    `Generated by \`npm run bench\` (bench/run.ts) on ${m.date}.`,
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpuModel}`,
    `- Cores (logical, as seen by Node): ${m.cores}`,
    `- Memory: ${m.memoryGiB.toFixed(1)} GiB`,
    `- Node: ${m.node}`,
    `- OS: ${m.os}`,
    `- Date: ${m.date}`,
    '',
    '## Settings',
    '',
    ...input.settings.map((s) => `- ${s}`),
    '',
    '## Results',
    '',
    resultsTable(input.rows),
    '',
    'Ratios (req/s):',
    '',
    ratiosSection(input.rows),
    '',
    RATIOS_EXPLAINED,
    '',
  );
  const floorLines = floorBelowTarget(input.rows);
  if (floorLines.length > 0) out.push(...floorLines.map((l) => `> ${l}`).join('\n>\n').split('\n'), '');
  const item = (text: string): string => `- ${text.split('\n').join('\n  ')}`.replace(/\n {2}$/gm, '\n');
  if (input.checks.length > 0) out.push('## Answer checks (one request per target before the load)', '', ...input.checks.map(item), '');
  if (input.notes.length > 0) out.push('## Notes', '', ...input.notes.map(item), '');
  if (input.profile) out.push('## CPU profile of the gateway', '', input.profile);
  return `${out.join('\n').trimEnd()}\n`;
}
