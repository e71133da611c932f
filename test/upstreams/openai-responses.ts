/**
 * A mock of OpenAI's Responses API (POST /v1/responses) on a real socket, for the pass-through tests.
 *   https://platform.openai.com/docs/api-reference/responses/create
 *   https://platform.openai.com/docs/api-reference/responses-streaming
 * Auth: `Authorization: Bearer <apiKey>`, else 401 in OpenAI's error shape.
 * Directives in the last user text: `#reply:<text>` (rest of the line), `#words:N`, `#tool:<name>:<json>`,
 * `#status:<code>`, `#error_event` (stream: an `error` event after the first delta), `#cut:N` (stream: the socket
 * is destroyed after N deltas). Token counts: input = ceil(characters / 4) + 3; output = words of the reply or
 * characters of the tool arguments / 4 (rounded up).
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MockResponses {
  url: string;
  requests: Array<{ path: string; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

function lastUserText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  for (const item of [...(input as Json[])].reverse()) {
    if (item.role !== 'user') continue;
    if (typeof item.content === 'string') return item.content;
    if (Array.isArray(item.content)) return (item.content as Json[]).filter((p) => p.type === 'input_text').map((p) => String(p.text)).join('\n');
  }
  return '';
}

export function startMockResponses(apiKey: string): Promise<MockResponses> {
  const requests: MockResponses['requests'] = [];
  let counter = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Json;
      requests.push({ path: req.url ?? '', headers: req.headers, body });
      const send = (status: number, payload: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (req.headers.authorization !== `Bearer ${apiKey}`) return send(401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
      if (req.method !== 'POST' || req.url !== '/v1/responses') return send(404, { error: { message: 'Invalid URL', type: 'invalid_request_error', param: null, code: null } });
      const text = lastUserText(body.input);
      const status = /#status:(\d{3})/.exec(text);
      if (status) return send(Number(status[1]), { error: { message: 'mock failure', type: 'server_error', param: null, code: null } });
      respond(res, body, text, ++counter);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}/v1`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function respond(res: ServerResponse, body: Json, text: string, n: number): void {
  const tool = /#tool:([\w-]+):(.*)$/m.exec(text);
  const words = /#words:(\d+)/.exec(text);
  const reply = /#reply:(.*)$/m.exec(text)?.[1] ?? (words ? Array.from({ length: Number(words[1]) }, (_, i) => `w${i + 1}`).join(' ') : 'Hello from mock.');
  const inputTokens = Math.ceil(JSON.stringify(body.input ?? '').length / 4) + 3;
  const id = `resp_mock${n}`;
  const itemId = tool ? `fc_mock${n}` : `msg_mock${n}`;
  const pieces = tool ? [tool[2] ?? '{}'] : reply.split(/(?= )/);
  const outputTokens = tool ? Math.ceil((tool[2] ?? '').length / 4) : reply.split(' ').length;
  const usage = { input_tokens: inputTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: outputTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: inputTokens + outputTokens };
  const item = tool
    ? { id: itemId, type: 'function_call', status: 'completed', call_id: `call_mock${n}`, name: tool[1], arguments: tool[2] ?? '{}' }
    : { id: itemId, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: reply, annotations: [] }] };
  const response = (status: string, output: unknown[], withUsage: boolean): Json => ({
    id, object: 'response', created_at: 1_700_000_000 + n, status, model: body.model, output, error: null, incomplete_details: null,
    instructions: null, metadata: {}, parallel_tool_calls: true, temperature: 1, tool_choice: 'auto', tools: [], top_p: 1,
    ...(withUsage ? { usage } : {}),
  });
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(response('completed', [item], true)));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let seq = 0;
  const out: string[] = [];
  const event = (type: string, data: Json): void => {
    out.push(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
  };
  event('response.created', { response: response('in_progress', [], false) });
  event('response.in_progress', { response: response('in_progress', [], false) });
  const opened = tool ? { ...item, status: 'in_progress', arguments: '' } : { ...item, status: 'in_progress', content: [] };
  event('response.output_item.added', { output_index: 0, item: opened });
  if (!tool) event('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
  const cut = /#cut:(\d+)/.exec(text);
  pieces.forEach((delta, i) => {
    if (cut && i === Number(cut[1])) out.push('CUT');
    if (tool) event('response.function_call_arguments.delta', { item_id: itemId, output_index: 0, delta });
    else event('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta, logprobs: [] });
    if (i === 0 && text.includes('#error_event')) {
      event('error', { code: 'server_error', message: 'The model had an error.', param: null });
      out.push('END');
    }
  });
  if (tool) event('response.function_call_arguments.done', { item_id: itemId, output_index: 0, arguments: tool[2] ?? '{}' });
  else {
    event('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text: reply, logprobs: [] });
    event('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text: reply, annotations: [] } });
  }
  event('response.output_item.done', { output_index: 0, item });
  event('response.completed', { response: response('completed', [item], true) });
  for (const piece of out) {
    // Let what was written reach the client before the connection drops mid-stream.
    if (piece === 'CUT') return void setTimeout(() => res.destroy(), 50);
    if (piece === 'END') return void res.end();
    res.write(piece);
  }
  res.end();
}
