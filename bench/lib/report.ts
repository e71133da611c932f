// The markdown the bench prints and writes to bench/results.md.
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type as osType } from 'node:os';
import type { LoadOutcome } from './load.ts';

export type TargetName = 'direct' | 'nginx' | 'gateway';
export type Mode = 'JSON' | 'SSE';

export interface ScenarioRow {
  target: TargetName;
  mode: Mode;
  /** Undefined when the scenario could not run (e.g. nginx missing); `skipped` says why. */
  outcome?: LoadOutcome;
  skipped?: string;
  /** Gateway rows: RSS during the measured run, bytes. */
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

export function resultsTable(rows: ScenarioRow[]): string {
  const lines = [
    '| scenario | req/s | p50 ms | p99 ms | errors / non-2xx | gateway RSS peak / end MB | ratio vs nginx |',
    '|---|---:|---:|---:|---|---:|---:|',
  ];
  for (const row of rows) {
    const o = row.outcome;
    if (!o) {
      lines.push(`| ${scenarioName(row)} | skipped: ${row.skipped ?? 'not run'} | | | | | |`);
      continue;
    }
    const rss = row.target === 'gateway' ? `${mb(row.rssPeak)} / ${mb(row.rssEnd)}` : '';
    const r = row.target === 'gateway' ? ratio(rows, 'gateway', 'nginx', row.mode) : undefined;
    lines.push(
      `| ${scenarioName(row)} | ${fixed(o.reqPerSec, 0)} | ${fixed(o.p50, 2)} | ${fixed(o.p99, 2)} | ${errorCell(row)} | ${rss} | ${r === undefined ? '' : `${fixed(r, 2)}×`} |`,
    );
  }
  return lines.join('\n');
}

export const TARGET_RATIO = 0.6;

export function ratiosSection(rows: ScenarioRow[]): string {
  const lines: string[] = [];
  for (const mode of ['JSON', 'SSE'] as const) {
    const vsNginx = ratio(rows, 'gateway', 'nginx', mode);
    const vsDirect = ratio(rows, 'gateway', 'direct', mode);
    const nginxVsDirect = ratio(rows, 'nginx', 'direct', mode);
    const g = findRow(rows, 'gateway', mode)?.outcome;
    const n = findRow(rows, 'nginx', mode)?.outcome;
    const d = findRow(rows, 'direct', mode)?.outcome;
    const verdict =
      vsNginx === undefined ? 'not measured' : vsNginx >= TARGET_RATIO ? `meets the ≥ ${TARGET_RATIO}× target` : `**below the ≥ ${TARGET_RATIO}× target**`;
    const parts = [
      `- ${mode}: gateway / nginx = ${vsNginx === undefined ? 'n/a' : `${fixed(vsNginx, 2)}×`} (${verdict})`,
      `gateway / direct = ${vsDirect === undefined ? 'n/a' : `${fixed(vsDirect, 2)}×`}`,
      `nginx / direct = ${nginxVsDirect === undefined ? 'n/a' : `${fixed(nginxVsDirect, 2)}×`}`,
    ];
    if (g && d) parts.push(`p50 added by the gateway over direct: ${fixed(g.p50 - d.p50, 2)} ms`);
    if (g && n) parts.push(`over nginx: ${fixed(g.p50 - n.p50, 2)} ms`);
    lines.push(parts.join('; '));
  }
  return lines.join('\n');
}

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
    'Gateway ratios (req/s):',
    '',
    ratiosSection(input.rows),
    '',
  );
  const item = (text: string): string => `- ${text.split('\n').join('\n  ')}`.replace(/\n {2}$/gm, '\n');
  if (input.checks.length > 0) out.push('## Answer checks (one request per target before the load)', '', ...input.checks.map(item), '');
  if (input.notes.length > 0) out.push('## Notes', '', ...input.notes.map(item), '');
  if (input.profile) out.push('## CPU profile of the gateway', '', input.profile);
  return `${out.join('\n').trimEnd()}\n`;
}
