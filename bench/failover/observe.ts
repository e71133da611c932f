// What bench/failover.ts watches besides the load: the primary's breaker (admin API), the CPU used by the gateway,
// by the bench's own processes and by the whole machine (Linux /proc), the gateway's code revision and its output.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sleep } from '../lib/children.ts';
import { adminGet } from '../lib/gateway.ts';
import type { Gateway } from '../lib/gateway.ts';
import type { BreakerObservation } from './report.ts';
import { PRIMARY_CHANNEL } from './upstreams.ts';

const CLOCK_TICKS_PER_S = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process has used so far, ms (Linux /proc), or undefined. */
/**
 * A process's CPU ms (utime + stime), the CPU ms of its children that exited and were waited for (cutime +
 * cstime), and its parent pid (Linux /proc/<pid>/stat), or undefined when it is gone.
 */
export function procCpu(pid: number): { ownMs: number; exitedChildrenMs: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (i: number, j: number): number => ((Number(fields[i]) + Number(fields[j])) * 1000) / CLOCK_TICKS_PER_S;
    return { ownMs: ms(11, 12), exitedChildrenMs: ms(13, 14), ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_S : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time used by the whole machine so far (every core, busy states only), ms (Linux /proc/stat), or undefined. */
export function machineBusyMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const ticks = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_S : undefined;
  } catch {
    return undefined;
  }
}

/** CPU used by this process (the load generator) so far, ms. */
export const selfCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The gateway code a run measures: the commit, and the files of src/ changed in the working tree. */
export function gatewayRevision(repoRoot: string): string {
  try {
    const git = (...gitArgs: string[]): string => execFileSync('git', gitArgs, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('log', '-1', '--format=%h %s');
    const changed = git('status', '--porcelain', '--', 'src').split('\n').filter((l) => l.trim() !== '');
    const diff = createHash('sha256').update(git('diff', 'HEAD', '--', 'src')).digest('hex').slice(0, 10);
    const files = `${changed.map((l) => l.slice(3)).slice(0, 8).join(', ')}${changed.length > 8 ? ', …' : ''}`;
    const tree = changed.length === 0 ? 'src/ as committed' : `plus ${changed.length} uncommitted change(s) in src/ (${files}; diff sha256 ${diff})`;
    return `commit ${commit.length > 110 ? `${commit.slice(0, 110)}…` : commit}, ${tree}`;
  } catch {
    return 'unknown (git not available)';
  }
}

interface ChannelRow {
  id?: unknown;
  state?: unknown;
  open_until?: unknown;
  cooldown_ms?: unknown;
  open_reason?: unknown;
  probe_in_flight?: unknown;
}

/** Polls GET /admin/v1/channels every `intervalMs` (one poll at a time) and keeps what it says about the primary. */
export class BreakerPoller {
  readonly observations: BreakerObservation[] = [];
  errors = 0;
  lastError: string | undefined;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly gateway: Gateway,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      try {
        const body = (await adminGet(this.gateway, '/channels')) as { data?: ChannelRow[] };
        const row = body.data?.find((c) => c.id === PRIMARY_CHANNEL);
        if (!row) throw new Error(`no channel ${PRIMARY_CHANNEL} in GET /admin/v1/channels`);
        const until = typeof row.open_until === 'string' ? Date.parse(row.open_until) : null;
        this.observations.push({
          at: Date.now(),
          state: String(row.state),
          openUntil: until !== null && Number.isFinite(until) ? until : null,
          cooldownMs: typeof row.cooldown_ms === 'number' ? row.cooldown_ms : 0,
          openReason: typeof row.open_reason === 'string' ? row.open_reason : null,
          probeInFlight: row.probe_in_flight === true,
        });
      } catch (error) {
        this.errors += 1;
        this.lastError = (error as Error).message;
      }
      const wait = this.intervalMs - (Date.now() - started);
      if (wait > 0 && !this.stopped) await sleep(wait);
    }
  }
}

/** What the gateway printed (LOG_LEVEL=warn), grouped by level and message, with a count and a shortened example each. */
export function summarizeOutput(text: string): string {
  const groups = new Map<string, { count: number; example: string }>();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (const line of lines) {
    let key = 'non-JSON output';
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      key = `level ${String(entry.level)} "${String(entry.msg)}"`;
    } catch {
      // keep the default key
    }
    const group = groups.get(key) ?? { count: 0, example: line.length > 500 ? `${line.slice(0, 500)}…` : line };
    group.count += 1;
    groups.set(key, group);
  }
  if (lines.length === 0) return 'nothing';
  return [...groups.entries()].map(([key, g]) => `${g.count}× ${key}, e.g. \`${g.example.replace(/`/g, "'")}\``).join('; ');
}

/** The primary's breaker as GET /admin/v1/channels shows it now (one line, for the notes). */
export async function primaryBreakerNow(gateway: Gateway): Promise<{ closed: boolean; text: string }> {
  try {
    const body = (await adminGet(gateway, '/channels')) as { data?: (ChannelRow & { consecutive_failures?: unknown; requests_in_window?: unknown })[] };
    const row = body.data?.find((c) => c.id === PRIMARY_CHANNEL);
    if (!row) return { closed: false, text: `no channel ${PRIMARY_CHANNEL}` };
    return {
      closed: row.state === 'closed' && row.consecutive_failures === 0,
      text: `state ${String(row.state)}, consecutive_failures ${String(row.consecutive_failures)}, requests_in_window ${String(row.requests_in_window)}`,
    };
  } catch (error) {
    return { closed: false, text: `GET /admin/v1/channels failed: ${(error as Error).message}` };
  }
}
