// Errors answered below Fastify, on the socket itself: HTTP the server could not parse (bad framing, headers
// or request line too large), requests not received in time (Node's header and request timeouts), and
// connections over the per-address cap. Each gets a complete HTTP/1.1 response with a JSON body in the client
// protocol's shape (chosen from the request path when one is known), then the connection is closed.
import { STATUS_CODES, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError } from 'fastify';
import { GatewayError } from '../../domain/errors.ts';
import { errorBodyForPath } from '../errors.ts';

/** How long a closing connection may still drain what the client sends before it is destroyed. */
const LINGER_MS = 2000;

/** The path of the request line at the start of `packet` ("POST /v1/messages?x HTTP/1.1"), if it is one. */
export function requestPath(packet: Buffer | undefined): string | undefined {
  if (!packet) return undefined;
  const match = /^[A-Z]{1,16} (\/[^\s?#]{0,512})/.exec(packet.subarray(0, 600).toString('latin1'));
  return match?.[1];
}

/** A whole HTTP/1.1 response carrying `error` in the shape of the protocol `path` speaks. */
export function rawErrorResponse(error: GatewayError, path: string | undefined): string {
  const body = JSON.stringify(errorBodyForPath(path ?? '/')(error, null));
  const retryAfter = error.retryAfter === undefined ? '' : `Retry-After: ${error.retryAfter}\r\n`;
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
    `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retryAfter}Connection: close\r\n\r\n${body}`
  );
}

/**
 * Writes the response (when the socket can take it), then closes the connection. `linger`: half-close and
 * drain what still arrives until the client closes (LINGER_MS at most), since destroying a socket with unread
 * input resets it and the client may lose the answer; only where no HTTP parser can still read from it.
 */
export function answerAndClose(socket: Socket, response: string, linger: boolean): void {
  if (socket.destroyed) return;
  socket.on('error', () => undefined);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  if (!linger) {
    socket.write(response);
    socket.destroy();
    return;
  }
  socket.end(response);
  const drained = setTimeout(() => socket.destroy(), LINGER_MS);
  drained.unref();
  socket.once('close', () => clearTimeout(drained));
}

/** The response still being sent on the socket, if any (Node's own clientError handling checks the same). */
function inFlight(socket: Socket): ServerResponse | undefined {
  const message: unknown = Reflect.get(socket, '_httpMessage');
  return message instanceof ServerResponse ? message : undefined;
}

/** The bytes the parser failed on (Node passes a Buffer; Fastify's type says otherwise). */
function rawPacket(error: ConnectionError): Buffer | undefined {
  const packet: unknown = error.rawPacket;
  return Buffer.isBuffer(packet) ? packet : undefined;
}

function classify(error: ConnectionError, maxUrlBytes: number): GatewayError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('request_timeout', 'The request was not received in time.');
    case 'HPE_HEADER_OVERFLOW': {
      // Node's header limit covers the request line too: a request line alone over the URL limit is a 414.
      const packet = rawPacket(error);
      const lineEnd = packet ? packet.indexOf('\r\n') : -1;
      const lineLength = lineEnd === -1 ? (packet?.length ?? 0) : lineEnd;
      if (requestPath(packet) !== undefined && lineLength > maxUrlBytes) return new GatewayError('uri_too_long', 'The request URL is too long.');
      return new GatewayError('headers_too_large', 'The request headers are too large.');
    }
    default:
      // llhttp's codes (HPE_INVALID_METHOD, HPE_UNEXPECTED_CONTENT_LENGTH, …) describe the fault, never the input.
      return new GatewayError('invalid_request', `The request is not valid HTTP/1.1 (${/^[A-Z_]{1,40}$/.test(error.code ?? '') ? error.code : 'malformed'}).`);
  }
}

/** Fastify's clientErrorHandler: answers in the client's shape when nothing of a response was sent yet. */
export function clientErrorHandler(maxUrlBytes: number): (error: ConnectionError, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const response = inFlight(socket);
    if (response?.headersSent) {
      socket.destroy();
      return;
    }
    const path = response ? response.req.url : requestPath(rawPacket(error));
    // After a parse error the parser reads nothing more; after a timeout it could still complete a request.
    const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    answerAndClose(socket, rawErrorResponse(classify(error, maxUrlBytes), path), !timedOut);
  };
}
