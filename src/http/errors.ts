// The ONE error handler for JSON responses (ARCHITECTURE §8): every thrown error becomes OpenAI's shape.
// Messages are ours or short upstream summaries; nothing of a request body is echoed or logged.
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError } from '../domain/errors.ts';
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

export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((error, request, reply) => {
    const gatewayError = toGatewayError(error);
    if (gatewayError.code === 'internal_error') {
      // Metadata only: the error's class and stack, never the request.
      logger.error({ requestId: request.id, err: { name: (error as Error).name, stack: (error as Error).stack } }, 'internal error');
    }
    if (gatewayError.code === 'client_closed' || reply.raw.destroyed) return;
    if (gatewayError.retryAfter !== undefined) void reply.header('retry-after', String(gatewayError.retryAfter));
    const encode = request.routeOptions.config.errorBody ?? openAIErrorBody;
    void reply.code(gatewayError.status).send(encode(gatewayError));
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError('not_found', `Unknown route: ${request.method} ${request.url.split('?')[0] ?? ''}`);
    void reply.code(404).send(openAIErrorBody(error));
  });
}
