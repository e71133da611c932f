// bench/failover.ts's numbers: per-scenario statistics from the response timeline, the targets of Switchyard
// issue 4 item 9 with a verdict each, and the markdown written to bench/failover-results.md.
import type { Machine } from '../lib/report.ts';
import type { FailoverLoadResult, Sample } from './load.ts';

export type ScenarioKey = 'baseline-json' | 'a' | 'b' | 'c' | 'baseline-sse' | 'd' | 'baseline-json-again';

export interface ScenarioSpec {
  key: ScenarioKey;
  title: string;
  stream: boolean;
  /** What the primary channel is: its mock with a fault, or a port where nothing listens. */
  primary: 'ok' | 'refused' | '503' | 'hang' | 'cut';
  /** The baseline its latencies are compared with (none for a baseline). */
  baseline?: ScenarioKey;
  /** A baseline run again: its difference from that one is the run-to-run noise of this machine. */
  repeatOf?: ScenarioKey;
}

/** One poll of GET /admin/v1/channels for the primary channel. */
export interface BreakerObservation {
  /** Epoch ms of the poll's answer. */
  at: number;
  state: string;
  /** Epoch ms, or null when closed. */
  openUntil: number | null;
  cooldownMs: number;
  openReason: string | null;
  probeInFlight: boolean;
}

export interface ScenarioResult {
  spec: ScenarioSpec;
  skipped?: string;
  load?: FailoverLoadResult;
  breaker: BreakerObservation[];
  /** Polls that failed (e.g. timed out under load). */
  pollErrors: number;
  /** Chat completion requests that reached the primary's mock: all, and those after the breaker opened (epoch ms). */
  mockArrivals?: { total: number; afterOpen: number; afterOpenTimes: number[] };
  /** The primary's first-byte deadline in this run, ms. */
  firstByteMs: number;
  /** CPU time (user + system) the gateway process used during the measured run, and the run's wall time, ms. */
  gatewayCpu?: { cpuMs: number; wallMs: number };
  /** CPU time used on the machine during the run by processes other than the bench's own (others' CI, …), ms. */
  otherCpuMs?: number;
}

export interface Stats {
  requests: number;
  ok: number;
  failed: number;
  successPct: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  max: number;
  /** Epoch ms at which the primary's breaker first opened (open_until − cooldown_ms), if it did. */
  openedAt: number | undefined;
  openedAtS: number | undefined;
  openReason: string | undefined;
  /** Distinct openings seen: the first one plus one per failed half-open probe. */
  openings: number;
  /** Half-open probes: failed ones (re-openings) plus one in flight at the end, if any. */
  probes: number;
  /** Valid responses to requests sent after the breaker opened, and their percentiles. */
  afterOpen: LatencyWindow | undefined;
  /**
   * Requests sent once every request sent before the opening had been answered (for (c): once the requests caught
   * by the first-byte deadline had failed over and been served), and their percentiles; `fromS` is that instant in
   * seconds after the start of the load.
   */
  afterSettled: LatencyWindow | undefined;
  /**
   * The same, from STEADY_AFTER_SETTLED_MS later: routing around the dead channel once the secondary's
   * connections and code path are warm (the warm-up ran on a healthy primary, so the secondary starts cold).
   */
  steady: LatencyWindow | undefined;
  /** Requests sent before it opened that took at least the first-byte deadline. */
  paidDeadline: number;
  /** Responses after the breaker opened whose x-switchyard-attempts lists the primary. */
  headerPrimaryAfterOpen: number | undefined;
  headerPrimaryOutcomes: Record<string, number>;
  /** Requests to the broken primary after the breaker opened: the primary's mock's count, or the headers' for (a). */
  primaryAfterOpen: number | undefined;
  primaryAfterOpenSource: 'mock' | 'x-switchyard-attempts' | undefined;
  /**
   * Of primaryAfterOpen: requests the client had sent before the opening, already admitted to the primary and still
   * on their way in the gateway (mock count − attempts by requests sent after the opening); half-open probes; others
   * (attempts on the primary by requests sent after the opening that were not probes — there should be none).
   */
  primaryInFlightAtOpening: number;
  primaryOther: number;
  /** Gateway CPU time per complete answer (µs), and the share of one core it was busy during the run (%). */
  cpuPerAnswerUs: number | undefined;
  cpuBusyPct: number | undefined;
  /** CPU used by other processes on the machine during the run, % of one core. */
  otherCpuPct: number | undefined;
  /** Responses (whole run) whose x-switchyard-attempts lists the primary, and the time spent on it (ms). */
  triedPrimary: { n: number; p50: number; p99: number; max: number };
}

/** How long after the deadline's victims were answered the "steady state" row of (c) starts. */
export const STEADY_AFTER_SETTLED_MS = 2000;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN;
}

/** Latency percentiles (ms) of the answers to the requests sent from `fromS` seconds into the run on. */
export interface LatencyWindow {
  n: number;
  p50: number;
  p99: number;
  max: number;
  fromS: number;
}

function latencies(samples: Sample[]): Float64Array {
  const out = new Float64Array(samples.length);
  samples.forEach((s, i) => (out[i] = s.ms));
  return out.sort();
}

export function computeStats(r: ScenarioResult, durationS: number): Stats | undefined {
  const load = r.load;
  if (!load) return undefined;
  const okSamples = load.samples.filter((s) => s.ok);
  const sorted = latencies(okSamples);
  const requests = load.samples.length + load.errors;
  const firstOpen = r.breaker.find((b) => b.state !== 'closed' && b.openUntil !== null);
  const openedAt = firstOpen?.openUntil != null ? firstOpen.openUntil - firstOpen.cooldownMs : undefined;
  const openUntils = new Set(r.breaker.filter((b) => b.openUntil !== null).map((b) => b.openUntil));
  const last = r.breaker.at(-1);
  const openings = openUntils.size;
  const probes = Math.max(0, openings - 1) + (last?.probeInFlight ? 1 : 0);

  let afterOpen: Stats['afterOpen'];
  let afterSettled: Stats['afterSettled'];
  let steady: Stats['steady'];
  let paidDeadline = 0;
  let headerPrimaryAfterOpen: number | undefined;
  const headerPrimaryOutcomes: Record<string, number> = {};
  if (openedAt !== undefined) {
    /** Percentiles of the answers to requests sent at or after `from` (ms, the load's clock). */
    const since = (from: number): LatencyWindow => {
      const z = latencies(okSamples.filter((x) => x.sentAt >= from));
      return { n: z.length, p50: percentile(z, 50), p99: percentile(z, 99), max: z[z.length - 1] ?? Number.NaN, fromS: (from - load.startedAt) / 1000 };
    };
    afterOpen = since(openedAt);
    paidDeadline = okSamples.filter((s) => s.sentAt < openedAt && s.ms >= r.firstByteMs).length;
    let settledAt = openedAt;
    for (const s of load.samples) if (s.sentAt < openedAt) settledAt = Math.max(settledAt, s.sentAt + s.ms);
    afterSettled = since(settledAt);
    steady = since(settledAt + STEADY_AFTER_SETTLED_MS);
    headerPrimaryAfterOpen = 0;
    for (const s of load.samples) {
      if (s.sentAt < openedAt || s.primaryAttempts === 0) continue;
      headerPrimaryAfterOpen += s.primaryAttempts;
      for (const o of s.primaryOutcomes) headerPrimaryOutcomes[o] = (headerPrimaryOutcomes[o] ?? 0) + 1;
    }
  }
  const fromMock = r.spec.primary !== 'refused' && r.mockArrivals !== undefined;
  const primaryAfterOpen = openedAt === undefined ? undefined : fromMock ? r.mockArrivals?.afterOpen : headerPrimaryAfterOpen;
  const tried = load.samples.filter((x) => x.primaryAttempts > 0);
  const triedMs = new Float64Array(tried.length);
  tried.forEach((x, i) => (triedMs[i] = x.primaryMs));
  triedMs.sort();
  const sentAfter = headerPrimaryAfterOpen ?? 0;
  const primaryInFlightAtOpening = fromMock && primaryAfterOpen !== undefined ? Math.max(0, primaryAfterOpen - sentAfter) : 0;
  const primaryOther = Math.max(0, sentAfter - probes);
  return {
    requests,
    ok: okSamples.length,
    failed: requests - okSamples.length,
    successPct: requests === 0 ? Number.NaN : (100 * okSamples.length) / requests,
    reqPerSec: okSamples.length / durationS,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    openedAt,
    openedAtS: openedAt === undefined ? undefined : (openedAt - load.startedAt) / 1000,
    openReason: firstOpen?.openReason ?? undefined,
    openings,
    probes,
    afterOpen,
    afterSettled,
    steady,
    paidDeadline,
    headerPrimaryAfterOpen,
    headerPrimaryOutcomes,
    primaryAfterOpen,
    primaryAfterOpenSource: openedAt === undefined ? undefined : fromMock ? 'mock' : 'x-switchyard-attempts',
    primaryInFlightAtOpening,
    primaryOther,
    cpuPerAnswerUs: r.gatewayCpu && okSamples.length > 0 ? (r.gatewayCpu.cpuMs * 1000) / okSamples.length : undefined,
    cpuBusyPct: r.gatewayCpu && r.gatewayCpu.wallMs > 0 ? (100 * r.gatewayCpu.cpuMs) / r.gatewayCpu.wallMs : undefined,
    otherCpuPct: r.otherCpuMs !== undefined && r.gatewayCpu && r.gatewayCpu.wallMs > 0 ? (100 * r.otherCpuMs) / r.gatewayCpu.wallMs : undefined,
    triedPrimary: { n: tried.length, p50: percentile(triedMs, 50), p99: percentile(triedMs, 99), max: triedMs[triedMs.length - 1] ?? Number.NaN },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Targets (issue 4, item 9)

export const TARGET_ADDED_P99_MS = 5;
export const TARGET_ADDED_P99_AFTER_OPEN_MS = 2;

export interface Verdict {
  scenario: ScenarioKey;
  target: string;
  measured: string;
  pass: boolean | undefined;
  /** Latency targets: the added p99 (ms) this run measured, and the most the target allows. */
  value?: number | undefined;
  limit?: number;
}

/**
 * One verdict list from several rounds of the same scenarios: a latency target is judged on the median of the
 * rounds' added p99 (every round's figure is shown), any other target must hold in every round.
 */
export function combineRounds(rounds: Verdict[][]): Verdict[] {
  const first = rounds[0] ?? [];
  if (rounds.length < 2) return first;
  return first.map((v, i) => {
    // Same scenarios in the same order every round: the i-th verdict of each round is the same target (its text may
    // carry round-specific instants, e.g. "sent ≥ 1.13 s").
    const all = rounds.map((r) => r[i]).filter((x): x is Verdict => x !== undefined && x.scenario === v.scenario);
    if (v.limit !== undefined) {
      const values = all.map((x) => x.value).filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
      const median = values.length === 0 ? undefined : values.length % 2 === 1 ? values[(values.length - 1) / 2] : ((values[values.length / 2 - 1] ?? 0) + (values[values.length / 2] ?? 0)) / 2;
      return {
        ...v,
        target: `${v.target} — median of ${all.length} rounds`,
        measured: `median ${signed(median)} ms (rounds: ${all.map((x) => `${signed(x.value)}`).join(', ')} ms; each round's detail below)`,
        pass: median === undefined ? undefined : median <= v.limit,
        value: median,
      };
    }
    const passes = all.map((x) => x.pass);
    return {
      ...v,
      target: `${v.target} — every one of ${all.length} rounds`,
      measured: all.map((x, r) => `round ${r + 1}: ${x.measured}`).join('; '),
      pass: passes.some((x) => x === undefined) ? undefined : passes.every((x) => x === true),
    };
  });
}

const fixed = (x: number | undefined, digits = 2): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));
const signed = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`);
const pct = (x: number): string => {
  if (!Number.isFinite(x)) return '—';
  if (x === 100) return '100 %';
  // Never round a miss up to "100.00 %".
  return `${(Math.floor(x * 100) / 100).toFixed(2)} %`;
};

export function verdicts(results: ScenarioResult[], stats: Map<ScenarioKey, Stats>): Verdict[] {
  const out: Verdict[] = [];
  const base = (r: ScenarioResult): Stats | undefined => (r.spec.baseline ? stats.get(r.spec.baseline) : undefined);
  const noise = noiseOf(results, stats, 'baseline-json');
  const floor = noiseFloor(results, stats, 'baseline-json');
  const noiseText = floor === undefined ? '' : `; noise floor of this run ±${floor.ms.toFixed(2)} ms: ${floor.why}`;
  const significance = (added: number | undefined): string =>
    floor === undefined || added === undefined || !Number.isFinite(added) || Math.abs(added) > floor.ms ? '' : ' — within the noise: not significant';
  for (const r of results) {
    const s = stats.get(r.spec.key);
    if (r.spec.baseline === undefined) {
      const again = r.spec.repeatOf === undefined || noise === undefined ? '' : `; p99 ${signed(noise)} ms vs ${r.spec.repeatOf} (run-to-run noise)`;
      out.push({
        scenario: r.spec.key,
        target: 'sanity: 100 % success, breaker stays closed',
        measured: s ? `${pct(s.successPct)}, breaker ${s.openedAt === undefined ? 'closed' : 'OPENED'}${again}` : 'not run',
        pass: s ? s.successPct === 100 && s.openedAt === undefined : undefined,
      });
      continue;
    }
    out.push({
      scenario: r.spec.key,
      target: '100 % success',
      measured: s ? `${pct(s.successPct)} (${s.failed} of ${s.requests} failed)` : 'not run',
      pass: s ? s.successPct === 100 : undefined,
    });
    const b = base(r);
    if (r.spec.key === 'a' || r.spec.key === 'b') {
      const added = s && b ? s.p99 - b.p99 : undefined;
      out.push({
        scenario: r.spec.key,
        target: `p99 added ≤ ${TARGET_ADDED_P99_MS} ms`,
        measured: `${signed(added)} ms (p99 ${fixed(s?.p99)} vs ${fixed(b?.p99)} ms${noiseText})${significance(added)}`,
        pass: added === undefined || !Number.isFinite(added) ? undefined : added <= TARGET_ADDED_P99_MS,
        value: added,
        limit: TARGET_ADDED_P99_MS,
      });
    }
    if (r.spec.key === 'c') {
      const d = r.firstByteMs;
      const measured = s
        ? s.openedAt === undefined
          ? 'the breaker never opened'
          : `${s.paidDeadline} request(s) sent before the breaker opened took ≥ ${d} ms; slowest answer ${fixed(s.max, 0)} ms`
        : 'not run';
      out.push({
        scenario: 'c',
        target: `the first requests pay the first-byte deadline (${d} ms) once: some ≥ ${d} ms, none ≥ ${2 * d} ms`,
        measured,
        pass: s && s.openedAt !== undefined ? s.paidDeadline > 0 && s.max < 2 * d : undefined,
      });
      /** The (c) latency target over the answers to requests sent in one window after the opening. */
      const windowVerdict = (w: LatencyWindow | undefined, what: string): Verdict => {
        const added = w && b ? w.p99 - b.p99 : undefined;
        return {
          scenario: 'c',
          target: `${what}: p99 added ≤ ${TARGET_ADDED_P99_AFTER_OPEN_MS} ms`,
          measured: `${signed(added)} ms (p99 ${fixed(w?.p99)} ms over ${w?.n ?? 0} answers vs baseline ${fixed(b?.p99)} ms${noiseText})${significance(added)}`,
          pass: added === undefined || !Number.isFinite(added) ? undefined : added <= TARGET_ADDED_P99_AFTER_OPEN_MS,
          value: added,
          limit: TARGET_ADDED_P99_AFTER_OPEN_MS,
        };
      };
      out.push(
        windowVerdict(s?.afterOpen, 'after the breaker opened'),
        windowVerdict(s?.afterSettled, `after the breaker opened and the requests the deadline caught were answered (sent ≥ ${fixed(s?.afterSettled?.fromS)} s)`),
        windowVerdict(s?.steady, `steady state, ${STEADY_AFTER_SETTLED_MS / 1000} s later (sent ≥ ${fixed(s?.steady?.fromS)} s)`),
      );
    }
  }
  return out;
}

/** p99 of a baseline's repeat minus the baseline's: how much the same run moves on this machine. */
export function noiseOf(results: ScenarioResult[], stats: Map<ScenarioKey, Stats>, key: ScenarioKey): number | undefined {
  const again = results.find((r) => r.spec.repeatOf === key);
  const a = again ? stats.get(again.spec.key) : undefined;
  const b = stats.get(key);
  return a && b ? a.p99 - b.p99 : undefined;
}

/**
 * How far p99 moves by chance in this run, for one baseline: the larger of how much the same baseline moved when run
 * again, and how much *faster* than the baseline any failover scenario of the same mode was (a broken primary cannot
 * make requests faster; only noise can).
 */
export function noiseFloor(results: ScenarioResult[], stats: Map<ScenarioKey, Stats>, key: ScenarioKey): { ms: number; why: string } | undefined {
  const b = stats.get(key);
  if (!b) return undefined;
  const reasons: { ms: number; why: string }[] = [];
  const again = noiseOf(results, stats, key);
  if (again !== undefined && Number.isFinite(again)) reasons.push({ ms: Math.abs(again), why: `the same baseline run again moved p99 by ${signed(again)} ms` });
  for (const r of results) {
    const s = r.spec.baseline === key ? stats.get(r.spec.key) : undefined;
    if (!s) continue;
    const faster = Math.max(b.p99 - s.p99, s.afterOpen ? b.p99 - s.afterOpen.p99 : 0);
    if (Number.isFinite(faster) && faster > 0) reasons.push({ ms: faster, why: `(${r.spec.key}) came out ${faster.toFixed(2)} ms *faster* than the baseline, which only noise can do` });
  }
  if (reasons.length === 0) return undefined;
  const top = reasons.reduce((x, y) => (y.ms > x.ms ? y : x));
  return { ms: top.ms, why: top.why };
}

const verdictWord = (v: boolean | undefined): string => (v === undefined ? 'n/a' : v ? 'PASS' : '**FAIL**');

export function verdictTable(list: Verdict[]): string {
  const lines = ['| scenario | target | measured | verdict |', '|---|---|---|---|'];
  for (const v of list) lines.push(`| ${v.scenario} | ${v.target} | ${v.measured} | ${verdictWord(v.pass)} |`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// The main table

export function resultsTable(results: ScenarioResult[], stats: Map<ScenarioKey, Stats>, list: Verdict[]): string {
  const lines = [
    '| scenario | success | req/s | p50 ms | p99 ms | added p50 / p99 ms vs baseline | p99 after breaker open ms | added p99 after open ms | requests to the broken primary after open | breaker opened at s | gateway CPU µs per answer (busy % of a core; CPU of other processes) | targets |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of results) {
    const s = stats.get(r.spec.key);
    const name = `${r.spec.key}: ${r.spec.title}`;
    if (!s) {
      lines.push(`| ${name} | skipped: ${r.skipped ?? 'not run'} | | | | | | | | | | |`);
      continue;
    }
    const b = r.spec.baseline ? stats.get(r.spec.baseline) : undefined;
    const first = r.spec.repeatOf ? stats.get(r.spec.repeatOf) : undefined;
    let added = b ? `${signed(s.p50 - b.p50)} / ${signed(s.p99 - b.p99)}` : '—';
    if (r.spec.baseline === undefined) added = first ? `${signed(s.p50 - first.p50)} / ${signed(s.p99 - first.p99)} (noise: the same baseline again)` : '(baseline)';
    const afterAdded = s.afterOpen && b ? signed(s.afterOpen.p99 - b.p99) : '—';
    let toPrimary = '—';
    if (s.primaryAfterOpen !== undefined) {
      const via = s.primaryAfterOpenSource === 'mock' ? 'counted at its mock' : 'from x-switchyard-attempts';
      const inFlight = s.primaryAfterOpenSource === 'mock' ? `${s.primaryInFlightAtOpening} in flight at the opening, ` : '';
      toPrimary = `**${s.primaryAfterOpen}** (${inFlight}${s.probes} half-open probe${s.probes === 1 ? '' : 's'}, ${s.primaryOther} other; ${via})`;
    }
    const success = `${pct(s.successPct)}${s.failed > 0 ? ` (${s.failed} failed)` : ''}`;
    const opened = s.openedAtS === undefined ? (r.spec.baseline === undefined ? 'never' : '**never**') : `${fixed(s.openedAtS, 2)} (${s.openReason ?? '?'})`;
    const mine = list.filter((v) => v.scenario === r.spec.key);
    const targets = mine.map((v) => `${verdictWord(v.pass)} ${v.target.split(':')[0] ?? ''}`.trim()).join('; ');
    lines.push(
      `| ${name} | ${success} | ${fixed(s.reqPerSec, 0)} | ${fixed(s.p50)} | ${fixed(s.p99)} | ${added} | ${fixed(s.afterOpen?.p99)} | ${afterAdded} | ${toPrimary} | ${opened} | ${fixed(s.cpuPerAnswerUs, 0)} (${fixed(s.cpuBusyPct, 0)} %; others ${fixed(s.otherCpuPct, 0)} %) | ${targets} |`,
    );
  }
  return lines.join('\n');
}

/** What went wrong in a scenario's load, in words (errors, statuses, invalid answers). */
export function failureDetail(r: ScenarioResult): string | undefined {
  const load = r.load;
  if (!load) return undefined;
  const parts: string[] = [];
  if (load.errors > 0) parts.push(`${load.errors} connection errors/timeouts (${Object.entries(load.errorKinds).map(([k, n]) => `${k}×${n}`).join(', ')})`);
  const codes = Object.entries(load.statusCodes);
  if (codes.length > 0) {
    const example = (load.non2xxExample ?? '').replace(/\n/g, '\\n').replace(/`/g, "'");
    parts.push(`non-2xx: ${codes.map(([c, n]) => `${c}×${n}`).join(', ')} (first: \`${example}\`)`);
  }
  if (load.invalid2xx > 0) parts.push(`${load.invalid2xx} answers with status 2xx that were not complete (e.g. \`${(load.invalidExample ?? '').replace(/\n/g, '\\n').replace(/`/g, "'")}\`)`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** The breaker's story from the polls: each distinct opening and the final state. */
export function breakerStory(r: ScenarioResult, loadStartedAt: number): string {
  const parts: string[] = [];
  const seen = new Set<number>();
  const rel = (t: number): string => `${((t - loadStartedAt) / 1000).toFixed(2)} s`;
  for (const b of r.breaker) {
    if (b.openUntil === null || seen.has(b.openUntil)) continue;
    seen.add(b.openUntil);
    parts.push(`open at ${rel(b.openUntil - b.cooldownMs)} for ${b.cooldownMs / 1000} s (${b.openReason ?? '?'})`);
  }
  const last = r.breaker.at(-1);
  if (last) parts.push(`state at the end: ${last.state}${last.probeInFlight ? ', probe in flight' : ''}`);
  return parts.length > 0 ? parts.join('; ') : 'no poll answered';
}

export interface MarkdownInput {
  machine: Machine;
  settings: string[];
  table: string;
  /** Shown under the table (e.g. other processes busy during some runs). */
  caveats: string[];
  verdicts: string;
  scenarioNotes: string[];
  notes: string[];
  warnings: string[];
}

export function resultsMarkdown(input: MarkdownInput): string {
  const m = input.machine;
  const out: string[] = ['# Switchyard failover benchmark results', ''];
  if (input.warnings.length > 0) {
    out.push('> **⚠ THIS RUN HAD PROBLEMS — the affected rows are not a valid measurement:**', '>');
    for (const w of input.warnings) out.push(`> - ${w}`);
    out.push('');
  }
  out.push(
    `Generated by \`npm run bench:failover\` (bench/failover.ts) on ${m.date}. How to read it: bench/README.md, "Failover benchmark".`,
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
    input.table,
    '',
    ...input.caveats.flatMap((c) => [`> ⚠ ${c}`, '']),
    '## Targets (Switchyard issue 4, item 9)',
    '',
    input.verdicts,
    '',
  );
  const item = (text: string): string => `- ${text.split('\n').join('\n  ')}`.replace(/\n {2}$/gm, '\n');
  if (input.scenarioNotes.length > 0) out.push('## Per scenario', '', ...input.scenarioNotes.map(item), '');
  if (input.notes.length > 0) out.push('## Notes', '', ...input.notes.map(item), '');
  return `${out.join('\n').trimEnd()}\n`;
}
