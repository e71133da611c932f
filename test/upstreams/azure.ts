/**
 * A mock Azure OpenAI front for the mock OpenAI upstream (./openai.ts): it speaks Azure's URLs and auth and
 * forwards to the OpenAI mock, so every directive of that mock works here too.
 *   https://learn.microsoft.com/azure/ai-services/openai/reference
 *   POST /openai/deployments/{deployment}/chat/completions?api-version={version}   (model = the deployment)
 *   POST /openai/deployments/{deployment}/embeddings?api-version={version}
 *   POST /openai/v1/chat/completions, /openai/v1/embeddings   (optional ?api-version=v1|preview; model in body)
 * Auth: `api-key: <apiKey>` header, else 401. A dated route without api-version: 404 (as Azure answers).
 * Directive (last user message): `#content_filter` → 400 with Azure's content-filter error body:
 *   https://learn.microsoft.com/azure/ai-services/openai/concepts/content-filter
 * The official `AzureOpenAI` SDK client pointed at it must work (test/e2e-vendors.test.ts checks that).
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface AzureFrontOptions {
  /** The key clients must send in `api-key`. */
  apiKey: string;
  /** The OpenAI mock's base URL (`http://127.0.0.1:PORT/v1`), read per request (it may be set after start). */
  target: () => string | undefined;
  /** The OpenAI mock's bearer key. */
  upstreamKey: string;
}

export interface AzureRecorded {
  path: string;
  apiVersion: string | null;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export interface AzureFront {
  /** The resource endpoint, e.g. `http://127.0.0.1:PORT` (what Azure calls `https://{resource}.openai.azure.com`). */
  url: string;
  requests: AzureRecorded[];
  close(): Promise<void>;
}

const DEPLOYMENT_ROUTE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;
const V1_ROUTE = /^\/openai\/v1\/(chat\/completions|embeddings)$/;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as Array<Record<string, unknown>>) : [];
  const last = [...messages].reverse().find((m) => m.role === 'user');
  return typeof last?.content === 'string' ? last.content : '';
}

const CONTENT_FILTER_ERROR = {
  error: {
    message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
    type: null,
    param: 'prompt',
    code: 'content_filter',
    status: 400,
    innererror: {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: {
        hate: { filtered: false, severity: 'safe' },
        self_harm: { filtered: false, severity: 'safe' },
        sexual: { filtered: false, severity: 'safe' },
        violence: { filtered: true, severity: 'medium' },
      },
    },
  },
};

function forward(res: ServerResponse, options: AzureFrontOptions, operation: string, body: Record<string, unknown>): void {
  const target = options.target();
  if (!target) return sendJson(res, 503, { error: { code: 'NoTarget', message: 'azure front has no target' } });
  const text = JSON.stringify(body);
  const upstream = httpRequest(`${target}/${operation}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), authorization: `Bearer ${options.upstreamKey}` },
  });
  upstream.on('response', (up: IncomingMessage) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  res.on('close', () => upstream.destroy());
  upstream.end(text);
}

export function startAzureFront(options: AzureFrontOptions): Promise<AzureFront> {
  const requests: AzureRecorded[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://azure.local');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return sendJson(res, 400, { error: { code: 'BadRequest', message: 'invalid JSON' } });
      }
      const apiVersion = url.searchParams.get('api-version');
      requests.push({ path: url.pathname, apiVersion, headers: req.headers, body });
      if (req.headers['api-key'] !== options.apiKey) {
        return sendJson(res, 401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } });
      }
      const dated = DEPLOYMENT_ROUTE.exec(url.pathname);
      const v1 = V1_ROUTE.exec(url.pathname);
      let operation: string;
      if (dated?.[1] && dated[2]) {
        if (!apiVersion) return sendJson(res, 404, { error: { code: '404', message: 'Resource not found' } });
        operation = dated[2];
        body = { ...body, model: decodeURIComponent(dated[1]) };
      } else if (v1?.[1]) {
        if (apiVersion !== null && apiVersion !== 'v1' && apiVersion !== 'preview') {
          return sendJson(res, 400, { error: { code: 'BadRequest', message: `API version not supported: ${apiVersion}` } });
        }
        if (typeof body.model !== 'string' || body.model === '') return sendJson(res, 400, { error: { code: 'BadRequest', message: 'model is required' } });
        operation = v1[1];
      } else {
        return sendJson(res, 404, { error: { code: '404', message: 'Resource not found' } });
      }
      if (operation === 'chat/completions' && lastUserText(body).includes('#content_filter')) return sendJson(res, 400, CONTENT_FILTER_ERROR);
      forward(res, options, operation, body);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
