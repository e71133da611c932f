/**
 * A minimal OpenAI-compatible upstream on a real socket for load-shape tests (test/event-loop.test.ts), cheap
 * enough not to disturb what those tests measure in the same process:
 *   - `{url}/sink/…`:     reads and discards the request body without parsing it (a 20 MB prompt costs it nothing),
 *                         then answers POST /chat/completions with a fixed one-word completion (usage included) and
 *                         POST /embeddings with one fixed vector; wire format as
 *                         https://platform.openai.com/docs/api-reference/chat/create and …/embeddings/create.
 *   - `{url}/firehose/…`: answers POST /chat/completions with an endless chat.completion.chunk stream
 *                         (https://platform.openai.com/docs/api-reference/chat-streaming) whose content is one
 *                         unbroken run of letters, never a usage chunk nor [DONE]; it writes only while its socket
 *                         accepts (honouring backpressure) and counts what it wrote, so a test sees whether the
 *                         gateway keeps reading from it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Firehose {
  url: string;
  /** Bytes of stream written by the firehose so far (all streams). */
  written(): number;
  /** Firehose streams whose connection is still open. */
  openStreams(): number;
  close(): Promise<void>;
}

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-sink', object: 'chat.completion', created: 0, model: 'sink',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});
const EMBEDDING = JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, 0.5, 0.5, 0.5] }], model: 'sink', usage: { prompt_tokens: 1, total_tokens: 1 } });
/** 16 KiB of one letter per frame: a single pre-token that never ends. */
const FRAME = `data: ${JSON.stringify({ id: 'chatcmpl-fh', object: 'chat.completion.chunk', created: 0, model: 'fh', choices: [{ index: 0, delta: { content: 'a'.repeat(16_384) }, logprobs: null, finish_reason: null }] })}\n\n`;
const ROLE = `data: ${JSON.stringify({ id: 'chatcmpl-fh', object: 'chat.completion.chunk', created: 0, model: 'fh', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] })}\n\n`;

function json(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startFirehose(): Promise<Firehose> {
  let written = 0;
  let open = 0;
  const sockets = new Set<Socket>();

  const firehose = (req: IncomingMessage, res: ServerResponse): void => {
    open += 1;
    let closed = false;
    res.on('close', () => {
      closed = true;
      open -= 1;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(ROLE);
    const pump = (): void => {
      while (!closed) {
        written += FRAME.length;
        if (!res.write(FRAME)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  };

  const server = createServer((req, res) => {
    const path = req.url ?? '';
    req.on('data', () => undefined);
    req.on('end', () => {
      if (path === '/sink/chat/completions') json(res, COMPLETION);
      else if (path === '/sink/embeddings') json(res, EMBEDDING);
      else if (path === '/firehose/chat/completions') firehose(req, res);
      else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"not found","type":"invalid_request_error","code":null,"param":null}}');
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    written: () => written,
    openStreams: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
