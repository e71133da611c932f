// The billing policy for streams that end badly (docs/billing.md, issue 5 item 6), for the OpenAI chat stream and
// the Anthropic /v1/messages stream, each over an OpenAI-compatible and an Anthropic upstream (pass-through and
// translated): the exact charge is checked in the usage event and the ledger.
//   - the client disconnects mid-stream → the prompt and the output actually delivered, counted by the gateway;
//   - the client disconnects before any output → nothing ("zero-completion insurance");
//   - the stream completes but the upstream sends no usage → the prompt and the whole output, counted.
// An upstream cut after the headers, an upstream error event mid-stream, a stall and a truncated stream are
// covered with exact charges for every client and upstream protocol in test/failover-stream.test.ts; a stream
// cut before its first token (nothing delivered, nothing charged) there too.
import { countTokens } from 'gpt-tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatInput } from '../src/billing/quote.ts';
import { parseCredits } from '../src/domain/money.ts';
import type { ChatRequest } from '../src/providers/shared/types.ts';
import { startTestGateway, UPSTREAM_KEY, type TestGateway } from './helpers/gateway.ts';
import { startMockAnthropic, type MockAnthropic } from './upstreams/anthropic.ts';

type Client = 'chat' | 'messages';
type Upstream = 'openai' | 'anthropic';
const CLIENTS: readonly Client[] = ['chat', 'messages'];
const UPSTREAMS: readonly Upstream[] = ['openai', 'anthropic'];
/** The model served by each upstream: $1 input, $2 output per million tokens. */
const MODEL: Record<Upstream, string> = { openai: 'sb-openai', anthropic: 'sb-anthropic' };
const INPUT_MICRO = 1_000n;
const OUTPUT_MICRO = 2_000n;
const GRANT = '10';

let t: TestGateway;
let claude: MockAnthropic;

beforeAll(async () => {
  claude = await startMockAnthropic({ apiKey: 'ant-key' });
  t = await startTestGateway({
    yaml: (mockUrl) => `
providers:
  - { id: oa, type: openai-compatible, base_url: "${mockUrl}", api_key: "${UPSTREAM_KEY}" }
  - { id: an, type: anthropic, base_url: "${claude.url}", api_key: ant-key }
models:
  - { id: ${MODEL.openai}, channels: [{ provider: oa }], price: { input_per_mtok_usd: 1, output_per_mtok_usd: 2 } }
  - { id: ${MODEL.anthropic}, channels: [{ provider: an }], price: { input_per_mtok_usd: 1, output_per_mtok_usd: 2 } }
`,
  });
});
afterAll(async () => {
  await t?.close();
  await claude?.close();
});

/** Opens a stream as the client protocol does over plain HTTP, so the test controls when it stops reading. */
async function openStream(client: Client, key: string, model: string, prompt: string, signal: AbortSignal): Promise<Response> {
  const path = client === 'chat' ? '/v1/chat/completions' : '/v1/messages';
  const body =
    client === 'chat'
      ? { model, stream: true, stream_options: { include_usage: true }, max_tokens: 100, messages: [{ role: 'user', content: prompt }] }
      : { model, stream: true, max_tokens: 100, messages: [{ role: 'user', content: prompt }] };
  return fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
    signal,
  });
}

/** The text deltas in SSE text, as the client protocol carries them. */
function deliveredText(client: Client, sse: string): string {
  let text = '';
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const data = JSON.parse(line.slice(6)) as Record<string, unknown>;
    if (client === 'chat') {
      const choices = data.choices as Array<{ delta?: { content?: unknown } }> | undefined;
      const content = choices?.[0]?.delta?.content;
      if (typeof content === 'string') text += content;
    } else if (data.type === 'content_block_delta') {
      const delta = data.delta as { type?: string; text?: unknown };
      if (delta.type === 'text_delta' && typeof delta.text === 'string') text += delta.text;
    }
  }
  return text;
}

/** Reads the stream until `words` words have arrived, then stops reading; returns what was delivered. */
async function readWords(client: Client, res: Response, words: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  let sse = '';
  while (deliveredText(client, sse.slice(0, sse.lastIndexOf('\n\n') + 1)).split(' ').filter(Boolean).length < words) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended early:\n${sse}`);
    sse += decoder.decode(value, { stream: true });
  }
  return deliveredText(client, sse.slice(0, sse.lastIndexOf('\n\n') + 1));
}

interface Event {
  request_id: string;
  status: string;
  http_status: number;
  cost_credits: string;
  held_credits: string;
  tokens: { input: number; output: number; cached_input: number; cache_write: number };
}

async function waitForEvent(userId: string): Promise<Event> {
  const until = Date.now() + 10_000;
  for (;;) {
    const events = (await t.admin('GET', `/usage?user=${userId}`)).json.data as Event[];
    if (events.length > 0) {
      expect(events).toHaveLength(1);
      return events[0] as Event;
    }
    if (Date.now() > until) throw new Error('no usage event');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The prompt as the gateway counts it when no usage arrives (o200k, the chat framing, no margin). */
const countedPrompt = async (prompt: string): Promise<number> => (await countChatInput({ model: 'm', messages: [{ role: 'user', content: prompt }] } as ChatRequest)).tokens;
const cost = (input: number, output: number): bigint => BigInt(input) * INPUT_MICRO + BigInt(output) * OUTPUT_MICRO;

/** One hold, its release and (for a charge) one capture of exactly `charged`; balance = grant − charged = Σ ledger. */
async function expectLedger(userId: string, requestId: string, charged: bigint): Promise<void> {
  const entries = (await t.admin('GET', `/users/${userId}/ledger?limit=100`)).json.data as Array<{ kind: string; amount_credits: string; request_id: string | null }>;
  const mine = entries.filter((e) => e.request_id === requestId);
  expect(mine.map((e) => e.kind).sort()).toEqual(charged > 0n ? ['capture', 'hold', 'release'] : ['hold', 'release']);
  if (charged > 0n) expect(parseCredits(mine.find((e) => e.kind === 'capture')?.amount_credits ?? '')).toBe(-charged);
  const balance = parseCredits(String((await t.admin('GET', `/users/${userId}/balance`)).json.balance_credits));
  expect(balance).toBe((parseCredits(GRANT) ?? 0n) - charged);
  expect(entries.reduce((sum, e) => sum + (parseCredits(e.amount_credits) ?? 0n), 0n)).toBe(balance);
}

/** Where each mock stalls after `words` words: OpenAI's role frame comes first; Anthropic's block start and ping. */
const stallAfter = (upstream: Upstream, words: number): string => `#stall:${upstream === 'openai' ? words : words + 2}`;

describe('the client disconnects mid-stream: prompt + delivered output, counted', () => {
  for (const client of CLIENTS) {
    for (const upstream of UPSTREAMS) {
      it(`${client} client, ${upstream} upstream`, async () => {
        const { userId, key } = await t.newUser(GRANT);
        const prompt = `${stallAfter(upstream, 7)} #words:40`;
        const controller = new AbortController();
        const res = await openStream(client, key, MODEL[upstream], prompt, controller.signal);
        expect(res.status).toBe(200);
        const requestId = res.headers.get('x-switchyard-request-id') ?? '';
        const delivered = await readWords(client, res, 7);
        expect(delivered).toBe('w1 w2 w3 w4 w5 w6 w7');
        controller.abort();

        const event = await waitForEvent(userId);
        const input = await countedPrompt(prompt);
        const output = countTokens(delivered);
        expect(event).toMatchObject({ request_id: requestId, status: 'client_closed', http_status: 499, tokens: { input, output, cached_input: 0, cache_write: 0 } });
        expect(parseCredits(event.cost_credits)).toBe(cost(input, output));
        await expectLedger(userId, requestId, cost(input, output));
      });
    }
  }
});

describe('the client disconnects before any output: nothing charged', () => {
  for (const upstream of UPSTREAMS) {
    it(`messages client, ${upstream} upstream`, async () => {
      const owner = await t.newUser(GRANT);
      const inFlight = () => (upstream === 'openai' ? t.mock.stats.inFlight : claude.stats.inFlight);
      const before = inFlight();
      const controller = new AbortController();
      const pending = openStream('messages', owner.key, MODEL[upstream], '#hang', controller.signal).catch((e: unknown) => e);
      const until = Date.now() + 5_000;
      while (inFlight() <= before && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      controller.abort();
      expect(await pending).toBeInstanceOf(Error);
      const event = await waitForEvent(owner.userId);
      expect(event).toMatchObject({ status: 'client_closed', cost_credits: '0', tokens: { output: 0 } });
      await expectLedger(owner.userId, event.request_id, 0n);
    });
  }
});

describe('the stream completes without a usage report: prompt + whole output, counted', () => {
  for (const client of CLIENTS) {
    it(`${client} client, openai upstream (#nousage)`, async () => {
      const { userId, key } = await t.newUser(GRANT);
      const prompt = '#nousage #words:9';
      const res = await openStream(client, key, MODEL.openai, prompt, new AbortController().signal);
      expect(res.status).toBe(200);
      const requestId = res.headers.get('x-switchyard-request-id') ?? '';
      const sse = await res.text();
      const delivered = deliveredText(client, sse);
      expect(delivered).toBe('w1 w2 w3 w4 w5 w6 w7 w8 w9');
      const event = await waitForEvent(userId);
      const input = await countedPrompt(prompt);
      const output = countTokens(delivered);
      expect(event).toMatchObject({ request_id: requestId, status: 'ok', tokens: { input, output } });
      expect(parseCredits(event.cost_credits)).toBe(cost(input, output));
      await expectLedger(userId, requestId, cost(input, output));
      // The client still learns the charge at the end of its stream.
      if (client === 'messages') expect(sse).toContain(`"cost":"${event.cost_credits}"`);
    });
  }
});
