// The ONE error handler for JSON responses (ARCHITECTURE §8): every thrown error becomes the client
// protocol's shape (OpenAI's; Anthropic's under /v1/messages), router errors, 404 and 405 included.
// Messages are ours or short upstream summaries; nothing of a request body is echoed or logged.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError } from '../domain/errors.ts';
import { anthropicErrorBody } from '../protocol/anthropic/errors.ts';
import { openAIErrorBody } from '../protocol/openai/errors.ts';
import { ClientAbortError } from '../upstream/client.ts';
import { StorageUnavailableError } from '../storage/availability.ts';

function fromFastify(error: FastifyError): GatewayError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('request_too_large', 'The request body is larger than this gateway accepts.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_json', 'The request body is not valid JSON.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('unsupported_media_type', 'Send the request body as application/json.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_request', 'The Content-Length header does not match the body.');
    case 'FST_ERR_BAD_URL':
      return new GatewayError('invalid_request', 'The URL is not valid (a malformed %-escape in its path).');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new GatewayError('uri_too_long', 'A segment of the URL path is too long.');
    case 'FST_CSRF_MISSING_SECRET':
    case 'FST_CSRF_INVALID_TOKEN':
      return new GatewayError('csrf_failed', 'Missing or invalid CSRF token: get one from GET /console/v1/auth/csrf and send it as X-CSRF-Token.');
    default:
      break;
  }
  if (error instanceof SyntaxError) return new GatewayError('invalid_json', 'The request body is not valid JSON.');
  if (error.validation) return new GatewayError('invalid_request', error.message);
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new GatewayError('invalid_request', 'The request could not be read.', { status: error.statusCode });
  }
  return undefined;
}

export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof ClientAbortError) return new GatewayError('client_closed', 'The client closed the request.');
  if (error instanceof StorageUnavailableError) {
    return new GatewayError('service_unavailable', 'The service is temporarily unavailable. Please retry.', { retryAfter: error.retryAfterSeconds });
  }
  if (error instanceof Error && 'code' in error) {
    const mapped = fromFastify(error as FastifyError);
    if (mapped) return mapped;
  }
  if (error instanceof SyntaxError) return new GatewayError('invalid_json', 'The request body is not valid JSON.');
  return new GatewayError('internal_error', 'The gateway failed to handle this request.');
}

export type ErrorEncoder = (error: GatewayError, requestId: string | null) => unknown;

/** The error shape of the client protocol a path speaks: Anthropic's under /v1/messages, OpenAI's elsewhere (console and admin too). */
export function errorBodyForPath(url: string): ErrorEncoder {
  const path = url.split('?', 1)[0] ?? '';
  return path === '/v1/messages' || path.startsWith('/v1/messages/') ? anthropicErrorBody : openAIErrorBody;
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: GatewayError, encode: ErrorEncoder): void {
  if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
  // An answer given before the body was read ends the connection: the rest of the body is never read.
  if (!request.raw.complete) void reply.header('connection', 'close');
  void reply.code(error.status).send(encode(error, request.id));
}

/** Fastify's router errors (bad %-encoding, an over-long path parameter), in the client protocol's shape. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // No route matched, so no hook ran and the request has no route options: only its URL is known.
  void reply.header('x-switchyard-request-id', request.id);
  sendError(request, reply, toGatewayError(error), errorBodyForPath(request.url));
}

/** METHOD path patterns, to tell an unknown path (404) from a known one asked with another method (405). */
class RouteTable {
  private readonly routes: Array<{ method: string; pattern: RegExp }> = [];

  add(methods: string | string[], url: string): void {
    const source = url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const pattern = new RegExp(`^${source}$`);
    for (const method of Array.isArray(methods) ? methods : [methods]) this.routes.push({ method, pattern });
  }

  allowed(path: string): string[] {
    return [...new Set(this.routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
  }
}

export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  const routes = new RouteTable();
  app.addHook('onRoute', (route) => routes.add(route.method, route.url));
  app.setErrorHandler((error, request, reply) => {
    const gatewayError = toGatewayError(error);
    if (gatewayError.code === 'internal_error') {
      // Metadata only: the error's class and stack, never the request.
      logger.error({ requestId: request.id, err: { name: (error as Error).name, stack: (error as Error).stack } }, 'internal error');
    }
    if (gatewayError.code === 'client_closed' || reply.raw.destroyed) return;
    sendError(request, reply, gatewayError, request.routeOptions.config.errorBody ?? errorBodyForPath(request.url));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '';
    const allowed = routes.allowed(path);
    if (allowed.length > 0) {
      void reply.header('allow', allowed.join(', '));
      sendError(request, reply, new GatewayError('method_not_allowed', `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}.`), errorBodyForPath(path));
      return;
    }
    sendError(request, reply, new GatewayError('not_found', `Unknown route: ${request.method} ${path}`), errorBodyForPath(path));
  });
}
