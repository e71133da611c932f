// Load for bench/failover.ts: autocannon (in this process) with a timeline of every response — when it was sent,
// how long it took, whether the answer was a complete, valid one, and whether the gateway's attempt trail
// (`x-switchyard-attempts`) shows an attempt on the primary channel.
import autocannon from 'autocannon';
import type { Instance } from 'autocannon';
import { SSE_WORDS } from '../lib/constants.ts';

export interface FailoverLoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  stream: boolean;
  connections: number;
  durationS: number;
  /** Channel id of the primary (`<provider>/<upstream model>`), looked for in x-switchyard-attempts. */
  primaryChannel: string;
  /** Seconds before autocannon counts a request as timed out. */
  timeoutS: number;
}

/** One completed response (any status), in completion order. */
export interface Sample {
  /** Epoch milliseconds (sub-ms) at which the request was written. */
  sentAt: number;
  /** Milliseconds from writing the request to the last byte of the response. */
  ms: number;
  status: number;
  /** 2xx and a complete answer (JSON: choices[0].message.content; SSE: every word, no error event, [DONE]). */
  ok: boolean;
  /** Attempts on the primary channel listed in x-switchyard-attempts (0 when the header is missing). */
  primaryAttempts: number;
  /** The primary attempts' outcomes, e.g. `upstream_unavailable` (only when primaryAttempts > 0). */
  primaryOutcomes: string[];
  /** Milliseconds the gateway spent on the primary's attempts (their time in x-switchyard-attempts, summed). */
  primaryMs: number;
}

export interface FailoverLoadResult {
  samples: Sample[];
  /** Connection errors and timeouts (no response at all). */
  errors: number;
  timeouts: number;
  errorKinds: Record<string, number>;
  /** Responses with a status outside 2xx, by status. */
  statusCodes: Record<string, number>;
  /** 2xx responses whose body was not a complete answer, with one example. */
  invalid2xx: number;
  invalidExample: string | undefined;
  /** The body of the first non-2xx response. */
  non2xxExample: string | undefined;
  /** Epoch ms when the load started / ended. */
  startedAt: number;
  endedAt: number;
}

let running: Instance | undefined;

/** Stops the load run in progress, if any (SIGINT, watchdog). */
export function stopFailoverLoad(): void {
  running?.stop();
}

const epochNow = (): number => performance.timeOrigin + performance.now();

function headerValue(headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(',') : value;
  }
  return undefined;
}

/** A JSON answer a client can use. */
function validJson(body: string): boolean {
  try {
    const json = JSON.parse(body) as { choices?: { message?: { content?: unknown } }[] };
    return typeof json.choices?.[0]?.message?.content === 'string';
  } catch {
    return false;
  }
}

const LAST_WORD = `"content":" w${SSE_WORDS}"`;

/** A stream a client can use: every word (the mock sends w1 … wN), no error event, the final [DONE]. */
function validStream(body: string): boolean {
  return body.includes(LAST_WORD) && body.trimEnd().endsWith('data: [DONE]') && !body.includes('"error":');
}

export async function runFailoverLoad(spec: FailoverLoadSpec): Promise<FailoverLoadResult> {
  const samples: Sample[] = [];
  const statusCodes: Record<string, number> = {};
  const errorKinds: Record<string, number> = {};
  let invalid2xx = 0;
  let invalidExample: string | undefined;
  let non2xxExample: string | undefined;
  // autocannon calls a request's onResponse (status, body, headers) and then, synchronously and for the same
  // response, emits 'response' (timing): the verdict is handed from one to the other through this variable.
  let pending: { ok: boolean; primaryAttempts: number; primaryOutcomes: string[]; primaryMs: number } | undefined;
  const prefix = `${spec.primaryChannel};`;

  const onResponse = (status: number, body: string, _context: unknown, headers: Record<string, string | string[]>): void => {
    const two = status >= 200 && status <= 299;
    const ok = two && (spec.stream ? validStream(body) : validJson(body));
    if (!two) non2xxExample ??= `HTTP ${status}: ${body.slice(0, 400)}`;
    if (two && !ok) {
      invalid2xx += 1;
      invalidExample ??= body.length > 800 ? `${body.slice(0, 400)} … ${body.slice(-400)}` : body;
    }
    let primaryAttempts = 0;
    let primaryMs = 0;
    const primaryOutcomes: string[] = [];
    const trail = headerValue(headers, 'x-switchyard-attempts');
    if (trail !== undefined) {
      for (const entry of trail.split(',')) {
        const attempt = entry.trim();
        if (!attempt.startsWith(prefix)) continue;
        primaryAttempts += 1;
        const [outcome, ms] = attempt.slice(prefix.length).split(';');
        primaryOutcomes.push(outcome ?? '');
        primaryMs += Number.parseFloat(ms ?? '') || 0; // `12ms` (older gateways: `12`)
      }
    }
    pending = { ok, primaryAttempts, primaryOutcomes, primaryMs };
  };

  const startedAt = epochNow();
  const instance = autocannon({
    url: spec.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...spec.headers },
    body: spec.body,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: spec.timeoutS,
    requests: [{ onResponse }],
  });
  running = instance;
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    const verdict = pending ?? { ok: false, primaryAttempts: 0, primaryOutcomes: [], primaryMs: 0 };
    pending = undefined;
    if (statusCode < 200 || statusCode > 299) statusCodes[String(statusCode)] = (statusCodes[String(statusCode)] ?? 0) + 1;
    samples.push({ sentAt: epochNow() - responseTimeMs, ms: responseTimeMs, status: statusCode, ...verdict });
  });
  let timeouts = 0;
  let errors = 0;
  instance.on('reqError', (error) => {
    errors += 1;
    if (error.message === 'request timed out') timeouts += 1;
    const kind = error.message || error.name;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  });
  try {
    await instance;
  } finally {
    running = undefined;
  }
  return { samples, errors, timeouts, errorKinds, statusCodes, invalid2xx, invalidExample, non2xxExample, startedAt, endedAt: epochNow() };
}
