// One table of console routes drives three things, so they cannot drift apart: the Fastify routes (with
// their session and CSRF hooks), request validation (zod), and the OpenAPI 3.1 description (zod → JSON Schema).
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { z } from 'zod';
import type { ConsoleSession } from '../../../accounts/service.ts';
import { ERROR_CATALOGUE, GatewayError, type ErrorCode } from '../../../domain/errors.ts';

export type Access = 'public' | 'session';
type Method = 'GET' | 'POST' | 'DELETE';

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteContext<A extends Access, B, Q, P> {
  request: FastifyRequest;
  reply: FastifyReply;
  session: A extends 'session' ? ConsoleSession : undefined;
  body: B;
  query: Q;
  params: P;
}

/** A route as the registry and the OpenAPI generator see it (types erased). */
export interface ConsoleRoute {
  method: Method;
  /** OpenAPI form, relative to /console/v1: `/keys/{id}`. */
  path: string;
  tag: string;
  summary: string;
  description: string | undefined;
  access: Access;
  /** State-changing: needs the CSRF token (and a same-origin Origin, when the browser sends one). */
  csrf: boolean;
  body: z.ZodType | undefined;
  query: z.ZodType | undefined;
  params: z.ZodType | undefined;
  status: number;
  /** null: no body (204). */
  response: z.ZodType | null;
  /** Error codes this route answers with besides the ones its access, CSRF and validation imply. */
  errors: readonly ErrorCode[];
  run(request: FastifyRequest, reply: FastifyReply, session: ConsoleSession | undefined): Promise<unknown>;
}

export interface RouteSpec<A extends Access, B extends z.ZodType | undefined, Q extends z.ZodType | undefined, P extends z.ZodType | undefined, R extends z.ZodType | null> {
  method: Method;
  path: string;
  tag: string;
  summary: string;
  description?: string;
  access: A;
  /** Default: every method but GET. */
  csrf?: boolean;
  body?: B;
  query?: Q;
  params?: P;
  status?: number;
  response: R;
  errors?: readonly ErrorCode[];
  handler(ctx: RouteContext<A, Parsed<B>, Parsed<Q>, Parsed<P>>): Promise<R extends z.ZodType ? z.input<R> : void>;
}

/** Validates one part of a request; the first issue becomes the OpenAI-style 400 (param = the field). */
export function parsePart<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query' | 'path'): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // An unknown field is named by the field itself (zod reports it on the enclosing object).
  const unknown = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const param = [...(issue?.path ?? []), ...(unknown === undefined ? [] : [unknown])].map(String).join('.') || null;
  // zod's messages describe the rule (type, length, format), never the value sent.
  throw new GatewayError('invalid_request', `Invalid ${param ? `'${param}'` : `request ${where}`}: ${issue?.message ?? 'invalid'}`, { param });
}

/** The query of a route that declares none: no parameters at all (a stray one is a 400, never ignored). */
const NO_QUERY = z.strictObject({});

export function defineRoute<
  A extends Access,
  B extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  P extends z.ZodType | undefined = undefined,
  R extends z.ZodType | null = null,
>(spec: RouteSpec<A, B, Q, P, R>): ConsoleRoute {
  return {
    method: spec.method,
    path: spec.path,
    tag: spec.tag,
    summary: spec.summary,
    description: spec.description,
    access: spec.access,
    csrf: spec.csrf ?? spec.method !== 'GET',
    body: spec.body,
    query: spec.query ?? NO_QUERY,
    params: spec.params,
    status: spec.status ?? 200,
    response: spec.response,
    errors: spec.errors ?? [],
    async run(request, reply, session) {
      const ctx = {
        request,
        reply,
        session,
        body: spec.body ? parsePart(spec.body, request.body, 'body') : undefined,
        query: parsePart(spec.query ?? NO_QUERY, request.query, 'query'),
        params: spec.params ? parsePart(spec.params, request.params, 'path') : undefined,
      } as RouteContext<A, Parsed<B>, Parsed<Q>, Parsed<P>>;
      const result = await spec.handler(ctx);
      void reply.code(spec.status ?? 200);
      return spec.response === null ? reply.send() : result;
    },
  };
}

export interface RegisterHooks {
  /** Resolves the session cookie; throws session_required when there is none. */
  session: (request: FastifyRequest) => Promise<ConsoleSession>;
  /** Origin and CSRF-token checks for state-changing routes. */
  csrf: onRequestHookHandler[];
}

/** Registers every route of the table on the console's Fastify scope. */
export function registerRoutes(scope: FastifyInstance, routes: readonly ConsoleRoute[], hooks: RegisterHooks): void {
  const sessions = new WeakMap<FastifyRequest, ConsoleSession>();
  for (const route of routes) {
    const onRequest: onRequestHookHandler[] = [...(route.csrf ? hooks.csrf : [])];
    if (route.access === 'session') {
      onRequest.push(async (request) => {
        sessions.set(request, await hooks.session(request));
      });
    }
    scope.route({
      method: route.method,
      url: route.path.replace(/\{(\w+)\}/g, ':$1'),
      onRequest,
      handler: (request, reply) => route.run(request, reply, sessions.get(request)),
    });
  }
}

/** The status a documented error code answers with. */
export const statusOf = (code: ErrorCode): number => ERROR_CATALOGUE[code].status;
