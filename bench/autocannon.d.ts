// Minimal types for the parts of autocannon 8's programmatic API that bench/ uses (no @types/autocannon here).
// Source of truth: node_modules/autocannon/lib/{init,run,aggregateResult}.js and its README.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface Options {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    pipelining?: number;
    /** Seconds before a request counts as a timeout. */
    timeout?: number;
    method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
    headers?: Record<string, string>;
    body?: string | Buffer;
    title?: string;
    /** Also count non-2xx responses in the latency/throughput statistics (default false). */
    excludeErrorStats?: boolean;
    workers?: number;
    /**
     * Requests sent in turn on every connection; fields left out come from the options above. `onResponse` runs
     * for each response (before the instance's 'response' event for it, synchronously), with the whole body and
     * the response headers.
     */
    requests?: RequestSpec[];
  }

  export interface RequestSpec {
    method?: Options['method'];
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => void;
  }

  /** Summary of an HDR histogram as autocannon reports it. */
  export interface HistogramSummary {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p0_001: number;
    p0_01: number;
    p0_1: number;
    p1: number;
    p2_5: number;
    p10: number;
    p25: number;
    p50: number;
    p75: number;
    p90: number;
    p97_5: number;
    p99: number;
    p99_9: number;
    p99_99: number;
    p99_999: number;
  }

  export interface Result {
    title?: string;
    url: string;
    connections: number;
    pipelining: number;
    /** Seconds (may be fractional). */
    duration: number;
    start: Date;
    finish: Date;
    samples: number;
    errors: number;
    timeouts: number;
    mismatches: number;
    non2xx: number;
    resets: number;
    '1xx': number;
    '2xx': number;
    '3xx': number;
    '4xx': number;
    '5xx': number;
    statusCodeStats: Record<string, { count: number }>;
    /** Milliseconds, 2xx responses only (whole-millisecond resolution). */
    latency: HistogramSummary & { totalCount: number };
    /** Requests per one-second sample; `total` = completed requests, `sent` = requests sent. */
    requests: HistogramSummary & { sent: number };
    /** Bytes per one-second sample. */
    throughput: HistogramSummary;
  }

  /** What autocannon(opts) returns without a callback: an EventEmitter that is also thenable. */
  export interface Instance extends EventEmitter, PromiseLike<Result> {
    stop(): void;
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
    on(event: 'reqError', listener: (error: Error) => void): this;
    on(event: 'done', listener: (result: Result) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    catch(onRejected: (reason: unknown) => void): Promise<Result | void>;
  }

  function autocannon(options: Options): Instance;
  function autocannon(options: Options, callback: (error: Error | null, result: Result) => void): Instance;
  export default autocannon;
}
