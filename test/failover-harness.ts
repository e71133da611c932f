// Shared by test/failover*.test.ts (not a test file itself): a gateway whose models each have two channels, a
// primary (priority 0) broken in one specific way and a secondary (priority 1), the three client protocols driven
// through their official SDKs (or plain HTTP when the exact SSE framing matters), and the money checks.
//
// Every case gets its own channels (channel id = provider/upstream model, and each case has its own upstream
// model names), so one case's breaker never changes another's route. The broken upstreams are one mock per
// protocol whose server-wide `fault` is chosen by the upstream model a request names: the same prompt reaches a
// healthy secondary unchanged.
import { createServer } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { countTokens } from 'gpt-tokenizer';
import OpenAI from 'openai';
import { expect } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { startTestGateway, UPSTREAM_KEY, type TestGateway } from './helpers/gateway.ts';
import { startMockAnthropic, type MockAnthropic, type MockFault } from './upstreams/anthropic.ts';
import { startMockGemini, type MockGemini } from './upstreams/gemini.ts';
import { startMockOpenAI, type MockOpenAI } from './upstreams/openai.ts';

export type Upstream = 'openai' | 'anthropic' | 'gemini';
export type ClientProtocol = 'chat' | 'messages' | 'responses';
export const UPSTREAMS: readonly Upstream[] = ['openai', 'anthropic', 'gemini'];
export const CLIENTS: readonly ClientProtocol[] = ['chat', 'messages', 'responses'];
export type { MockFault };

/** How a channel is broken: a server-wide fault of its protocol's mock, or nothing listening at all. */
export type Break = MockFault | 'refused';

export interface Route {
  upstream: Upstream;
  break: Break;
}

export interface CaseSpec {
  /** The public model id; also the primary channel's upstream model (so its channel id is unique). */
  model: string;
  primary: Route;
  /** Default: the healthy OpenAI mock (the helper's `main-openai`), upstream model `ok-<model>`. */
  secondary?: Route;
}

export const FIRST_BYTE_MS = 400;
export const IDLE_MS = 400;
/** Prices: $1 input and $2 output per million tokens → 1,000 and 2,000 micro-credits per token. */
export const INPUT_MICRO = 1000n;
export const OUTPUT_MICRO = 2000n;
export const CREDITS = '10';

const PROVIDER_TYPE: Record<Upstream, string> = { openai: 'openai-compatible', anthropic: 'anthropic', gemini: 'gemini' };
const PIECE_RE = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;

/** Tokens as the mock upstreams count them (runs of letters/digits/_, or one other non-space character). */
export const pieces = (text: string): number => text.match(PIECE_RE)?.length ?? 0;

export function primaryChannel(spec: CaseSpec): string {
  return `${spec.primary.break === 'refused' ? 'dead' : 'b'}-${spec.primary.upstream}/${spec.model}`;
}

export function secondaryChannel(spec: CaseSpec): string {
  if (!spec.secondary) return `main-openai/ok-${spec.model}`;
  return `${spec.secondary.break === 'refused' ? 'dead' : 'b'}-${spec.secondary.upstream}/${spec.model}-2`;
}

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 9;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The upstream model a recorded request names: the body's `model`, or Gemini's `/models/{model}:…` path. */
function requestedModel(request: { path: string; body: unknown }): string {
  if (isRecord(request.body) && typeof request.body.model === 'string') return request.body.model;
  return decodeURIComponent(/\/models\/([^/:]+):/.exec(request.path)?.[1] ?? '');
}

export interface FailoverGateway {
  t: TestGateway;
  broken: { openai: MockOpenAI; anthropic: MockAnthropic; gemini: MockGemini };
  /** Requests the broken mock of `upstream` received for this upstream model. */
  brokenHits(upstream: Upstream, upstreamModel: string): number;
  /** Requests the healthy OpenAI mock received for the case's secondary (`ok-<model>`). */
  secondaryHits(spec: CaseSpec): Array<{ body: unknown }>;
  close(): Promise<void>;
}

export async function startFailoverGateway(cases: readonly CaseSpec[]): Promise<FailoverGateway> {
  const faults: Record<Upstream, Map<string, MockFault>> = { openai: new Map(), anthropic: new Map(), gemini: new Map() };
  const register = (route: Route, upstreamModel: string): void => {
    if (route.break !== 'refused') faults[route.upstream].set(upstreamModel, route.break);
  };
  for (const spec of cases) {
    register(spec.primary, spec.model);
    if (spec.secondary) register(spec.secondary, `${spec.model}-2`);
  }
  const faultFor = (upstream: Upstream) => (request: { path: string; body: unknown }) => faults[upstream].get(requestedModel(request));
  const broken = {
    openai: await startMockOpenAI({ apiKey: UPSTREAM_KEY, fault: faultFor('openai') }),
    anthropic: await startMockAnthropic({ apiKey: 'ant-key', fault: faultFor('anthropic') }),
    gemini: await startMockGemini({ apiKey: 'gem-key', fault: faultFor('gemini') }),
  };
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const timeouts = `timeouts: { first_byte_ms: ${FIRST_BYTE_MS}, idle_ms: ${IDLE_MS} }`;
  const channel = (route: Route, upstreamModel: string, priority: number): string =>
    `      - { provider: ${route.break === 'refused' ? 'dead' : 'b'}-${route.upstream}, upstream_model: ${upstreamModel}, priority: ${priority} }`;
  const models = cases
    .map((spec) =>
      [
        `  - id: ${spec.model}`,
        '    max_output_tokens: 200',
        '    channels:',
        channel(spec.primary, spec.model, 0),
        spec.secondary ? channel(spec.secondary, `${spec.model}-2`, 1) : `      - { provider: main-openai, upstream_model: ok-${spec.model}, priority: 1 }`,
        '    price: { input_per_mtok_usd: 1, output_per_mtok_usd: 2 }',
      ].join('\n'),
    )
    .join('\n');
  const t = await startTestGateway({
    yaml: (mockUrl) => `
providers:
  - { id: main-openai, type: openai-compatible, base_url: ${mockUrl}, api_key: "${UPSTREAM_KEY}" }
  - { id: b-openai, type: openai-compatible, base_url: ${broken.openai.url}, api_key: "${UPSTREAM_KEY}", ${timeouts} }
  - { id: b-anthropic, type: anthropic, base_url: ${broken.anthropic.url}, api_key: ant-key, ${timeouts} }
  - { id: b-gemini, type: gemini, base_url: ${broken.gemini.url}, api_key: gem-key, ${timeouts} }
  - { id: dead-openai, type: ${PROVIDER_TYPE.openai}, base_url: ${dead}/v1, api_key: dead-key }
  - { id: dead-anthropic, type: ${PROVIDER_TYPE.anthropic}, base_url: ${dead}/v1, api_key: dead-key }
  - { id: dead-gemini, type: ${PROVIDER_TYPE.gemini}, base_url: ${dead}/v1beta, api_key: dead-key }
models:
${models}
`,
  });
  return {
    t,
    broken,
    brokenHits: (upstream, upstreamModel) => broken[upstream].requests.filter((r) => requestedModel(r) === upstreamModel).length,
    secondaryHits: (spec) => t.mock.requests.filter((r) => isRecord(r.body) && r.body.model === `ok-${spec.model}`),
    async close() {
      await t.close();
      await Promise.all([broken.openai.close(), broken.anthropic.close(), broken.gemini.close()]);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Clients: the official SDKs

export interface Answer {
  text: string;
  inputTokens: number;
  outputTokens: number;
  headers: Headers;
}

const openai = (t: TestGateway, key: string): OpenAI => new OpenAI({ apiKey: key, baseURL: `${t.url}/v1`, maxRetries: 0, timeout: 20_000 });
const anthropic = (t: TestGateway, key: string): Anthropic => new Anthropic({ apiKey: key, baseURL: t.url, maxRetries: 0, timeout: 20_000 });

/** One request through the client protocol's official SDK; throws what the SDK throws. */
export async function ask(t: TestGateway, key: string, client: ClientProtocol, model: string, prompt: string, stream: boolean): Promise<Answer> {
  if (client === 'chat') {
    const params = { model, max_tokens: 100, messages: [{ role: 'user' as const, content: prompt }] };
    if (!stream) {
      const { data, response } = await openai(t, key).chat.completions.create(params).withResponse();
      return { text: data.choices[0]?.message.content ?? '', inputTokens: data.usage?.prompt_tokens ?? -1, outputTokens: data.usage?.completion_tokens ?? -1, headers: response.headers };
    }
    const { data, response } = await openai(t, key).chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } }).withResponse();
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of data) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    return { text, inputTokens: usage?.prompt_tokens ?? -1, outputTokens: usage?.completion_tokens ?? -1, headers: response.headers };
  }
  if (client === 'messages') {
    const params = { model, max_tokens: 100, messages: [{ role: 'user' as const, content: prompt }] };
    if (!stream) {
      const { data, response } = await anthropic(t, key).messages.create(params).withResponse();
      const text = data.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      return { text, inputTokens: data.usage.input_tokens, outputTokens: data.usage.output_tokens, headers: response.headers };
    }
    const { data, response } = await anthropic(t, key).messages.create({ ...params, stream: true }).withResponse();
    let text = '';
    let input = -1;
    let output = -1;
    // As the SDK's MessageStream accumulates: message_delta's usage is cumulative and wins.
    for await (const event of data) {
      if (event.type === 'message_start') {
        input = event.message.usage.input_tokens;
        output = event.message.usage.output_tokens;
      } else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
        text += event.delta.text;
      } else if (event.type === 'message_delta') {
        output = event.usage.output_tokens;
        if (event.usage.input_tokens !== null && event.usage.input_tokens !== undefined) input = event.usage.input_tokens;
      }
    }
    return { text, inputTokens: input, outputTokens: output, headers: response.headers };
  }
  const params = { model, max_output_tokens: 100, input: prompt };
  if (!stream) {
    const { data, response } = await openai(t, key).responses.create(params).withResponse();
    return { text: data.output_text, inputTokens: data.usage?.input_tokens ?? -1, outputTokens: data.usage?.output_tokens ?? -1, headers: response.headers };
  }
  const { data, response } = await openai(t, key).responses.create({ ...params, stream: true }).withResponse();
  let text = '';
  let usage: OpenAI.Responses.ResponseUsage | undefined;
  for await (const event of data) {
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed') usage = event.response.usage;
  }
  return { text, inputTokens: usage?.input_tokens ?? -1, outputTokens: usage?.output_tokens ?? -1, headers: response.headers };
}

/** The SDK's error for a request expected to fail (its HTTP status and response headers). */
export async function askFails(t: TestGateway, key: string, client: ClientProtocol, model: string, prompt: string, stream: boolean): Promise<{ status: number; headers: Headers; body: unknown }> {
  const error = await ask(t, key, client, model, prompt, stream).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (client === 'messages') {
    expect(error).toBeInstanceOf(Anthropic.APIError);
    const e = error as InstanceType<typeof Anthropic.APIError>;
    return { status: e.status ?? -1, headers: e.headers ?? new Headers(), body: e.error };
  }
  expect(error).toBeInstanceOf(OpenAI.APIError);
  const e = error as InstanceType<typeof OpenAI.APIError>;
  return { status: e.status ?? -1, headers: e.headers ?? new Headers(), body: e.error };
}

// ---------------------------------------------------------------------------------------------------------
// Plain HTTP streams, to see the exact frames a client gets

export interface SseEvent {
  event: string | undefined;
  data: string;
}

export interface RawStream {
  status: number;
  headers: Headers;
  events: SseEvent[];
}

export async function rawStream(t: TestGateway, key: string, client: ClientProtocol, model: string, prompt: string): Promise<RawStream> {
  const path = client === 'chat' ? '/v1/chat/completions' : client === 'messages' ? '/v1/messages' : '/v1/responses';
  const body =
    client === 'chat'
      ? { model, stream: true, stream_options: { include_usage: true }, max_tokens: 100, messages: [{ role: 'user', content: prompt }] }
      : client === 'messages'
        ? { model, stream: true, max_tokens: 100, messages: [{ role: 'user', content: prompt }] }
        : { model, stream: true, max_output_tokens: 100, input: prompt };
  const res = await fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      let event: string | undefined;
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      return { event, data: data.join('\n') };
    });
  return { status: res.status, headers: res.headers, events };
}

export const json = (data: string): Record<string, unknown> => {
  const parsed: unknown = JSON.parse(data);
  return isRecord(parsed) ? parsed : {};
};

/** The text a client's stream delivered, read from its own protocol's deltas. */
export function deliveredText(client: ClientProtocol, events: readonly SseEvent[]): string {
  let text = '';
  for (const { event, data } of events) {
    if (data === '[DONE]' || data === '') continue;
    const body = json(data);
    if (client === 'chat') {
      const choice: unknown = Array.isArray(body.choices) ? body.choices[0] : undefined;
      const delta = isRecord(choice) && isRecord(choice.delta) ? choice.delta : {};
      if (typeof delta.content === 'string') text += delta.content;
    } else if (client === 'messages') {
      const delta = isRecord(body.delta) ? body.delta : {};
      if (event === 'content_block_delta' && delta.type === 'text_delta' && typeof delta.text === 'string') text += delta.text;
    } else if (event === 'response.output_text.delta' && typeof body.delta === 'string') {
      text += body.delta;
    }
  }
  return text;
}

// ---------------------------------------------------------------------------------------------------------
// The attempt trail and the money

/** `x-switchyard-attempts` as [channel, outcome] pairs; every entry must carry its duration. */
export function attemptsOf(header: string | null): Array<[string, string]> {
  expect(header).toMatch(/^[^;, ]+;[a-z_]+;\d+ms(, [^;, ]+;[a-z_]+;\d+ms)*$/);
  return (header ?? '').split(', ').map((entry) => {
    const [channel = '', outcome = ''] = entry.split(';');
    return [channel, outcome];
  });
}

/** The milliseconds an attempt took, from the header. */
export function attemptMs(header: string | null, index: number): number {
  return Number(/;(\d+)ms$/.exec((header ?? '').split(', ')[index] ?? '')?.[1] ?? NaN);
}

export interface UsageEventView {
  request_id: string;
  channel: string | null;
  status: string;
  http_status: number;
  error_code: string | null;
  cost_credits: string;
  attempts: string | null;
  tokens: { input: number; cached_input: number; cache_write: number; output: number; reasoning: number };
}

/** The user's only usage event (each test uses a fresh user, so exactly one request was billed). */
export async function onlyUsageEvent(t: TestGateway, userId: string): Promise<UsageEventView> {
  const events = (await t.admin('GET', `/usage?user=${userId}`)).json.data as UsageEventView[];
  expect(events).toHaveLength(1);
  const [event] = events;
  if (!event) throw new Error('no usage event');
  return event;
}

export const costOf = (input: number, output: number): bigint => BigInt(input) * INPUT_MICRO + BigInt(output) * OUTPUT_MICRO;

/**
 * The user's ledger after one request: one hold, its release, and one capture of exactly `cost` (none when
 * `cost` is 0); the balance is the grant minus `cost` and equals the sum of the ledger.
 */
export async function expectChargedOnce(t: TestGateway, userId: string, cost: bigint): Promise<void> {
  const entries = (await t.admin('GET', `/users/${userId}/ledger?limit=1000`)).json.data as Array<{ kind: string; amount_credits: string }>;
  const requestEntries = entries.filter((e) => e.kind !== 'grant' && e.kind !== 'topup');
  expect(requestEntries.map((e) => e.kind).sort()).toEqual(cost > 0n ? ['capture', 'hold', 'release'] : ['hold', 'release']);
  const hold = requestEntries.find((e) => e.kind === 'hold');
  const release = requestEntries.find((e) => e.kind === 'release');
  expect(parseCredits(release?.amount_credits ?? '')).toBe(-(parseCredits(hold?.amount_credits ?? '') ?? 0n));
  if (cost > 0n) expect(parseCredits(requestEntries.find((e) => e.kind === 'capture')?.amount_credits ?? '')).toBe(-cost);
  const balance = parseCredits(String((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits));
  expect(balance).toBe((parseCredits(CREDITS) ?? 0n) - cost);
  expect(entries.reduce((sum, e) => sum + (parseCredits(e.amount_credits) ?? 0n), 0n)).toBe(balance);
}

/** Usage as the OpenAI mock computes it for a recorded chat request and the reply it sent (see openai.ts). */
export function openAIMockUsage(body: unknown, reply: string): { input: number; output: number } {
  const messages = isRecord(body) && Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  let chars = 0;
  for (const m of messages) {
    const content = isRecord(m) ? m.content : undefined;
    if (typeof content === 'string') chars += content.length;
    else if (Array.isArray(content)) for (const part of content as unknown[]) if (isRecord(part) && typeof part.text === 'string') chars += part.text.length;
  }
  return { input: Math.ceil(chars / 4) + 3 * messages.length, output: pieces(reply) };
}

/** Output tokens billed for a stream that broke after delivering `text` with no usage reported (o200k). */
export const countedOutput = (text: string): number => countTokens(text);

export interface ChannelRow {
  id: string;
  state: string;
  open_reason: string | null;
  consecutive_failures: number;
  failures_in_window: number;
  retry_after_until: string | null;
  last_error: string | null;
}

export async function channelRow(t: TestGateway, id: string): Promise<ChannelRow> {
  const res = await t.admin('GET', '/channels');
  expect(res.status).toBe(200);
  const row = (res.json.data as ChannelRow[]).find((r) => r.id === id);
  if (!row) throw new Error(`no channel ${id}`);
  return row;
}
