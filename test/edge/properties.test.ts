// Property tests (fast-check) over the body of EVERY public route that takes one (v1, console, admin — the
// list is read from the running gateway, so a new route is covered without editing this file): random JSON
// values, valid bodies with one field replaced by a random value, random bytes, wrong content types and
// codings. Whatever the body, the answer is never 5xx, and an error is in the route protocol's shape.
// Requests carry working credentials (API key, admin token, console session + CSRF), so validation — not
// authentication — is what answers. In-process gateway, mock upstream on a real socket.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleUser } from '../helpers/console.ts';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

interface Route {
  method: string;
  /** With its parameters filled in. */
  path: string;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The routes of `printRoutes()`'s tree that take a body. */
function bodyRoutes(tree: string, fill: (param: string) => string): Route[] {
  const stack: string[] = [];
  const routes: Route[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    const segment = match[2] ?? '';
    const parent = stack[depth - 1] ?? '';
    const path = segment.startsWith('/') ? parent + segment : `${parent}/${segment}`;
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim())) {
      if (BODY_METHODS.has(method)) routes.push({ method, path: path.replace(/:(\w+)|\*/g, (_all, name: string | undefined) => fill(name ?? '*')) });
    }
  }
  return routes;
}

/** Valid bodies to mutate one field of (routes not listed get random objects only). */
const TEMPLATES: Record<string, Record<string, unknown>> = {
  '/v1/chat/completions': { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 },
  '/v1/messages': { model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
  '/v1/messages/count_tokens': { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
  '/v1/responses': { model: 'gpt-4o-mini', input: 'hi', max_output_tokens: 16 },
  '/v1/embeddings': { model: 'text-embedding-3-small', input: 'hi' },
  '/admin/v1/users': { email: 'fuzz@example.com' },
  '/console/v1/auth/signup': { email: 'fuzz@example.com', password: 'long enough password' },
  '/console/v1/auth/login': { email: 'fuzz@example.com', password: 'long enough password' },
  '/console/v1/keys': { name: 'fuzz' },
};

const json = fc.jsonValue({ maxDepth: 4 });
const anthropicPath = (path: string) => path === '/v1/messages' || path.startsWith('/v1/messages/');

describe('every public route, any body: never 5xx, always the protocol’s error shape', () => {
  let t: TestGateway;
  let routes: Route[];
  let headersFor: (route: Route) => Record<string, string>;
  const seen = new Map<string, Set<number>>();

  beforeAll(async () => {
    t = await startTestGateway();
    const key = (await t.newUser('1000')).key;
    // Parameters point at a sacrificial user, key and model, so a random PATCH or DELETE cannot lock out the
    // key and session the requests are made with.
    const victim = await t.newUser('1');
    // Two console sessions: one only for the routes that end a session (logout, closing the account).
    const session = await signedIn();
    const doomed = await signedIn();
    const ids: Record<string, string> = { id: victim.keyId, version: '1', '*': 'gpt-4o-mini' };
    routes = bodyRoutes(t.gateway.app.printRoutes({ commonPrefix: false }), (name) => ids[name] ?? '1').map((r) => ({
      ...r,
      path: r.path.replace(/^\/admin\/v1\/users\/[^/]+/, `/admin/v1/users/${victim.userId}`).replace(/^\/admin\/v1\/models\/[^/]+/, '/admin/v1/models/gpt-4o-mini'),
    }));
    headersFor = (route) => {
      if (route.path.startsWith('/admin/')) return { authorization: `Bearer ${ADMIN_TOKEN}` };
      if (route.path.startsWith('/console/')) return /\/(logout|close)$/.test(route.path) ? doomed : session;
      return { authorization: `Bearer ${key}`, 'x-api-key': key };
    };
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A console user's cookies and CSRF token, as a browser would send them. */
  async function signedIn(): Promise<Record<string, string>> {
    const { c } = await consoleUser(t);
    const csrf = await c.refreshCsrf();
    return { cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'x-csrf-token': csrf };
  }

  async function check(route: Route, body: string | Uint8Array, contentType: string | undefined, extra: Record<string, string> = {}): Promise<void> {
    const res = await fetch(`${t.url}${route.path}`, {
      method: route.method,
      headers: { ...headersFor(route), ...(contentType === undefined ? {} : { 'content-type': contentType }), ...extra },
      body,
    });
    const text = await res.text();
    const where = `${route.method} ${route.path} → ${res.status} ${text.slice(0, 300)}`;
    expect(res.status, where).toBeLessThan(500);
    const statuses = seen.get(`${route.method} ${route.path}`) ?? new Set<number>();
    statuses.add(res.status);
    seen.set(`${route.method} ${route.path}`, statuses);
    if (res.status < 400) return;
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (anthropicPath(route.path)) {
      expect(parsed, where).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
    } else {
      expect(parsed.error, where).toMatchObject({ message: expect.any(String), type: expect.any(String), code: expect.any(String) });
      expect(parsed.error, where).toHaveProperty('param');
    }
  }

  const route = () => fc.constantFrom(...routes);

  it('covers the routes it should', () => {
    const names = routes.map((r) => `${r.method} ${r.path.split('/').slice(0, 4).join('/')}`);
    for (const expected of ['POST /v1/chat/completions', 'POST /v1/messages', 'POST /v1/responses', 'POST /v1/embeddings', 'POST /admin/v1/users', 'PATCH /admin/v1/keys', 'POST /console/v1/auth', 'POST /console/v1/keys']) {
      expect(names, expected).toContain(expected);
    }
  });

  it('random JSON values', async () => {
    await fc.assert(fc.asyncProperty(route(), json, async (r, value) => check(r, JSON.stringify(value), 'application/json')), { numRuns: 1000 });
  }, 120_000);

  it('valid bodies with one field replaced by a random value', async () => {
    const templated = () => fc.constantFrom(...routes.filter((r) => TEMPLATES[r.path] !== undefined));
    const field = fc.oneof(fc.constantFrom('model', 'messages', 'max_tokens', 'input', 'stream', 'tools', 'email', 'password', 'name', 'metadata', 'temperature'), fc.string());
    await fc.assert(
      fc.asyncProperty(templated(), field, json, async (r, name, value) => check(r, JSON.stringify({ ...TEMPLATES[r.path], [name]: value }), 'application/json')),
      { numRuns: 1000 },
    );
  }, 120_000);

  it('random bytes, wrong content types and codings', async () => {
    const contentType = fc.constantFrom(undefined, 'application/json', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', '', 'garbage/');
    const coding = fc.constantFrom<Record<string, string>>({}, {}, { 'content-encoding': 'gzip' }, { 'content-encoding': 'br' }, { 'content-encoding': 'identity' }, { 'content-encoding': 'snappy' });
    await fc.assert(fc.asyncProperty(route(), fc.uint8Array({ maxLength: 2048 }), contentType, coding, async (r, bytes, type, extra) => check(r, bytes, type, extra)), { numRuns: 1000 });
  }, 120_000);

  it('visited every route', () => {
    for (const r of routes) expect(seen.has(`${r.method} ${r.path}`), `${r.method} ${r.path}`).toBe(true);
  });
});
