// Gateways as users run them: `node bin/switchyard.js serve` child processes (each its own port), for the tests
// that must kill a process or run several replicas on one database.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../bin/switchyard.js');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => ok(typeof address === 'object' && address ? address.port : 0));
    });
    server.once('error', fail);
  });
}

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed. */
  output(): string;
  /** SIGTERM, and SIGKILL if it has not exited within 10 s; resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown of any kind; resolves once it has exited. */
  kill(): Promise<void>;
}

/**
 * Starts `switchyard serve` in `cwd` (where its switchyard.yaml is) with exactly `env` (plus PATH and HOME) and
 * waits for its banner.
 */
export async function startGatewayProcess(cwd: string, env: Record<string, string>, timeoutMs = 45_000): Promise<GatewayProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  const until = Date.now() + timeoutMs;
  while (!output.includes('Switchyard listening on')) {
    if (Date.now() > until || child.exitCode !== null) {
      await signal('SIGKILL');
      throw new Error(`gateway did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    kill: () => signal('SIGKILL'),
    async stop() {
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await signal('SIGTERM');
      clearTimeout(force);
    },
  };
}
