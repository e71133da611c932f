// The two mock upstreams of bench/failover.ts (bench/failover/mock.ts, own processes, IPC-controlled), the direct
// checks that a fault really is what the scenario says, and the gateway config that puts them behind one model.
import { connect } from 'node:net';
import { describeExit, startPortPrinter } from '../lib/children.ts';
import type { Child } from '../lib/children.ts';
import { MOCK_API_KEY, MODEL } from '../lib/constants.ts';
import type { FaultMode, MockCommand, MockReply } from './protocol.ts';

export interface MockUpstream {
  child: Child;
  port: number;
  setMode(mode: FaultMode): Promise<void>;
  arrivals(since: number): Promise<Extract<MockReply, { type: 'arrivals' }>>;
}

type Pending = { resolve: (reply: MockReply) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

export async function startMockUpstream(name: string, repoRoot: string): Promise<MockUpstream> {
  const { child, port } = await startPortPrinter(repoRoot, name, 'bench/failover/mock.ts', ['0']);

  const pending = new Map<number, Pending>();
  let nextId = 1;
  child.proc.on('message', (raw: unknown) => {
    const reply = raw as MockReply;
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    clearTimeout(p.timer);
    p.resolve(reply);
  });
  void child.exit.then(() => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`the ${name} exited (${describeExit(child)})`));
    }
    pending.clear();
  });
  const ask = (command: MockCommand): Promise<MockReply> =>
    new Promise<MockReply>((resolve, reject) => {
      if (child.exited) {
        reject(new Error(`the ${name} is not running (${describeExit(child)})`));
        return;
      }
      const timer = setTimeout(() => {
        pending.delete(command.id);
        reject(new Error(`the ${name} did not answer ${command.type} within 10 s`));
      }, 10_000);
      pending.set(command.id, { resolve, reject, timer });
      child.proc.send(command);
    });

  return {
    child,
    port,
    setMode: async (mode) => {
      await ask({ type: 'mode', id: nextId++, mode });
    },
    arrivals: async (since) => {
      const reply = await ask({ type: 'arrivals', id: nextId++, since });
      if (reply.type !== 'arrivals') throw new Error(`the ${name} answered ${reply.type} to arrivals`);
      return reply;
    },
  };
}

export interface FaultCheck {
  ok: boolean;
  detail: string;
}

/** Nothing accepts connections on 127.0.0.1:port (ECONNREFUSED). */
export function checkRefused(port: number): Promise<FaultCheck> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, detail: `connecting to 127.0.0.1:${port} neither succeeded nor was refused within 2 s` });
    }, 2000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: false, detail: `something accepts connections on 127.0.0.1:${port}` });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: error.code === 'ECONNREFUSED', detail: `connect 127.0.0.1:${port} → ${error.code ?? error.message}` });
    });
  });
}

/**
 * One request straight to the primary's mock, checking that it does what the scenario says: 200 and a valid answer
 * (ok), 503, no headers within 500 ms (hang), or 200 + the role chunk and then a broken connection before any
 * content (cut).
 */
export async function checkFault(port: number, mode: FaultMode, jsonBody: string, sseBody: string): Promise<FaultCheck> {
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  const init = (body: string, ms: number): RequestInit => ({
    method: 'POST',
    headers: { authorization: `Bearer ${MOCK_API_KEY}`, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(ms),
  });
  try {
    if (mode === 'hang') {
      const started = performance.now();
      try {
        const res = await fetch(url, init(jsonBody, 500));
        await res.body?.cancel();
        return { ok: false, detail: `expected no answer, got HTTP ${res.status} after ${(performance.now() - started).toFixed(0)} ms` };
      } catch (error) {
        const name = (error as Error).name;
        return { ok: name === 'TimeoutError', detail: `no response headers within 500 ms (${name})` };
      }
    }
    if (mode === 'cut') {
      const res = await fetch(url, init(sseBody, 5000));
      const type = res.headers.get('content-type') ?? '';
      let text = '';
      let ending = 'the stream ended normally';
      const reader = res.body?.getReader();
      const decoder = new TextDecoder();
      try {
        for (;;) {
          const chunk = await reader?.read();
          if (!chunk || chunk.done) break;
          text += decoder.decode(chunk.value, { stream: true });
        }
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        ending = `the connection broke (${(error as Error).message}${cause ? `: ${cause.code ?? cause.message ?? ''}` : ''})`;
      }
      const role = text.includes('"role":"assistant"');
      const content = /"content":"[^"]/.test(text);
      const ok = res.status === 200 && type.startsWith('text/event-stream') && role && !content && !text.includes('[DONE]') && ending !== 'the stream ended normally';
      return { ok, detail: `HTTP ${res.status} ${type.split(';')[0] ?? ''}, ${text.length} bytes, role chunk ${role ? 'yes' : 'NO'}, content ${content ? 'YES' : 'none'}, ${ending}` };
    }
    const res = await fetch(url, init(jsonBody, 5000));
    const text = await res.text();
    if (mode === '503') return { ok: res.status === 503, detail: `HTTP ${res.status}: ${text.slice(0, 160)}` };
    const ok = res.status === 200 && text.includes('"choices"');
    return { ok, detail: `HTTP ${res.status}: ${text.slice(0, 120)}` };
  } catch (error) {
    return { ok: false, detail: `request failed: ${(error as Error).message}` };
  }
}

/**
 * The model clients call: two channels, primary (priority 0) and secondary (priority 1), each its own provider. Both
 * providers get the same settings (first_byte_ms included: the secondary answers in milliseconds, so its deadline
 * never fires), so the baselines (served by the primary) and the failover runs (served by the secondary) go through
 * identically configured channels and differ only by the failover.
 */
export const FAILOVER_MODEL = MODEL;

export function failoverConfigYaml(primaryPort: number, secondaryPort: number, firstByteMs: number): string {
  return `# Generated by bench/failover.ts
providers:
  - id: primary
    type: openai-compatible
    base_url: http://127.0.0.1:${primaryPort}/v1
    api_key: ${MOCK_API_KEY}
    timeouts: { first_byte_ms: ${firstByteMs} }
  - id: secondary
    type: openai-compatible
    base_url: http://127.0.0.1:${secondaryPort}/v1
    api_key: ${MOCK_API_KEY}
    timeouts: { first_byte_ms: ${firstByteMs} }
models:
  - id: ${FAILOVER_MODEL}
    channels:
      - { provider: primary, priority: 0 }
      - { provider: secondary, priority: 1 }
    price: { input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }
`;
}

/** Channel ids are `<provider>/<upstream model>` (config/index.ts). */
export const PRIMARY_CHANNEL = `primary/${FAILOVER_MODEL}`;
export const SECONDARY_CHANNEL = `secondary/${FAILOVER_MODEL}`;
