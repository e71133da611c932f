// Load generation (autocannon, in this process) and a one-request check of each target's answers.
import autocannon from 'autocannon';
import type { Instance, Result } from 'autocannon';

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationS: number;
}

export interface LoadOutcome {
  result: Result;
  /** Completed 2xx responses per second over the measured duration. */
  reqPerSec: number;
  /** Latency of 2xx responses (request written → response complete), milliseconds, exact (sub-ms). */
  p50: number;
  p99: number;
  /** Responses that completed (any status). */
  completed: number;
  ok: number;
  /** Connection errors (incl. timeouts, resets) and responses with a non-2xx status. */
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Connection-level error messages and how often each was seen. */
  errorKinds: Record<string, number>;
}

let running: Instance | undefined;

/** Stops the load run in progress, if any (SIGINT). */
export function stopLoad(): void {
  running?.stop();
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN;
}

export async function runLoad(spec: LoadSpec): Promise<LoadOutcome> {
  // autocannon's own histogram has whole-millisecond resolution; sub-ms latencies need the raw values.
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const instance = autocannon({
    url: spec.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...spec.headers },
    body: spec.body,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: 10,
  });
  running = instance;
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    if (statusCode < 200 || statusCode > 299) return;
    if (n === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[n] = responseTimeMs;
    n += 1;
  });
  const errorKinds: Record<string, number> = {};
  instance.on('reqError', (error) => {
    const kind = error.message || error.name;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  });
  let result: Result;
  try {
    result = await instance;
  } finally {
    running = undefined;
  }
  const sorted = latencies.subarray(0, n).sort();
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  const ok = result['2xx'];
  const durationS = result.duration > 0 ? result.duration : spec.durationS;
  return {
    result,
    reqPerSec: ok / durationS,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    completed: result.requests.total,
    ok,
    errors: result.errors,
    non2xx: result.non2xx,
    statusCodes,
    errorKinds,
  };
}

export interface Check {
  ok: boolean;
  detail: string;
}

/** Sends one request and checks that the answer is what a client expects (not only a 200). */
export async function checkTarget(url: string, headers: Record<string, string>, body: string, stream: boolean, expectedWords: number): Promise<Check> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    return { ok: false, detail: `request failed: ${(error as Error).message}` };
  }
  const text = await res.text();
  const charged = res.headers.get('x-switchyard-credits-charged');
  const receipt = charged === null ? '' : `, x-switchyard-credits-charged: ${charged}`;
  if (res.status !== 200) return { ok: false, detail: `HTTP ${res.status}: ${text.slice(0, 500)}` };
  if (!stream) {
    try {
      const json = JSON.parse(text) as { choices?: { message?: { content?: unknown } }[]; usage?: { total_tokens?: unknown } };
      const content = json.choices?.[0]?.message?.content;
      if (typeof content !== 'string') return { ok: false, detail: `200 but no choices[0].message.content: ${text.slice(0, 300)}` };
      return { ok: true, detail: `200 JSON, content ${JSON.stringify(content)}, usage.total_tokens ${String(json.usage?.total_tokens)}${receipt}` };
    } catch {
      return { ok: false, detail: `200 but not JSON: ${text.slice(0, 300)}` };
    }
  }
  const type = res.headers.get('content-type') ?? '';
  const frames = text.split(/\r?\n\r?\n/).filter((f) => f.trim() !== '');
  let contentFrames = 0;
  let usage = false;
  let done = false;
  let bad = 0;
  for (const frame of frames) {
    const data = frame
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    try {
      const chunk = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[]; usage?: unknown };
      const delta = chunk.choices?.[0]?.delta?.content;
      if (typeof delta === 'string' && delta !== '') contentFrames += 1;
      if (chunk.usage !== null && chunk.usage !== undefined) usage = true;
    } catch {
      bad += 1;
    }
  }
  const detail = `200 ${type.split(';')[0] ?? ''}, ${frames.length} SSE frames, ${contentFrames} with content, usage ${usage ? 'yes' : 'NO'}, [DONE] ${done ? 'yes' : 'NO'}${bad ? `, ${bad} unparsable` : ''}${receipt}`;
  const ok = type.startsWith('text/event-stream') && contentFrames === expectedWords && usage && done && bad === 0;
  return { ok, detail: ok ? detail : `${detail} (expected ${expectedWords} content frames, usage, [DONE])` };
}
