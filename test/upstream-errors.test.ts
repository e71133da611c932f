// What a client sees of an upstream's error (issue 11 finding 4), through real mock upstreams and the official
// SDKs, in the three client dialects, as JSON answers and in streams (translated and passed through): a fixed
// message with the request id for the operator's problems (429, 401/403, 5xx, transport), the scrubbed upstream
// message for the caller's own mistakes (400…); the operator reads the upstream's summary in
// GET /admin/v1/requests/{id}. SQLite always; PostgreSQL too with SWITCHYARD_TEST_PG=1.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultYaml, startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { startMockAnthropic, type MockAnthropic } from './upstreams/anthropic.ts';
import type { MockFault } from './upstreams/common.ts';
import { startMockOpenAI, type MockOpenAI } from './upstreams/openai.ts';
import { startMockResponses, type MockResponses } from './upstreams/openai-responses.ts';

const backends: Array<'sqlite' | 'postgres'> = process.env.SWITCHYARD_TEST_PG === '1' ? ['sqlite', 'postgres'] : ['sqlite'];

const ORG_ID = 'org-uOtiSEwvUnroadaOnJJquBEC';
const OPENAI_429 = `Rate limit reached for gpt-4o in organization ${ORG_ID} on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms. Visit https://platform.openai.com/account/rate-limits to learn more.`;
const ANTHROPIC_ORG = '0dccdde6-f924-4f1b-bb3b-92ef846e0a5b';
const ANTHROPIC_429 = `This request would exceed the rate limit for your organization (${ANTHROPIC_ORG}) of 20,000 input tokens per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits.`;
const INTERNAL_500 = 'upstream connect error: inference-7.us-east-1.compute.internal (10.0.3.7:8443) refused the connection';
const RATE_LIMITED = 'The upstream provider is rate limiting this model; retry later';
const FAILED = 'The upstream provider failed to answer; retry later';
const CREDENTIALS = "The upstream provider refused the gateway's credentials for this model";

type Json = Record<string, unknown>;
const requestIdOf = (headers: Headers | undefined): string => {
  const id = headers?.get('x-switchyard-request-id');
  if (!id) throw new Error('no x-switchyard-request-id');
  return id;
};

/** The fixed message of a class with this request's id, and none of what the upstream wrote. */
function expectFixed(message: string, fixed: string, requestId: string, ...upstreamText: string[]): void {
  expect(message).toContain(fixed);
  expect(message).toContain(`(request ${requestId}).`);
  for (const text of upstreamText) expect(message).not.toContain(text);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe.each(backends)('upstream errors (%s)', (backend) => {
  let t: TestGateway;
  let faulty: MockOpenAI;
  let claude: MockAnthropic;
  let responses: MockResponses;
  let openaiFault: MockFault | undefined;
  let anthropicFault: MockFault | undefined;
  let key: string;

  const openai = (): OpenAI => t.client(key);
  const anthropic = (): Anthropic => new Anthropic({ apiKey: key, baseURL: t.url, maxRetries: 0, timeout: 20_000 });
  const requestView = async (id: string): Promise<{ status: number; json: Json }> => t.admin('GET', `/requests/${id}`);
  const upstreamOf = async (id: string): Promise<Json | null> => (await requestView(id)).json.upstream_error as Json | null;

  beforeAll(async () => {
    faulty = await startMockOpenAI({ apiKey: 'sk-faulty-upstream', fault: () => openaiFault });
    claude = await startMockAnthropic({ apiKey: 'sk-ant-upstream', fault: () => anthropicFault });
    responses = await startMockResponses('sk-openai-upstream');
    t = await startTestGateway({
      backend,
      yaml: (mockUrl) =>
        defaultYaml(
          mockUrl,
          `  - { id: faulty, type: openai-compatible, base_url: ${faulty.url}, api_key: sk-faulty-upstream }
  - { id: dead, type: openai-compatible, base_url: "http://127.0.0.1:9/v1", api_key: sk-dead }
  - { id: claude-direct, type: anthropic, base_url: ${claude.url}, api_key: sk-ant-upstream }
  - { id: openai-direct, type: openai, base_url: ${responses.url}, api_key: sk-openai-upstream }`,
          `  - { id: faulty-model, channels: [{ provider: faulty, upstream_model: gpt-4o }], price: { input_per_mtok_usd: 1, output_per_mtok_usd: 1 } }
  - { id: dead-model, channels: [{ provider: dead }], price: { input_per_mtok_usd: 1, output_per_mtok_usd: 1 } }
  - { id: faulty-embeddings, kind: embeddings, channels: [{ provider: faulty, upstream_model: text-embedding-3-small }], price: { input_per_mtok_usd: 0.02 } }
  - { id: claude-sonnet, max_output_tokens: 1000, channels: [{ provider: claude-direct, upstream_model: claude-sonnet-4-5 }], price: { input_per_mtok_usd: 3, output_per_mtok_usd: 15 } }
  - { id: gpt-5, max_output_tokens: 1000, channels: [{ provider: openai-direct, upstream_model: gpt-5-2025-08-07 }], price: { input_per_mtok_usd: 1.25, output_per_mtok_usd: 10 } }`,
        ),
    });
    ({ key } = await t.newUser('100'));
  });
  afterEach(() => {
    openaiFault = undefined;
    anthropicFault = undefined;
  });
  afterAll(async () => {
    await t?.close();
    await faulty?.close();
    await claude?.close();
    await responses?.close();
  });

  const chat = (model: string, content: string) => openai().chat.completions.create({ model, messages: [{ role: 'user', content }], max_tokens: 20 });

  describe('JSON answers (OpenAI chat)', () => {
    it('429 naming the organization → a fixed message with the request id; the operator sees the scrubbed summary', async () => {
      openaiFault = { status: 429, message: OPENAI_429, retryAfter: 3 };
      const err = await chat('faulty-model', 'hi').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      const error = err as InstanceType<typeof OpenAI.RateLimitError>;
      const id = requestIdOf(error.headers);
      expectFixed(error.message, RATE_LIMITED, id, ORG_ID, 'Rate limit reached', 'platform.openai.com');
      expect(error.code).toBe('upstream_rate_limited');
      expect(error.headers?.get('retry-after')).toBe('3');

      const view = await requestView(id);
      expect(view.status).toBe(200);
      expect(view.json).toMatchObject({ object: 'request', request_id: id, status: 'error', http_status: 429, error_code: 'upstream_rate_limited', model: 'faulty-model' });
      expect(view.json.upstream_error).toEqual({
        status: 429,
        code: 'rate_limit_exceeded',
        message: 'Rate limit reached for gpt-4o in organization [org] on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms. Visit [url] to…',
      });
      // The listing shows it too.
      const listed = ((await t.admin('GET', '/usage?limit=5')).json.data as Json[]).find((e) => e.request_id === id);
      expect(listed?.upstream_error).toEqual(view.json.upstream_error);
    });

    it('500 naming an internal host → a fixed message; 401 → the credentials message', async () => {
      openaiFault = { status: 500, message: INTERNAL_500 };
      const err = (await chat('faulty-model', 'hi').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(502);
      const id = requestIdOf(err.headers);
      expectFixed(err.message, FAILED, id, 'compute.internal', '10.0.3.7', 'refused the connection');
      expect(await upstreamOf(id)).toEqual({ status: 500, code: 'server_error', message: 'upstream connect error: [host] ([ip]) refused the connection' });

      openaiFault = { status: 401 };
      const auth = (await chat('faulty-model', 'hi').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expectFixed(auth.message, CREDENTIALS, requestIdOf(auth.headers), 'Incorrect API key', 'platform.openai.com');
      expect(await upstreamOf(requestIdOf(auth.headers))).toMatchObject({ status: 401, code: 'invalid_api_key', message: 'Incorrect API key provided. You can find your API key at [url].' });
    });

    it('embeddings: the same classes, the same messages', async () => {
      openaiFault = { status: 429, message: OPENAI_429 };
      const err = (await openai().embeddings.create({ model: 'faulty-embeddings', input: 'hi' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      const id = requestIdOf(err.headers);
      expectFixed(err.message, RATE_LIMITED, id, ORG_ID, 'Rate limit reached');
      expect(await upstreamOf(id)).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    });

    it('an unreachable upstream → a fixed message without its address; the operator sees the transport failure', async () => {
      const err = (await chat('dead-model', 'hi').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      const id = requestIdOf(err.headers);
      expectFixed(err.message, FAILED, id, '127.0.0.1', 'ECONNREFUSED');
      const upstream = await upstreamOf(id);
      expect(upstream).toMatchObject({ status: null, code: 'connect' });
      expect(String(upstream?.message)).not.toContain('127.0.0.1');
    });

    it('400 quoting the prompt and a URL → the scrubbed upstream message; the prompt reaches no file', async () => {
      const canary = `CANARY-${Math.random().toString(36).slice(2)}`;
      openaiFault = { status: 400, message: `Invalid 'messages[0].content': "${canary} tell nobody" is not allowed here, see https://platform.openai.com/docs/guides/safety?org=${ORG_ID}` };
      const err = (await chat('faulty-model', `${canary} tell nobody`).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.code).toBe('upstream_rejected');
      const scrubbed = "Invalid 'messages[0].content': […] is not allowed here, see [url]";
      expect(err.message).toContain(`upstream returned 400 (invalid_request_error): ${scrubbed}`);
      expect(err.message).not.toContain(canary);
      expect(err.message).not.toContain(ORG_ID);
      expect(await upstreamOf(requestIdOf(err.headers))).toEqual({ status: 400, code: 'invalid_request_error', message: scrubbed });
      if (backend === 'sqlite') {
        for (const file of filesUnder(t.dataDir)) expect(readFileSync(file).includes(Buffer.from(canary)), `${file} contains the canary`).toBe(false);
      }
      expect(t.logs()).not.toContain(canary);
    });
  });

  describe('JSON answers (Anthropic messages, OpenAI responses)', () => {
    it('messages: 429 naming the organization → the fixed message and the request id, in Anthropic’s shape', async () => {
      anthropicFault = { status: 429, message: ANTHROPIC_429 };
      const err = await anthropic().messages.create({ model: 'claude-sonnet', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.RateLimitError);
      const error = err as InstanceType<typeof Anthropic.RateLimitError>;
      const id = requestIdOf(error.headers);
      expectFixed(error.message, RATE_LIMITED, id, ANTHROPIC_ORG, 'anthropic.com', 'would exceed');
      expect(error.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' }, request_id: id });
      expect(await upstreamOf(id)).toEqual({
        status: 429,
        code: 'rate_limit_error',
        message: 'This request would exceed the rate limit for your organization ([id]) of 20,000 input tokens per minute. For details, refer to: [url].',
      });
    });

    it('messages: 400 quoting the prompt → the scrubbed message', async () => {
      anthropicFault = { status: 400, message: 'messages.0.content: "please summarize my medical record" is not a valid block, see https://docs.anthropic.com/en/api/messages' };
      const err = (await anthropic().messages.create({ model: 'claude-sonnet', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.BadRequestError>;
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect(err.message).toContain('messages.0.content: […] is not a valid block, see [url]');
      expect(err.message).not.toContain('medical record');
    });

    it('responses: a 429 of a translated upstream and a 5xx of a passed-through one → fixed messages', async () => {
      openaiFault = { status: 429, message: OPENAI_429 };
      const limited = (await openai().responses.create({ model: 'faulty-model', input: 'hi' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
      expectFixed(limited.message, RATE_LIMITED, requestIdOf(limited.headers), ORG_ID, 'Rate limit reached');
      const failed = (await openai().responses.create({ model: 'gpt-5', input: '#status:503' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(failed.status).toBe(502);
      expectFixed(failed.message, FAILED, requestIdOf(failed.headers), 'mock failure');
      expect(await upstreamOf(requestIdOf(failed.headers))).toEqual({ status: 503, code: 'server_error', message: 'mock failure' });
    });
  });

  describe('streams: the error event is the gateway’s, never the upstream’s', () => {
    it('OpenAI chat, translated from an OpenAI-compatible upstream', async () => {
      const { data: stream, response } = await openai().chat.completions.create({ model: 'faulty-model', stream: true, messages: [{ role: 'user', content: '#words:5 #error_event' }] }).withResponse();
      const id = requestIdOf(response.headers);
      const text: string[] = [];
      const err = await (async () => {
        for await (const chunk of stream) text.push(chunk.choices[0]?.delta.content ?? '');
      })().catch((e: unknown) => e);
      expect(text.join('')).toBe('w1');
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expectFixed((err as Error).message, FAILED, id, 'The server had an error');
      expect(await upstreamOf(id)).toEqual({ status: null, code: 'server_error', message: 'The server had an error while processing your request. Sorry about that!' });
    });

    it('Anthropic messages, translated from an OpenAI-compatible upstream', async () => {
      const { data: stream, response } = await anthropic().messages.create({ model: 'faulty-model', max_tokens: 20, stream: true, messages: [{ role: 'user', content: '#words:5 #error_event' }] }).withResponse();
      const err = await (async () => {
        for await (const event of stream) void event;
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expectFixed((err as Error).message, FAILED, requestIdOf(response.headers), 'The server had an error');
    });

    it('Anthropic messages passed through: the upstream’s error event is replaced', async () => {
      const res = await fetch(`${t.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet', max_tokens: 50, stream: true, messages: [{ role: 'user', content: '#words:6 #error_event' }] }),
      });
      const id = requestIdOf(res.headers);
      const events = (await res.text()).trim().split('\n\n');
      expect(events[0]).toMatch(/^event: message_start/);
      const errors = events.filter((e) => e.startsWith('event: error'));
      expect(errors).toHaveLength(1);
      expect(events.at(-1)).toBe(errors[0]);
      const data = JSON.parse(errors[0]?.split('\ndata: ')[1] ?? '{}') as { type: string; error: { type: string; message: string } };
      expect(data.type).toBe('error');
      expect(data.error.type).toBe('api_error');
      expectFixed(data.error.message, FAILED, id, 'Overloaded');
      expect(await upstreamOf(id)).toMatchObject({ code: 'overloaded_error', message: 'Overloaded' });

      // The SDK reads it as an error, with the gateway's message.
      const { data: stream } = await anthropic().messages.create({ model: 'claude-sonnet', max_tokens: 50, stream: true, messages: [{ role: 'user', content: '#words:6 #error_event' }] }).withResponse();
      const err = await (async () => {
        for await (const event of stream) void event;
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect((err as Error).message).toContain(FAILED);
    });

    it('OpenAI responses, translated and passed through', async () => {
      const collect = async (model: string): Promise<{ id: string; err: unknown; types: string[] }> => {
        const { data: stream, response } = await openai().responses.create({ model, input: '#words:5 #error_event', stream: true }).withResponse();
        const types: string[] = [];
        const err = await (async () => {
          for await (const event of stream) types.push(event.type);
        })().catch((e: unknown) => e);
        return { id: requestIdOf(response.headers), err, types };
      };
      const translated = await collect('faulty-model');
      expect(translated.types).toContain('response.failed');
      expect(translated.err).toBeInstanceOf(OpenAI.APIError);
      expectFixed((translated.err as Error).message, FAILED, translated.id, 'The server had an error');

      const passed = await collect('gpt-5');
      expect(passed.types).toContain('response.output_text.delta');
      expect(passed.err).toBeInstanceOf(OpenAI.APIError);
      expectFixed((passed.err as Error).message, FAILED, passed.id, 'The model had an error');
      expect(await upstreamOf(passed.id)).toEqual({ status: null, code: 'server_error', message: 'The model had an error.' });
    });
  });

  describe('the admin view of a request', () => {
    it('shows a successful request without an upstream error, and answers 404 for an unknown id', async () => {
      const { response } = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }).withResponse();
      const id = requestIdOf(response.headers);
      const view = await requestView(id);
      expect(view.json).toMatchObject({ object: 'request', request_id: id, status: 'ok', http_status: 200, upstream_error: null });
      const missing = await requestView('req_00000000000000000000000000000000');
      expect(missing.status).toBe(404);
      expect((missing.json.error as Json).code).toBe('not_found');
    });
  });
});
