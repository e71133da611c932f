// The HTTP edge: what a client may send and how long it may take, before any route sees the request
// (config `server:`). Node bounds the headers and the whole request; the body has its own idle and rate
// deadlines (./body.ts); neither bounds a response, so a long stream is never cut by them.
import type { Server } from 'node:http';
import type { FastifyHttpOptions, FastifyInstance } from 'fastify';
import type { ServerConfig, TrustedProxies } from '../../config/index.ts';
import { GatewayError } from '../../domain/errors.ts';
import { frameworkErrors } from '../errors.ts';
import { BodyWatch, RequestBody, decoderFor, hasBody } from './body.ts';
import { capConnectionsPerAddress } from './connections.ts';
import { installJsonParser } from './json.ts';
import { clientErrorHandler } from './raw-errors.ts';

/**
 * Fastify's trustProxy from the config. A hop count becomes a function: Fastify 5 reads a bare number as
 * "trust nothing", and `true` would trust every hop, making the client IP the LEFT-most X-Forwarded-For entry,
 * which the client writes. With either form the client IP is the right-most untrusted address.
 */
export function trustProxy(trusted: TrustedProxies): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trusted === 'number') return trusted === 0 ? false : (_address, hop) => hop < trusted;
  return [...trusted];
}

/** Node checks header and request deadlines on an interval: often enough that each is kept within ~25 %. */
function checkingIntervalMs(server: Readonly<ServerConfig>): number {
  return Math.min(1000, Math.max(50, Math.floor(Math.min(server.headersTimeoutMs, server.requestTimeoutMs) / 4)));
}

/** The server options of the edge, for `Fastify({...})`. */
export function edgeServerOptions(server: Readonly<ServerConfig>): FastifyHttpOptions<Server> {
  return {
    keepAliveTimeout: server.keepAliveTimeoutMs,
    requestTimeout: server.requestTimeoutMs,
    // No socket inactivity timeout: an answer may stay silent for minutes (a model thinking) and must not be cut.
    connectionTimeout: 0,
    http: { headersTimeout: server.headersTimeoutMs, connectionsCheckingInterval: checkingIntervalMs(server) },
    trustProxy: trustProxy(server.trustedProxies),
    // Our own 503 while closing (installEdge): Fastify's is not in the client's error shape.
    return503OnClosing: false,
    frameworkErrors,
    clientErrorHandler: clientErrorHandler(server.maxUrlBytes),
  };
}

/** The edge's hooks and parsers; call before any route is added. */
export function installEdge(app: FastifyInstance, server: Readonly<ServerConfig>): void {
  capConnectionsPerAddress(app.server, server.maxConnectionsPerIp);
  installJsonParser(app, server.maxJsonDepth);
  const watch = new BodyWatch({ idleMs: server.bodyIdleTimeoutMs, minBytesPerSecond: server.bodyMinBytesPerSecond, graceMs: server.bodyRateGraceMs });
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', async (request) => {
    // Requests still arriving on open connections while the gateway shuts down (Fastify adds Connection: close).
    if (closing) throw new GatewayError('service_unavailable', 'The gateway is shutting down: retry the request.', { retryAfter: 1 });
    if (request.url.length > server.maxUrlBytes) throw new GatewayError('uri_too_long', `The request URL is longer than ${server.maxUrlBytes} bytes.`);
  });
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (!hasBody(request.headers)) return payload;
    const coding = decoderFor(request.headers['content-encoding']);
    return new RequestBody(payload, coding, watch, request.routeOptions.bodyLimit);
  });
}
