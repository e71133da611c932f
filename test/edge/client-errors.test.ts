// Errors the framework or Node itself answers — a bad %-escape, unknown routes and methods, URLs and headers
// too large, broken HTTP framing, bodies too large or of the wrong type — sent on raw sockets: each gets the
// right status and a JSON body in the client protocol's shape (Anthropic's under /v1/messages), never 5xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { exchange, expectAnthropicError, expectOpenAIError, head, parseResponse } from '../helpers/raw-http.ts';

describe('framework and protocol errors in the client’s shape', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  const send = async (...steps: Array<string | Buffer>) => (await exchange(t.url, steps, 10_000, { firstResponse: true })).response;

  it('answers a malformed %-escape in the path with 400', async () => {
    expectOpenAIError(await send(head('GET', '/v1/models/%zz')), 400, 'invalid_request');
    expectAnthropicError(await send(head('POST', '/v1/messages/%E0%A4%A', { 'content-length': 2 }), '{}'), 400, 'invalid_request_error');
  });

  it('answers unknown routes 404 and known routes asked with the wrong method 405 with Allow', async () => {
    expectOpenAIError(await send(head('GET', '/v1/nothing-here')), 404, 'not_found');
    expectAnthropicError(await send(head('GET', '/v1/messages/batches')), 404, 'not_found_error');
    const wrongMethod = await send(head('GET', '/v1/chat/completions'));
    expectOpenAIError(wrongMethod, 405, 'method_not_allowed');
    expect(wrongMethod?.headers.allow).toBe('POST');
    const anthropic = await send(head('PUT', '/v1/messages', { 'content-length': 0 }));
    expectAnthropicError(anthropic, 405, 'invalid_request_error');
    expectOpenAIError(await send(head('DELETE', '/admin/v1/users')), 405, 'method_not_allowed');
  });

  it('answers 414 to a URL over the limit, whether Node parsed it or not', async () => {
    expectOpenAIError(await send(head('GET', `/v1/models?pad=${'a'.repeat(10_000)}`)), 414, 'uri_too_long');
    expectAnthropicError(await send(head('POST', `/v1/messages?pad=${'a'.repeat(10_000)}`, { 'content-length': 0 })), 414, 'invalid_request_error');
    // Beyond Node's 16 KB header limit the parser fails on the request line itself.
    const huge = await exchange(t.url, [head('GET', `/v1/models?pad=${'a'.repeat(40_000)}`)], 10_000);
    expectOpenAIError(huge.response, 414, 'uri_too_long');
    expect(huge.closed).toBe(true);
  });

  it('answers 431 to headers over the limit and closes the connection', async () => {
    const r = await exchange(t.url, [head('GET', '/v1/models', { 'x-big': 'b'.repeat(40_000) })], 10_000);
    expectOpenAIError(r.response, 431, 'headers_too_large');
    expect(r.closed).toBe(true);
    const anthropic = await exchange(t.url, [head('POST', '/v1/messages', { 'x-big': 'b'.repeat(40_000) })], 10_000);
    expectAnthropicError(anthropic.response, 431, 'invalid_request_error');
  });

  it.each([
    ['a garbage request line', 'HELLO THERE\r\n\r\n'],
    ['an invalid method token', 'G(T / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a non-numeric Content-Length', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
    ['Content-Length and Transfer-Encoding together', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ['a broken chunk size', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'],
    ['a bare LF header', 'GET /v1/models HTTP/1.1\nHost: x\n\n'],
    ['an unknown HTTP version', 'GET /v1/models HTTP/7.0\r\nHost: x\r\n\r\n'],
  ])('answers %s with 400 in OpenAI shape and closes', async (_name, request) => {
    const r = await exchange(t.url, [request], 10_000);
    expectOpenAIError(r.response, 400, 'invalid_request');
    expect(r.closed).toBe(true);
  });

  it('answers broken framing under /v1/messages in Anthropic shape', async () => {
    const r = await exchange(t.url, ['POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'], 10_000);
    expectAnthropicError(r.response, 400, 'invalid_request_error');
  });

  it('answers 413 before reading a body declared too large, and 415 to a content type it does not parse', async () => {
    const big = await exchange(t.url, [head('POST', '/v1/chat/completions', { 'content-type': 'application/json', 'content-length': 50_000_000 })], 10_000);
    expectOpenAIError(big.response, 413, 'request_too_large');
    expect(big.response?.headers.connection).toBe('close');
    expectAnthropicError(await send(head('POST', '/v1/messages', { 'content-type': 'application/json', 'content-length': 50_000_000 })), 413, 'request_too_large');
    expectOpenAIError(await send(head('POST', '/v1/chat/completions', { 'content-type': 'text/xml', 'content-length': 7 }), '<a></a>'), 415, 'unsupported_media_type');
    const form = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': 3, authorization: `Bearer ${ADMIN_TOKEN}` };
    expectOpenAIError(await send(head('POST', '/admin/v1/users', form), 'a=b'), 415, 'unsupported_media_type');
  });
});

describe('while the gateway shuts down', () => {
  it('answers a request still arriving on an open connection 503 service_unavailable in the client’s shape', async () => {
    const t = await startTestGateway();
    try {
      const { key } = await t.newUser('10');
      const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: '#delay:1500 #reply:first' }] });
      const first = head('POST', '/v1/chat/completions', { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'content-length': Buffer.byteLength(body) }) + body;
      // The second request arrives on the connection of a slow one still in flight, after closing began.
      const pending = exchange(t.url, [first, 800, head('GET', '/v1/models', { authorization: `Bearer ${key}` })], 15_000);
      await new Promise((resolve) => setTimeout(resolve, 400));
      const closing = t.gateway.app.close();
      const r = await pending;
      await closing;
      const text = r.received.toString('latin1');
      const second = parseResponse(Buffer.from(text.slice(text.indexOf('HTTP/1.1', 10)), 'latin1'));
      expect(r.response?.status).toBe(200);
      expectOpenAIError(second, 503, 'service_unavailable');
      expect(second?.headers['retry-after']).toBe('1');
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
