// The protocol matrix (issue 3): clients {openai chat, openai responses, anthropic messages} × upstreams {OpenAI-compatible,
// Anthropic, Gemini, Azure} × {non-stream, stream} × {plain text, tool call, image input}. Each case checks the
// text, the tool call (name + arguments), the finish reason and the usage the client sees, and that the ledger
// charged exactly the usage the upstream reported, at the model's prices.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredits } from '../src/domain/money.ts';
import { startTestGateway, UPSTREAM_KEY, type TestGateway } from './helpers/gateway.ts';
import { startMockAnthropic, type MockAnthropic } from './upstreams/anthropic.ts';
import { startAzureFront, type AzureFront } from './upstreams/azure.ts';
import { startMockGemini, type MockGemini } from './upstreams/gemini.ts';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
// $1 input, $0.50 cached, $1.25 cache write, $2 output per Mtok → micro-credits per token: 1000, 500, 1250, 2000.
const PRICE = 'price: { input_per_mtok_usd: 1, cached_input_per_mtok_usd: 0.5, cache_write_per_mtok_usd: 1.25, output_per_mtok_usd: 2 }';

type Upstream = 'openai' | 'anthropic' | 'gemini' | 'azure';
type Case = 'text' | 'tool' | 'image';
interface Seen {
  text: string;
  tool?: { name: string; args: unknown };
  finish: 'stop' | 'tool';
  promptTokens: number;
  outputTokens: number;
}

const WEATHER = { name: 'get_weather', description: 'Current weather', schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const PROMPT: Record<Case, string> = { text: '#reply:Matrix ok', tool: '#tool:get_weather:{"city":"Paris"}', image: '#reply:saw it' };

let t: TestGateway;
let anthropicMock: MockAnthropic;
let geminiMock: MockGemini;
let azure: AzureFront;
let target: string | undefined;

beforeAll(async () => {
  anthropicMock = await startMockAnthropic({ apiKey: 'ant-key' });
  geminiMock = await startMockGemini({ apiKey: 'gem-key' });
  azure = await startAzureFront({ apiKey: 'az-key', upstreamKey: UPSTREAM_KEY, target: () => target });
  t = await startTestGateway({
    yaml: (mockUrl) => {
      target = mockUrl;
      return `
providers:
  - { id: p-openai, type: openai-compatible, base_url: ${mockUrl}, api_key: "${UPSTREAM_KEY}" }
  - { id: p-anthropic, type: anthropic, base_url: ${anthropicMock.url}, api_key: ant-key }
  - { id: p-gemini, type: gemini, base_url: ${geminiMock.url}, api_key: gem-key }
  - { id: p-azure, type: azure, base_url: ${azure.url}, api_key: az-key }
models:
  - { id: m-openai, max_output_tokens: 500, channels: [{ provider: p-openai, upstream_model: gpt-4o-mini }], ${PRICE} }
  - { id: m-anthropic, max_output_tokens: 500, channels: [{ provider: p-anthropic, upstream_model: claude-x }], ${PRICE} }
  - { id: m-gemini, max_output_tokens: 500, channels: [{ provider: p-gemini, upstream_model: gemini-x }], ${PRICE} }
  - { id: m-azure, max_output_tokens: 500, channels: [{ provider: p-azure, upstream_model: my-deployment }], ${PRICE} }
`;
    },
  });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([anthropicMock?.close(), geminiMock?.close(), azure?.close()]);
});

function parseArgs(text: string): unknown {
  return JSON.parse(text || '{}');
}

async function viaChat(key: string, model: string, c: Case, stream: boolean): Promise<Seen> {
  const client = new OpenAI({ apiKey: key, baseURL: `${t.url}/v1`, maxRetries: 0, timeout: 20_000 });
  const content: OpenAI.ChatCompletionUserMessageParam['content'] =
    c === 'image' ? [{ type: 'text', text: PROMPT.image }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] : PROMPT[c];
  const params = {
    model,
    max_tokens: 200,
    messages: [{ role: 'user' as const, content }],
    ...(c === 'tool' ? { tools: [{ type: 'function' as const, function: { name: WEATHER.name, description: WEATHER.description, parameters: WEATHER.schema } }] } : {}),
  };
  if (!stream) {
    const r = await client.chat.completions.create(params);
    const call = r.choices[0]?.message.tool_calls?.[0];
    return {
      text: r.choices[0]?.message.content ?? '',
      ...(call?.type === 'function' ? { tool: { name: call.function.name, args: parseArgs(call.function.arguments) } } : {}),
      finish: r.choices[0]?.finish_reason === 'tool_calls' ? 'tool' : 'stop',
      promptTokens: r.usage?.prompt_tokens ?? -1,
      outputTokens: r.usage?.completion_tokens ?? -1,
    };
  }
  const s = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let name = '';
  let args = '';
  let finish: string | null | undefined;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of s) {
    const choice = chunk.choices[0];
    text += choice?.delta.content ?? '';
    for (const call of choice?.delta.tool_calls ?? []) {
      name += call.function?.name ?? '';
      args += call.function?.arguments ?? '';
    }
    finish = choice?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  return {
    text,
    ...(name ? { tool: { name, args: parseArgs(args) } } : {}),
    finish: finish === 'tool_calls' ? 'tool' : 'stop',
    promptTokens: usage?.prompt_tokens ?? -1,
    outputTokens: usage?.completion_tokens ?? -1,
  };
}

async function viaMessages(key: string, model: string, c: Case, stream: boolean): Promise<Seen> {
  const client = new Anthropic({ apiKey: key, baseURL: t.url, maxRetries: 0, timeout: 20_000 });
  const content: Anthropic.MessageParam['content'] =
    c === 'image' ? [{ type: 'text', text: PROMPT.image }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] : PROMPT[c];
  const params = {
    model,
    max_tokens: 200,
    messages: [{ role: 'user' as const, content }],
    ...(c === 'tool' ? { tools: [{ name: WEATHER.name, description: WEATHER.description, input_schema: WEATHER.schema as Anthropic.Tool.InputSchema }] } : {}),
  };
  const m = stream ? await client.messages.stream(params).finalMessage() : await client.messages.create(params);
  const use = m.content.find((b) => b.type === 'tool_use');
  return {
    text: m.content.filter((b) => b.type === 'text').map((b) => (b.type === 'text' ? b.text : '')).join(''),
    ...(use?.type === 'tool_use' ? { tool: { name: use.name, args: use.input } } : {}),
    finish: m.stop_reason === 'tool_use' ? 'tool' : 'stop',
    promptTokens: m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0) + (m.usage.cache_creation_input_tokens ?? 0),
    outputTokens: m.usage.output_tokens,
  };
}

async function viaResponses(key: string, model: string, c: Case, stream: boolean): Promise<Seen> {
  const client = new OpenAI({ apiKey: key, baseURL: `${t.url}/v1`, maxRetries: 0, timeout: 20_000 });
  const input: OpenAI.Responses.ResponseInput | string =
    c === 'image'
      ? [{ role: 'user', content: [{ type: 'input_text', text: PROMPT.image }, { type: 'input_image', image_url: `data:image/png;base64,${PNG}`, detail: 'auto' }] }]
      : PROMPT[c];
  const params = {
    model,
    max_output_tokens: 200,
    input,
    ...(c === 'tool' ? { tools: [{ type: 'function' as const, name: WEATHER.name, description: WEATHER.description, parameters: WEATHER.schema, strict: false }] } : {}),
  };
  const r = stream ? await client.responses.stream(params).finalResponse() : await client.responses.create(params);
  const call = r.output.find((item) => item.type === 'function_call');
  return {
    text: r.output_text,
    ...(call?.type === 'function_call' ? { tool: { name: call.name, args: parseArgs(call.arguments) } } : {}),
    finish: call ? 'tool' : 'stop',
    promptTokens: r.usage?.input_tokens ?? -1,
    outputTokens: r.usage?.output_tokens ?? -1,
  };
}

const CLIENTS = { chat: viaChat, messages: viaMessages, responses: viaResponses } as const;
const UPSTREAMS: Upstream[] = ['openai', 'anthropic', 'gemini', 'azure'];
const CASES: Case[] = ['text', 'tool', 'image'];

const grid = Object.keys(CLIENTS).flatMap((client) =>
  UPSTREAMS.flatMap((upstream) => [false, true].flatMap((stream) => CASES.map((c) => ({ client: client as keyof typeof CLIENTS, upstream, stream, c })))),
);

describe('protocol matrix', () => {
  it.each(grid)('$client → $upstream, stream=$stream, $c', async ({ client, upstream, stream, c }) => {
    const { key, userId } = await t.newUser('10');
    const seen = await CLIENTS[client](key, `m-${upstream}`, c, stream);
    if (c === 'tool') {
      expect(seen.tool).toEqual({ name: 'get_weather', args: { city: 'Paris' } });
      expect(seen.finish).toBe('tool');
    } else {
      expect(seen.text).toBe(c === 'text' ? 'Matrix ok' : 'saw it');
      expect(seen.tool).toBeUndefined();
      expect(seen.finish).toBe('stop');
    }
    expect(seen.promptTokens).toBeGreaterThan(0);
    expect(seen.outputTokens).toBeGreaterThan(0);

    const [event] = (await t.admin('GET', `/usage?user=${userId}`)).json.data as Array<{
      status: string;
      channel: string;
      cost_credits: string;
      tokens: { input: number; cached_input: number; cache_write: number; output: number };
    }>;
    expect(event?.status).toBe('ok');
    expect(event?.channel.startsWith(`p-${upstream}/`)).toBe(true);
    const tk = event?.tokens ?? { input: 0, cached_input: 0, cache_write: 0, output: 0 };
    // The ledger charged what the upstream reported (as the client saw it), at the model's prices.
    expect(tk.input + tk.cached_input + tk.cache_write).toBe(seen.promptTokens);
    expect(tk.output).toBe(seen.outputTokens);
    const expected = BigInt(tk.input) * 1000n + BigInt(tk.cached_input) * 500n + BigInt(tk.cache_write) * 1250n + BigInt(tk.output) * 2000n;
    expect(parseCredits(event?.cost_credits ?? '')).toBe(expected);
    const balance = parseCredits(String((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits));
    expect(balance).toBe(parseCredits('10')! - expected);
  });
});
