// The Node.js floor: the thinnest proxy that can be built from the gateway's own HTTP server (Fastify 5) and
// client (undici 7), with none of its logic — no auth, no billing, no database, no validation, no token counting.
// What it reaches is the fastest a Node.js proxy of that make goes on this machine (see bench/README.md).
//
//   node --import tsx bench/node-floor.ts UPSTREAM_ORIGIN UPSTREAM_API_KEY [PORT]
//     e.g. node --import tsx bench/node-floor.ts http://127.0.0.1:8081 bench-upstream-key 0
//
// `POST /v1/chat/completions` is sent to UPSTREAM_ORIGIN + `/v1/chat/completions` over a keep-alive undici Agent
// with `Authorization: Bearer UPSTREAM_API_KEY`, the request body forwarded as received. JSON: the upstream JSON
// is read and sent back (`reply.send(json)`). SSE (`"stream": true` in the body): `reply.hijack()`, 200 +
// `text/event-stream`, then the upstream body's chunks are written to the client as they come.
//
// Prints one line `{"port":N}` on stdout when listening (PORT 0 or absent: any free port). Stops on
// SIGTERM/SIGINT, and when the parent that started it with an IPC channel goes away.
import Fastify from 'fastify';
import { Agent, request } from 'undici';

const [upstreamArg, apiKey, portArg] = process.argv.slice(2);
const port = Number(portArg ?? '0');
let upstream: URL;
try {
  upstream = new URL('/v1/chat/completions', upstreamArg);
} catch {
  process.stderr.write(`node-floor: bad upstream URL ${upstreamArg ?? '(missing)'}\nusage: node-floor.ts UPSTREAM_ORIGIN UPSTREAM_API_KEY [PORT]\n`);
  process.exit(2);
}
if (apiKey === undefined || apiKey === '') {
  process.stderr.write('node-floor: missing UPSTREAM_API_KEY\nusage: node-floor.ts UPSTREAM_ORIGIN UPSTREAM_API_KEY [PORT]\n');
  process.exit(2);
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`node-floor: bad port ${portArg ?? ''}\n`);
  process.exit(2);
}

// The same Agent settings as the gateway's UpstreamClient (src/upstream/client.ts).
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, pipelining: 1, connections: null });
const upstreamHeaders = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

interface ParsedBody {
  raw: Buffer;
  stream: boolean;
}

// The same server options as the gateway's buildApp (src/app.ts) that matter here; no logger at all.
const app = Fastify({ logger: false, keepAliveTimeout: 65_000, requestTimeout: 0 });

// The body is parsed once, only to read `stream`, and forwarded as the bytes received.
app.removeContentTypeParser('application/json');
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
  try {
    const json = JSON.parse(body.toString('utf8')) as { stream?: unknown } | null;
    done(null, { raw: body, stream: json !== null && typeof json === 'object' && json.stream === true } satisfies ParsedBody);
  } catch (error) {
    done(error as Error, undefined);
  }
});

let clientAborts = 0;

app.post('/v1/chat/completions', async (req, reply) => {
  const body = req.body as ParsedBody;
  const res = await request(upstream, { method: 'POST', headers: upstreamHeaders, body: body.raw, dispatcher: agent });

  if (!body.stream || res.statusCode !== 200) {
    const json: unknown = await res.body.json();
    return reply.code(res.statusCode).send(json);
  }

  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  try {
    for await (const chunk of res.body) {
      // A client that went away (autocannon closes its connections at the end of each run): stop reading,
      // which destroys the upstream body.
      if (raw.destroyed) {
        clientAborts += 1;
        break;
      }
      if (!raw.write(chunk as Buffer) && !raw.destroyed) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            raw.off('drain', done);
            raw.off('close', done);
            resolve();
          };
          raw.on('drain', done);
          raw.on('close', done);
        });
      }
    }
    raw.end();
  } catch {
    clientAborts += 1;
    raw.destroy();
  }
  return reply;
});

// Errors before the hijack, without logging: a bad request body → 400, anything else (upstream unreachable…) → 502.
app.setErrorHandler((error, _request, reply) => {
  if (reply.raw.destroyed) return;
  const status = error instanceof SyntaxError ? 400 : 502;
  void reply.code(status).send({ error: { message: (error as Error).message, type: 'node_floor_error' } });
});

await app.listen({ port, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : port })}\n`);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(0), 2000);
  force.unref();
  process.stderr.write(`node-floor: stopping (${clientAborts} requests ended by the client going away)\n`);
  Promise.all([app.close(), agent.close()]).then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
