// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time: what bounds the gateway.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based. */
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  /** Microseconds between consecutive samples (the first is relative to startTime). */
  timeDeltas?: number[];
}

export interface SelfTimeRow {
  name: string;
  location: string;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

/** A time span on CLOCK_MONOTONIC in microseconds: V8's profile timestamps and process.hrtime share it. */
export type Window = [startUs: number, endUs: number];

export interface ProfileSummary {
  file: string;
  /** Whether only samples inside the given windows were counted (false: the whole profile). */
  windowed: boolean;
  windowMs: number;
  totalMs: number;
  idleMs: number;
  busyMs: number;
  top: SelfTimeRow[];
  /** Self time by area: node internals, a package in node_modules, a folder of src/. */
  byArea: SelfTimeRow[];
}

function isCpuProfile(value: unknown): value is CpuProfile {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return Array.isArray(v.nodes) && typeof v.startTime === 'number' && typeof v.endTime === 'number';
}

/**
 * The newest .cpuprofile in `dir` written at or after `sinceMs` by the main thread of process `pid`. Node names
 * them CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; under tsx, thread 1 is the ESM loader-hooks worker
 * (module compilation only), thread 0 is the gateway itself.
 */
export function newestProfile(dir: string, sinceMs: number, pid: number): string | undefined {
  let best: { path: string; mtime: number } | undefined;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (!name.endsWith('.cpuprofile') || !name.includes(`.${pid}.0.`)) continue;
    const path = join(dir, name);
    const mtime = statSync(path).mtimeMs;
    if (mtime + 1000 < sinceMs) continue;
    if (!best || mtime > best.mtime) best = { path, mtime };
  }
  return best?.path;
}

function shortUrl(url: string, repoRoot: string): string {
  if (url === '') return '';
  let path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  if (path.startsWith(repoRoot + sep)) path = relative(repoRoot, path);
  return path;
}

function area(location: string, name: string): string {
  if (location === '') return name.startsWith('(') ? name : '(native / V8)';
  if (location.startsWith('node:')) return 'node: internals';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(location);
  if (nm?.[1] !== undefined) return `node_modules/${nm[1]}`;
  const src = /^(src\/[^/]+)(\/|$)/.exec(location);
  if (src?.[1] !== undefined) return src[1].endsWith('.ts') ? 'src/ (top level)' : `${src[1]}/`;
  return location.split('/').slice(0, 2).join('/');
}

export function summarizeProfile(file: string, repoRoot: string, topN = 15, windows: Window[] = []): ProfileSummary {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isCpuProfile(parsed)) throw new Error(`${file}: not a V8 .cpuprofile`);
  const byId = new Map<number, ProfileNode>(parsed.nodes.map((n) => [n.id, n]));
  let selfUs = new Map<number, number>();
  const samples = parsed.samples ?? [];
  const deltas = parsed.timeDeltas ?? [];
  let windowed = false;
  if (samples.length > 0 && deltas.length === samples.length) {
    const attribute = (inside: (t: number) => boolean): Map<number, number> => {
      const out = new Map<number, number>();
      // Sample i lasts until sample i+1 (DevTools' attribution); the last one gets the mean interval.
      const mean = samples.length > 1 ? (parsed.endTime - parsed.startTime) / samples.length : 0;
      let t = parsed.startTime;
      for (let i = 0; i < samples.length; i++) {
        t += deltas[i] ?? 0;
        if (!inside(t)) continue;
        const id = samples[i] ?? -1;
        const dt = i + 1 < deltas.length ? (deltas[i + 1] ?? 0) : mean;
        out.set(id, (out.get(id) ?? 0) + Math.max(0, dt));
      }
      return out;
    };
    if (windows.length > 0) {
      selfUs = attribute((t) => windows.some(([a, b]) => t >= a && t <= b));
      windowed = selfUs.size > 0;
    }
    if (!windowed) selfUs = attribute(() => true);
  } else {
    // No timeline: hit counts times the mean sampling interval.
    const hits = parsed.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
    const interval = hits > 0 ? (parsed.endTime - parsed.startTime) / hits : 0;
    for (const n of parsed.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * interval);
  }

  const byFunction = new Map<string, { name: string; location: string; us: number }>();
  const byAreaUs = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const frame = node.callFrame;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    const url = shortUrl(frame.url, repoRoot);
    const location = url === '' ? '' : `${url}:${frame.lineNumber + 1}`;
    const key = `${name}\u0000${location}`;
    const entry = byFunction.get(key) ?? { name, location, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    const a = area(url, name);
    byAreaUs.set(a, (byAreaUs.get(a) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const share = (us: number): number => (busyUs > 0 ? us / busyUs : 0);
  const top = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ name: e.name, location: e.location, selfMs: e.us / 1000, share: share(e.us) }));
  const byArea = [...byAreaUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([name, us]) => ({ name, location: '', selfMs: us / 1000, share: share(us) }));
  const windowMs = windows.reduce((sum, [a, b]) => sum + (b - a), 0) / 1000;
  return { file, windowed, windowMs, totalMs: totalUs / 1000, idleMs: idleUs / 1000, busyMs: busyUs / 1000, top, byArea };
}

export function profileMarkdown(summary: ProfileSummary, repoRoot: string): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const ms = (x: number): string => x.toFixed(0);
  const span = summary.windowed
    ? `only the samples taken during the gateway's measured runs (${ms(summary.windowMs)} ms of wall time; start-up, warm-ups and the other targets' scenarios excluded)`
    : "the gateway's whole life, start-up and the scenarios that do not touch it included";
  const lines = [
    `Profile: \`${relative(repoRoot, summary.file)}\`, ${span}: ${ms(summary.totalMs)} ms sampled, ${ms(summary.idleMs)} ms idle, ${ms(summary.busyMs)} ms busy on the gateway's main thread. Shares are of busy time. Line numbers are those of tsx's transpiled code and may differ from the .ts source.`,
    '',
    `Top ${summary.top.length} functions by self time:`,
    '',
    '| # | self ms | % busy | function | location |',
    '|---:|---:|---:|---|---|',
    ...summary.top.map((r, i) => `| ${i + 1} | ${ms(r.selfMs)} | ${pct(r.share)} | \`${r.name}\` | ${r.location === '' ? '' : `\`${r.location}\``} |`),
    '',
    'Self time by area:',
    '',
    '| area | self ms | % busy |',
    '|---|---:|---:|',
    ...summary.byArea.map((r) => `| ${r.name} | ${ms(r.selfMs)} | ${pct(r.share)} |`),
    '',
  ];
  return lines.join('\n');
}
