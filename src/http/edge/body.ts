// Reading a request body at the edge: the body's own deadlines (idle, minimum average rate) and its
// Content-Encoding (gzip, deflate, br; zstd where this Node has it), decoded as a stream with the body limit
// applied to the DECODED size, so a zip bomb stops at the limit. Nothing is read until the route's content
// type parser reads (a route that answers first — 404, 415 — leaves the body to Node).
import type { IncomingHttpHeaders } from 'node:http';
import { Readable, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import { GatewayError } from '../../domain/errors.ts';

export interface BodyDeadlines {
  idleMs: number;
  /** 0: no minimum rate. */
  minBytesPerSecond: number;
  graceMs: number;
}

type Coding = 'gzip' | 'deflate' | 'br' | 'zstd';
type RawBody = Readable & { readonly complete?: boolean };

// zstd: Node ≥ 22.15 / 23.8 only (not in Node 20, nor in its type declarations), hence the check at run time.
const createZstdDecompress: unknown = Reflect.get(zlib, 'createZstdDecompress');
const zstd = typeof createZstdDecompress === 'function' ? (createZstdDecompress as () => Transform) : undefined;

const DECODERS: Readonly<Record<Coding, (() => Transform) | undefined>> = {
  gzip: () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
  zstd,
};

export const SUPPORTED_CODINGS: readonly string[] = (Object.keys(DECODERS) as Coding[]).filter((c) => DECODERS[c] !== undefined);

/** The decoder for a Content-Encoding header (undefined: identity); 415 for anything else. */
export function decoderFor(header: string | undefined): { coding: string; decoder: Transform } | undefined {
  if (header === undefined) return undefined;
  const codings = header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return undefined;
  const accepted = `Accepted: ${SUPPORTED_CODINGS.join(', ')} (one at most) or identity.`;
  if (codings.length > 1) throw new GatewayError('unsupported_media_type', `The request body has several content codings. ${accepted}`);
  const coding = codings[0] === 'x-gzip' ? 'gzip' : (codings[0] ?? '');
  const make = Object.hasOwn(DECODERS, coding) ? DECODERS[coding as Coding] : undefined;
  if (!make) throw new GatewayError('unsupported_media_type', `Content-Encoding '${coding.slice(0, 32)}' is not supported. ${accepted}`);
  return { coding, decoder: make() };
}

/** A body follows the headers (RFC 9112 §6.3): a Transfer-Encoding, or a Content-Length above 0. */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/** The request bodies being read, checked against their deadlines by one timer (none while nothing is read). */
export class BodyWatch {
  private readonly reading = new Set<RequestBody>();
  private timer: NodeJS.Timeout | undefined;
  private readonly everyMs: number;

  constructor(readonly deadlines: Readonly<BodyDeadlines>) {
    const shortest = deadlines.minBytesPerSecond > 0 ? Math.min(deadlines.idleMs, deadlines.graceMs) : deadlines.idleMs;
    this.everyMs = Math.min(1000, Math.max(25, Math.floor(shortest / 4)));
  }

  add(body: RequestBody): void {
    this.reading.add(body);
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), this.everyMs);
    this.timer.unref();
  }

  delete(body: RequestBody): void {
    this.reading.delete(body);
    if (this.reading.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const body of this.reading) {
      const late = body.overdue(now, this.deadlines);
      if (late) body.destroy(late);
    }
  }
}

/**
 * The stream a route's content type parser reads instead of the raw request. `receivedEncodedLength` is what
 * Fastify compares with Content-Length (the bytes on the wire); the decoded bytes are what count against the limit.
 */
export class RequestBody extends Readable {
  receivedEncodedLength = 0;
  private decodedLength = 0;
  private started = false;
  private startedAt = 0;
  private lastByteAt = 0;
  private sinceSweep = false;
  private readonly source: Readable;
  private readonly decoder: Transform | undefined;

  constructor(
    private readonly raw: RawBody,
    private readonly coding: { coding: string; decoder: Transform } | undefined,
    private readonly watch: BodyWatch,
    private readonly limit: number,
  ) {
    super();
    this.decoder = coding?.decoder;
    this.source = this.decoder ?? raw;
  }

  /** A 408 when the body stalled or trickles, checked by the watch's timer. */
  overdue(now: number, d: Readonly<BodyDeadlines>): GatewayError | undefined {
    if (this.sinceSweep) {
      this.lastByteAt = now;
      this.sinceSweep = false;
    }
    if (now - this.lastByteAt >= d.idleMs) {
      return new GatewayError('request_timeout', `No part of the request body arrived for ${Math.round(d.idleMs / 1000)} s.`);
    }
    const elapsed = now - this.startedAt;
    if (d.minBytesPerSecond > 0 && elapsed >= d.graceMs && this.receivedEncodedLength * 1000 < d.minBytesPerSecond * elapsed) {
      return new GatewayError('request_timeout', `The request body arrived slower than ${d.minBytesPerSecond} bytes per second.`);
    }
    return undefined;
  }

  override _read(): void {
    if (this.started) {
      this.source.resume();
      return;
    }
    this.started = true;
    this.startedAt = this.lastByteAt = Date.now();
    this.watch.add(this);
    this.raw.on('data', this.onRaw);
    this.raw.on('error', this.onError);
    this.raw.on('close', this.onRawClose);
    if (this.decoder) {
      this.decoder.on('data', this.onDecoded);
      this.decoder.on('error', this.onDecodeError);
      this.raw.pipe(this.decoder);
    }
    this.source.on('end', this.onEnd);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.watch.delete(this);
    this.raw.off('data', this.onRaw);
    this.raw.off('error', this.onError);
    this.raw.off('close', this.onRawClose);
    this.source.off('end', this.onEnd);
    if (this.decoder) {
      this.raw.unpipe(this.decoder);
      this.decoder.off('data', this.onDecoded);
      this.decoder.off('error', this.onDecodeError);
      // Stops the decoder's work at once (a bomb's rest is never inflated); errors after this are moot.
      this.decoder.on('error', () => undefined);
      this.decoder.destroy();
    }
    // The rest of the body stays unread: the answer closes the connection (http/errors.ts).
    this.raw.pause();
    callback(error);
  }

  private readonly onRaw = (chunk: Buffer): void => {
    this.receivedEncodedLength += chunk.length;
    this.sinceSweep = true;
    if (!this.coding) this.forward(chunk, this.raw);
  };

  private readonly onDecoded = (chunk: Buffer): void => {
    this.forward(chunk, this.source);
  };

  private forward(chunk: Buffer, from: Readable): void {
    this.decodedLength += chunk.length;
    if (this.decodedLength > this.limit) {
      this.destroy(new GatewayError('request_too_large', `The request body is larger than this gateway accepts (${this.limit} bytes${this.coding ? ', decoded' : ''}).`));
      return;
    }
    if (!this.push(chunk)) from.pause();
  }

  private readonly onEnd = (): void => {
    this.watch.delete(this);
    this.push(null);
  };

  private readonly onError = (error: Error): void => {
    this.destroy(error);
  };

  private readonly onDecodeError = (): void => {
    this.destroy(new GatewayError('invalid_request', `The request body is not valid ${this.coding?.coding ?? ''} data.`));
  };

  private readonly onRawClose = (): void => {
    // The client went away mid-body (an 'error' usually came first and destroyed this stream already).
    if (!this.readableEnded && !this.destroyed && this.raw.complete !== true) {
      this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    }
  };
}
