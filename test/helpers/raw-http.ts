// HTTP/1.1 on a raw TCP socket, for what fetch cannot send: trickled bodies, broken framing, huge request
// lines and headers, connections that never send anything. Records every byte the server sent back and when
// (if at all) it closed the connection.
import { connect, type Socket } from 'node:net';
import { expect } from 'vitest';

/** What to send: bytes, or a pause in milliseconds. Sending stops once the server closed the connection. */
export type Step = string | Buffer | number;

export interface Exchange {
  /** Everything the server sent. */
  received: Buffer;
  /** The server closed (or reset) the connection before `waitMs` ran out. */
  closed: boolean;
  /** Milliseconds from connecting until the close (or until giving up). */
  ms: number;
  /** The first response in `received`, if a whole one arrived. */
  response: RawResponse | undefined;
}

export interface RawResponse {
  /** The whole body (as Content-Length says) arrived. */
  complete: boolean;
  status: number;
  headers: Record<string, string>;
  body: string;
  json: Record<string, unknown> | undefined;
}

export function parseResponse(data: Buffer): RawResponse | undefined {
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  const length = headers['content-length'] === undefined ? rest.length : Number(headers['content-length']);
  const body = rest.subarray(0, length).toString('utf8');
  const complete = rest.length >= length;
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { complete, status, headers, body, json };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Connects to `url`'s host and port, sends `steps`, and collects the answer until the server closes or
 * `waitMs` passes (or, with `firstResponse`, until one whole response arrived).
 */
export async function exchange(url: string, steps: readonly Step[], waitMs: number, options: { firstResponse?: boolean } = {}): Promise<Exchange> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  const socket: Socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  let closed = false;
  let closedAt = 0;
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.firstResponse && parseResponse(Buffer.concat(chunks))?.complete) resolve();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      closedAt = Date.now();
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  void (async () => {
    for (const step of steps) {
      if (closed) return;
      if (typeof step === 'number') await sleep(step);
      else socket.write(step);
    }
  })();
  const gaveUp = sleep(waitMs);
  await Promise.race([done, gaveUp]);
  const ms = (closed ? closedAt : Date.now()) - started;
  if (!closed) socket.destroy();
  const received = Buffer.concat(chunks);
  return { received, closed, ms, response: parseResponse(received) };
}

/** A request head: `POST /v1/chat/completions HTTP/1.1` plus headers, ending with the blank line. */
export function head(method: string, path: string, headers: Record<string, string | number> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: localhost', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** OpenAI's error shape with the given status / code. */
export function expectOpenAIError(response: RawResponse | undefined, status: number, code: string): void {
  expect(response, 'a complete response').toBeDefined();
  expect({ status: response?.status, code: (response?.json?.error as { code?: string } | undefined)?.code }).toEqual({ status, code });
  expect(Object.keys((response?.json?.error as object | undefined) ?? {}).sort()).toEqual(['code', 'message', 'param', 'type']);
}

/** Anthropic's error shape: {"type":"error","error":{"type","message"},"request_id"}. */
export function expectAnthropicError(response: RawResponse | undefined, status: number, type: string): void {
  expect(response, 'a complete response').toBeDefined();
  expect(response?.status).toBe(status);
  expect(response?.json).toMatchObject({ type: 'error', error: { type, message: expect.any(String) } });
  expect(response?.json).toHaveProperty('request_id');
}
