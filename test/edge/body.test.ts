// Input limits on request bodies: the JSON nesting limit (checked before anything walks the body), and
// compressed bodies (gzip, deflate, br decoded; the body limit applies to the decoded size; other codings 415).
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nestsDeeperThan } from '../../src/http/edge/json.ts';
import { SUPPORTED_CODINGS } from '../../src/http/edge/body.ts';
import { defaultYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { exchange, expectAnthropicError, expectOpenAIError, head, parseResponse } from '../helpers/raw-http.ts';

const nested = (depth: number, inner = '0'): string => '['.repeat(depth) + inner + ']'.repeat(depth);

/** A JSON schema `depth` objects deep: {type: object, properties: {a: {type: object, properties: {…}}}}. */
function deepSchema(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) schema = { type: 'object', properties: { a: schema } };
  return schema;
}

describe('the JSON nesting scan', () => {
  it('counts objects and arrays, not brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan(nested(5), 5)).toBe(false);
    expect(nestsDeeperThan(nested(6), 5)).toBe(true);
    expect(nestsDeeperThan(`{"a":${nested(4)}}`, 5)).toBe(false);
    expect(nestsDeeperThan(`{"a":"${'['.repeat(100)}"}`, 5)).toBe(false);
    expect(nestsDeeperThan(`{"a":"\\"${'{'.repeat(100)}\\\\"}`, 5)).toBe(false);
    expect(nestsDeeperThan(`{"a":"\\\\"${'{'.repeat(100)}`, 5)).toBe(true); // the string ended at \\"
    expect(nestsDeeperThan(`{"a":"unterminated ${'{'.repeat(100)}`, 5)).toBe(false); // JSON.parse reports it
  });

  it('stays linear on 20 MB of text', () => {
    const text = JSON.stringify({ messages: Array.from({ length: 2000 }, () => ({ role: 'user', content: 'x'.repeat(10_000) })) });
    const started = performance.now();
    expect(nestsDeeperThan(text, 128)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000); // a few ms in practice
  });
});

describe('request bodies at the edge', () => {
  let t: TestGateway;
  let key: string;
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers }, body });
  const chat = (content: string) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });

  beforeAll(async () => {
    t = await startTestGateway({ yaml: (u) => `${defaultYaml(u)}\nserver:\n  max_json_depth: 64\n` });
    key = (await t.newUser('100')).key;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 400 invalid_request to a body nested 100,000 deep, in each protocol’s shape', async () => {
    const deep = `{"model":"gpt-4o-mini","max_tokens":5,"messages":${nested(100_000)}}`;
    const openai = await post('/v1/chat/completions', deep);
    expect(openai.status).toBe(400);
    const body = (await openai.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('deeper than 64 levels') });
    const anthropic = await post('/v1/messages', deep);
    const raw = parseResponse(Buffer.from(`HTTP/1.1 ${anthropic.status} X\r\n\r\n${await anthropic.text()}`));
    expectAnthropicError(raw, 400, 'invalid_request_error');
    expect(t.mock.requests.length).toBe(0);
  });

  it('refuses one level over the limit and serves a deeply nested but legitimate tool schema', async () => {
    expect((await post('/v1/chat/completions', `{"model":"gpt-4o-mini","metadata":${nested(64)}}`)).status).toBe(400);
    const tools = [{ type: 'function', function: { name: 'deep', parameters: deepSchema(25) } }];
    const ok = await post('/v1/chat/completions', JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#reply:deep ok' }], tools }));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toBe('deep ok');
  });

  it.each([
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('decodes a %s body', async (coding, compress) => {
    const res = await post('/v1/chat/completions', compress(Buffer.from(chat(`#reply:${coding} decoded`))), { 'content-encoding': coding });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toBe(`${coding} decoded`);
  });

  it('answers a gzip bomb 413 at the decoded limit, quickly, and closes the connection', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)); // 64 MB of spaces in ~65 KB; the limit is 20 MB
    const started = Date.now();
    const r = await exchange(t.url, [head('POST', '/v1/chat/completions', { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length }), bomb], 15_000);
    expectOpenAIError(r.response, 413, 'request_too_large');
    expect(r.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('answers 415 to codings it cannot decode, in each protocol’s shape', async () => {
    for (const coding of ['compress', 'gzip, br', ...(SUPPORTED_CODINGS.includes('zstd') ? [] : ['zstd'])]) {
      const res = await post('/v1/chat/completions', chat('hi'), { 'content-encoding': coding });
      expect([coding, res.status]).toEqual([coding, 415]);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
    }
    const anthropic = await post('/v1/messages', chat('hi'), { 'content-encoding': 'compress' });
    expectAnthropicError(parseResponse(Buffer.from(`HTTP/1.1 ${anthropic.status} X\r\n\r\n${await anthropic.text()}`)), 415, 'invalid_request_error');
  });

  it('answers 400 to a body that is not the coding it claims', async () => {
    const res = await post('/v1/chat/completions', chat('not gzip at all'), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('gzip') });
  });

  it('keeps an identity body and a GET with a Content-Encoding header working', async () => {
    expect((await post('/v1/chat/completions', chat('#reply:plain'), { 'content-encoding': 'identity' })).status).toBe(200);
    expect((await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${key}`, 'content-encoding': 'compress' } })).status).toBe(200);
  });
});
