// The console API's OpenAPI 3.1 description, generated once at start-up from the route table (zod → JSON
// Schema 2020-12, which OpenAPI 3.1 uses as is). Served at GET /console/v1/openapi.json.
import { z } from 'zod';
import type { ErrorCode } from '../../../domain/errors.ts';
import type { ConsoleRoute } from './define.ts';
import { statusOf } from './define.ts';
import { CSRF_COOKIE, SESSION_COOKIE } from './services.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonObject;
  delete json.$schema;
  return json;
}

const ERROR_SCHEMA: JsonObject = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'code', 'param'],
      additionalProperties: false,
      properties: {
        message: { type: 'string' },
        type: { type: 'string' },
        code: { type: ['string', 'null'] },
        param: { type: ['string', 'null'] },
      },
    },
  },
};

/** Every error status a route can answer with, and the codes behind each. */
function errorCodes(route: ConsoleRoute): Map<number, ErrorCode[]> {
  const codes: ErrorCode[] = [...route.errors, 'internal_error'];
  if (route.body || route.query || route.params) codes.push('invalid_request');
  if (route.body) codes.push('invalid_json');
  if (route.access === 'session') codes.push('session_required');
  if (route.csrf) codes.push('csrf_failed');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) byStatus.set(statusOf(code), [...(byStatus.get(statusOf(code)) ?? []), code]);
  return byStatus;
}

function parameters(route: ConsoleRoute): JsonObject[] {
  const out: JsonObject[] = [];
  for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
    if (!schema) continue;
    const json = schemaOf(schema, 'input');
    const required = new Set(Array.isArray(json.required) ? json.required : []);
    const properties = (json.properties ?? {}) as JsonObject;
    for (const [name, property] of Object.entries(properties)) {
      const { description, ...rest } = property as JsonObject;
      out.push({ name, in: where, required: where === 'path' || required.has(name), schema: rest, ...(typeof description === 'string' ? { description } : {}) });
    }
  }
  return out;
}

function security(route: ConsoleRoute): Json {
  if (route.access === 'session') return [route.csrf ? { session: [], csrf: [] } : { session: [] }];
  return route.csrf ? [{ csrf: [] }] : [];
}

export function openApiDocument(routes: readonly ConsoleRoute[], version: string): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const responses: JsonObject = {};
    responses[String(route.status)] = route.response === null
      ? { description: 'Done (no body)' }
      : { description: 'OK', content: { 'application/json': { schema: schemaOf(route.response, 'output') } } };
    for (const [status, codes] of [...errorCodes(route)].sort(([a], [b]) => a - b)) {
      responses[String(status)] = { description: `Error: ${codes.join(', ')}`, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    const operation: JsonObject = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[{}]/g, '').replace(/[/-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      tags: [route.tag],
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      security: security(route),
      parameters: parameters(route),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } } } : {}),
      responses,
    };
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchyard console API',
      version,
      description:
        'The JSON API behind the web console: accounts, sessions, API keys, usage, balance and notifications. '
        + `Authenticated by the \`${SESSION_COOKIE}\` session cookie (set by login and sign-up). Every POST and DELETE needs the CSRF token `
        + `from GET /auth/csrf in the X-CSRF-Token header, with its \`${CSRF_COOKIE}\` cookie. Errors are OpenAI-style: {"error": {"message", "type", "code", "param"}}.`,
    },
    servers: [{ url: '/console/v1' }],
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: `with the ${CSRF_COOKIE} cookie set by GET /auth/csrf` },
      },
    },
  };
}
