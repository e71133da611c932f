// Small pieces shared by the admin routes: body and query validation, and paging.
//
// Query strings: every route in the admin scope has its query validated before its handler (validateQueries).
// A route declares what it accepts with `acceptsQuery(schema)` and reads the parsed value with `queryOf`; a
// route that declares nothing accepts nothing, so a parameter no route reads is a 400, never silently ignored,
// and no route can forget to validate what it reads.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { INT64_MAX } from '../../../domain/money.ts';
import { GatewayError } from '../../../domain/errors.ts';

function firstIssue(error: z.ZodError, where: string): GatewayError {
  const issue = error.issues[0];
  // An unknown field is named by the field itself (zod reports it on the enclosing object).
  const unknown = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const param = [...(issue?.path ?? []), ...(unknown === undefined ? [] : [unknown])].map(String).join('.') || null;
  // zod's messages describe the rule (type, length, format), never the value sent.
  return new GatewayError('invalid_request', `Invalid value for '${param ?? where}': ${issue?.message ?? 'invalid'}`, { param });
}

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  throw firstIssue(result.error, 'body');
}

export const limitSchema = z.coerce.number().int().min(1).max(1000).default(100);

/** A row id used as a paging cursor (`before`): decimal digits within int64, as the database's ids are. */
export const idCursor = z
  .string()
  .regex(/^\d{1,19}$/, 'expected an entry id (decimal digits)')
  // zod runs a refinement even after the regex failed: parse only what the regex accepts.
  .refine((text) => !/^\d{1,19}$/.test(text) || BigInt(text) <= INT64_MAX, 'expected an entry id (at most 9223372036854775807)');

/** A page of `limit` rows read as limit + 1: the extra row only says whether there is more. */
export function page<T>(rows: T[], limit: number): { object: 'list'; data: T[]; has_more: boolean } {
  return { object: 'list', data: rows.slice(0, limit), has_more: rows.length > limit };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The query string an admin route accepts (acceptsQuery); none: no parameters. */
    query?: z.ZodType;
  }
}

const NO_QUERY = z.strictObject({});
const parsedQueries = new WeakMap<FastifyRequest, unknown>();

const declaredQuery = (request: FastifyRequest): z.ZodType => request.routeOptions.config.query ?? NO_QUERY;

/** Route options declaring the query string a route accepts: `admin.get(path, acceptsQuery(schema), handler)`. */
export const acceptsQuery = (schema: z.ZodType) => ({ config: { query: schema } });

/** Validates every request's query string against its route's declaration (none declared: no parameters). */
export function validateQueries(scope: FastifyInstance): void {
  scope.addHook('preValidation', async (request) => {
    const result = declaredQuery(request).safeParse(request.query ?? {});
    if (!result.success) throw firstIssue(result.error, 'query');
    parsedQueries.set(request, result.data);
  });
}

/** The query validated by validateQueries; `schema` must be the one the route declared with acceptsQuery. */
export function queryOf<T>(request: FastifyRequest, schema: z.ZodType<T>): T {
  if (declaredQuery(request) !== schema || !parsedQueries.has(request)) {
    throw new Error(`admin route ${request.routeOptions.url ?? ''}: read a query it did not declare with acceptsQuery`);
  }
  return parsedQueries.get(request) as T;
}
