// /console/v1 — the web console's JSON API (docs/decisions/0011, 0012). Session cookie authentication,
// CSRF protection on every state-changing route (a signed double-submit cookie via @fastify/csrf-protection,
// plus a same-origin check of Origin / Sec-Fetch-Site), OpenAI-style errors, an OpenAPI 3.1 description.
// Cookies and CSRF are registered inside this scope only: /v1 and /admin/v1 never parse a cookie.
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiKeyService } from '../../../accounts/api-keys.ts';
import { hmacHex } from '../../../accounts/secrets.ts';
import { GatewayError } from '../../../domain/errors.ts';
import type { AppDeps } from '../../context.ts';
import { accountRoutes } from './account.ts';
import { activityRoutes } from './activity.ts';
import { authRoutes } from './auth.ts';
import { registerRoutes, type ConsoleRoute } from './define.ts';
import { openApiDocument } from './openapi.ts';
import { COOKIE_PATH, CSRF_COOKIE, SESSION_COOKIE, type ConsoleServices } from './services.ts';

export const CONSOLE_PREFIX = '/console/v1';
const API_VERSION = '1.0.0';

const registered = new WeakMap<FastifyInstance, Array<{ method: string; url: string }>>();

/** Every route Fastify registered under /console/v1 on this app (the tenant-isolation test walks them all). */
export function consoleRoutesOf(app: FastifyInstance): ReadonlyArray<{ method: string; url: string }> {
  return registered.get(app) ?? [];
}

export function consoleRouteTable(services: ConsoleServices): ConsoleRoute[] {
  return [...authRoutes(services), ...accountRoutes(services), ...activityRoutes(services)];
}

export function consoleRoutes(app: FastifyInstance, deps: AppDeps): void {
  const services: ConsoleServices = {
    accounts: deps.accounts,
    keys: new ApiKeyService({ store: deps.store, catalogue: deps.catalogue, authenticator: deps.authenticator }),
    store: deps.store,
    setSession(request, reply, session) {
      void reply.setCookie(SESSION_COOKIE, session.secret, {
        path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure: request.protocol === 'https', expires: session.expiresAt,
      });
    },
    clearSession(reply) {
      void reply.clearCookie(SESSION_COOKIE, { path: COOKIE_PATH });
    },
  };
  const routes = consoleRouteTable(services);
  const document = openApiDocument(routes, API_VERSION);
  const seen: Array<{ method: string; url: string }> = [];
  registered.set(app, seen);
  const publicOrigin = new URL(deps.config.accounts.publicUrl).origin;

  /** A browser says where a request comes from; only this gateway's own origin (or its public URL) passes. */
  const sameOrigin = async (request: FastifyRequest): Promise<void> => {
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    const own = `${request.protocol}://${request.host}`;
    if (site === 'cross-site' || (origin !== undefined && origin !== own && origin !== publicOrigin)) {
      throw new GatewayError('csrf_failed', 'Cross-origin requests to the console API are refused.');
    }
  };

  void app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) if (method !== 'HEAD') seen.push({ method, url: route.url });
    });
    await scope.register(fastifyCookie, { secret: hmacHex(deps.config.secret, 'switchyard:console-cookie-signing') });
    await scope.register(fastifyCsrf, {
      sessionPlugin: '@fastify/cookie',
      cookieKey: CSRF_COOKIE,
      cookieOpts: { path: COOKIE_PATH, sameSite: 'strict', httpOnly: true, signed: true },
      getToken: (request: FastifyRequest) => {
        const header = request.headers['x-csrf-token'];
        return typeof header === 'string' ? header : undefined;
      },
      logLevel: 'debug',
    });
    registerRoutes(scope, routes, {
      csrf: [sameOrigin, scope.csrfProtection],
      session: async (request) => {
        const session = await deps.accounts.authenticate(request.cookies[SESSION_COOKIE]);
        if (!session) throw new GatewayError('session_required', 'Sign in first: no valid session cookie.');
        return session;
      },
    });
    scope.get('/openapi.json', async () => document);
  }, { prefix: CONSOLE_PREFIX });
}
