// A cap on concurrent connections per socket peer address. A connection over the cap never reaches the HTTP
// parser: it is answered 429 (in the shape of the protocol its first request line names) and closed. Behind a
// proxy every connection comes from the proxy, so the cap is per proxy there (config: 0 turns it off).
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayError } from '../../domain/errors.ts';
import { answerAndClose, rawErrorResponse, requestPath } from './raw-errors.ts';

/** How long a refused connection may take to send its first bytes (to pick the error shape). */
const FIRST_BYTES_MS = 1000;

function refuse(socket: Socket, max: number): void {
  socket.on('error', () => undefined);
  const error = new GatewayError('rate_limit_exceeded', `Too many concurrent connections from this address (at most ${max}).`, { retryAfter: 1 });
  const timer = setTimeout(() => answerAndClose(socket, rawErrorResponse(error, undefined), true), FIRST_BYTES_MS);
  timer.unref();
  socket.once('data', (chunk: Buffer) => {
    clearTimeout(timer);
    answerAndClose(socket, rawErrorResponse(error, requestPath(chunk)), true);
    socket.resume(); // drained and dropped while lingering
  });
  socket.once('close', () => clearTimeout(timer));
}

/**
 * Puts the cap in front of the server's own 'connection' listeners (Node's HTTP parser among them). Beyond
 * twice the cap, connections are dropped without an answer: refusing politely must not itself cost a socket
 * per attempt for long.
 */
export function capConnectionsPerAddress(server: Server, max: number): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  const listeners = server.listeners('connection');
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined) {
      socket.destroy(); // already gone
      return;
    }
    const count = (open.get(address) ?? 0) + 1;
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
    if (count <= max) {
      for (const listener of listeners) Reflect.apply(listener, server, [socket]);
    } else if (count <= 2 * max) {
      refuse(socket, max);
    } else {
      socket.destroy();
    }
  });
}
