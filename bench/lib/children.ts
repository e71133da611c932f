// Child processes of the bench: start, keep their last output, stop them all (also on failure and SIGINT).
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

const OUTPUT_KEEP = 64 * 1024;

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** The last ~64 KiB of stdout + stderr, interleaved as received. */
  output(): string;
  /** Output received after `mark` (a value of `outputMark()`), at most the kept tail. */
  outputSince(mark: number): string;
  outputMark(): number;
  exited: boolean;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  /** Resolves when the process has exited. */
  exit: Promise<void>;
  /** Milliseconds to wait after SIGTERM before SIGKILL. */
  graceMs: number;
  /** Called with every line the child prints on stdout. */
  onLine?: (line: string) => void;
}

const children = new Set<Child>();

export function startChild(name: string, command: string, args: string[], options: SpawnOptions & { graceMs?: number }): Child {
  const { graceMs = 5000, ...spawnOptions } = options;
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let tail = '';
  let received = 0;
  let lineBuffer = '';
  const append = (text: string): void => {
    received += text.length;
    tail += text;
    if (tail.length > OUTPUT_KEEP) tail = tail.slice(tail.length - OUTPUT_KEEP);
  };
  let resolveExit: () => void = () => undefined;
  const child: Child = {
    name,
    proc,
    pid: proc.pid ?? -1,
    output: () => tail,
    outputMark: () => received,
    outputSince: (mark) => tail.slice(Math.max(0, tail.length - (received - mark))),
    exited: false,
    exitCode: null,
    exitSignal: null,
    exit: new Promise<void>((resolve) => {
      resolveExit = resolve;
    }),
    graceMs,
  };
  proc.stdout?.setEncoding('utf8');
  proc.stderr?.setEncoding('utf8');
  proc.stdout?.on('data', (text: string) => {
    append(text);
    lineBuffer += text;
    let nl = lineBuffer.indexOf('\n');
    while (nl >= 0) {
      const line = lineBuffer.slice(0, nl);
      lineBuffer = lineBuffer.slice(nl + 1);
      child.onLine?.(line);
      nl = lineBuffer.indexOf('\n');
    }
  });
  proc.stderr?.on('data', append);
  const onGone = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (child.exited) return;
    child.exited = true;
    child.exitCode = code;
    child.exitSignal = signal;
    children.delete(child);
    resolveExit();
  };
  proc.on('exit', onGone);
  proc.on('error', (error) => {
    append(`\n[bench] could not start ${name}: ${error.message}\n`);
    onGone(null, null);
  });
  children.add(child);
  return child;
}

export function describeExit(child: Child): string {
  return child.exitSignal ? `killed by ${child.exitSignal}` : `exit code ${String(child.exitCode)}`;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. */
export async function stopChild(child: Child): Promise<void> {
  if (child.exited) return;
  child.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), child.graceMs);
  });
  const gone = await Promise.race([child.exit.then(() => false), timedOut]);
  clearTimeout(timer);
  if (gone && !child.exited) {
    child.proc.kill('SIGKILL');
    await child.exit;
  }
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c)));
}

/** Last resort (process 'exit' handler, synchronous): SIGKILL whatever is still running. */
export function killAllChildrenNow(): void {
  for (const child of children) {
    try {
      child.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every 100 ms until it returns true; throws after `timeoutMs`, or at once when `child` exits.
 */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child?.exited) {
      throw new Error(`${child.name} exited (${describeExit(child)}) before ${what}. Its output:\n${indent(child.output())}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      const out = child ? ` Its output so far:\n${indent(child.output())}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}.${out}`);
    }
    await sleep(100);
  }
}

export function indent(text: string): string {
  const trimmed = text.trimEnd();
  return trimmed === '' ? '    (nothing)' : trimmed.split('\n').map((l) => `    ${l}`).join('\n');
}

/** Resident set size of a process in bytes (Linux /proc), or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `intervalMs` until stopped; keeps the peak and the last value. */
export class RssSampler {
  peak = 0;
  last = 0;
  samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 250,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  sample(): void {
    const rss = rssBytes(this.pid);
    if (rss === undefined) return;
    this.samples += 1;
    this.last = rss;
    if (rss > this.peak) this.peak = rss;
  }

  /** Stops sampling after one final sample (the "end" value). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }
}

/**
 * Starts one of the bench's own TypeScript servers (`node --import tsx bench/<script> …args`) in its own process,
 * with an IPC channel so it stops when the bench goes away, and waits for the `{"port":N}` line it prints.
 */
export async function startPortPrinter(repoRoot: string, name: string, script: string, scriptArgs: string[]): Promise<{ child: Child; port: number }> {
  const child = startChild(name, process.execPath, ['--import', 'tsx', script, ...scriptArgs], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    graceMs: 3000,
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${name} did not start within 30 s. Its output:\n${indent(child.output())}`)), 30_000);
    child.onLine = (line) => {
      try {
        const msg = JSON.parse(line) as { port?: unknown };
        if (typeof msg.port === 'number') {
          clearTimeout(timer);
          resolve(msg.port);
        }
      } catch {
        // not our line
      }
    };
    void child.exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`the ${name} exited (${describeExit(child)}) before listening. Its output:\n${indent(child.output())}`));
    });
  });
  return { child, port };
}
