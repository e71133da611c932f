// POST /v1/responses through the official `openai` SDK, translated to the mock OpenAI-compatible upstream's
// chat completions; every Response and stream event validated against OpenAI's published OpenAPI schemas.
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../src/domain/errors.ts';
import { responsesDialect } from '../src/protocol/responses/dialect.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { loadOpenApiValidator, OPENAPI_YAML_PATH } from './helpers/openapi.ts';

const validator = loadOpenApiValidator();
if (!validator) console.warn(`OpenAI OpenAPI spec not found at ${OPENAPI_YAML_PATH}: Responses schema conformance checks are SKIPPED`);

/** The spec's schema for each event type this gateway emits. */
const EVENT_SCHEMAS: Record<string, string> = {
  'response.created': 'ResponseCreatedEvent',
  'response.in_progress': 'ResponseInProgressEvent',
  'response.completed': 'ResponseCompletedEvent',
  'response.incomplete': 'ResponseIncompleteEvent',
  'response.failed': 'ResponseFailedEvent',
  'response.output_item.added': 'ResponseOutputItemAddedEvent',
  'response.output_item.done': 'ResponseOutputItemDoneEvent',
  'response.content_part.added': 'ResponseContentPartAddedEvent',
  'response.content_part.done': 'ResponseContentPartDoneEvent',
  'response.output_text.delta': 'ResponseTextDeltaEvent',
  'response.output_text.done': 'ResponseTextDoneEvent',
  'response.refusal.delta': 'ResponseRefusalDeltaEvent',
  'response.refusal.done': 'ResponseRefusalDoneEvent',
  'response.reasoning_text.delta': 'ResponseReasoningTextDeltaEvent',
  'response.reasoning_text.done': 'ResponseReasoningTextDoneEvent',
  'response.function_call_arguments.delta': 'ResponseFunctionCallArgumentsDeltaEvent',
  'response.function_call_arguments.done': 'ResponseFunctionCallArgumentsDoneEvent',
  error: 'ResponseErrorEvent',
};

function conforms(schema: string, value: unknown): void {
  if (validator) expect(validator.validate(schema, value), schema).toEqual([]);
}

/** Each event against its own schema and the ResponseStreamEvent union; sequence numbers 0, 1, 2, … */
function conformingEvents(events: ReadonlyArray<{ type: string; sequence_number: number }>): void {
  events.forEach((event, i) => {
    expect(event.sequence_number).toBe(i);
    const schema = EVENT_SCHEMAS[event.type];
    expect(schema, event.type).toBeDefined();
    conforms(schema ?? '', event);
    conforms('ResponseStreamEvent', event);
  });
}

let t: TestGateway;
let key: string;
let userId: string;
let client: OpenAI;

beforeAll(async () => {
  t = await startTestGateway();
  ({ key, userId } = await t.newUser('50'));
  client = t.client(key);
});
afterAll(async () => {
  await t?.close();
});

const lastUpstreamBody = (): Record<string, unknown> => (t.mock.requests.at(-1)?.body ?? {}) as Record<string, unknown>;
const usageEvents = async (): Promise<Array<Record<string, unknown>>> => (await t.admin('GET', `/usage?user=${userId}`)).json.data as Array<Record<string, unknown>>;
const costOf = (usage: unknown): string => (usage as { cost: string }).cost;
const tool = { type: 'function' as const, name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false };

async function rawStream(body: Record<string, unknown>): Promise<Array<{ event: string; data: ResponseStreamEvent }>> {
  const res = await fetch(`${t.url}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const frames = (await res.text()).split('\n\n').filter(Boolean);
  return frames.map((frame) => {
    const [eventLine, dataLine] = frame.split('\n');
    return { event: (eventLine ?? '').replace(/^event: /, ''), data: JSON.parse((dataLine ?? '').replace(/^data: /, '')) as ResponseStreamEvent };
  });
}

describe('/v1/responses → OpenAI-compatible upstream', () => {
  it('answers text with usage and a receipt, translating instructions, turns and images', async () => {
    const { data, response } = await client.responses
      .create({
        model: 'gpt-4o-mini',
        instructions: 'be brief',
        max_output_tokens: 100,
        temperature: 0.5,
        metadata: { ticket: 't-1' },
        input: [
          { role: 'developer', content: 'no emojis' },
          { role: 'user', content: 'first' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: [{ type: 'input_text', text: '#reply:Bonjour' }, { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' }] },
        ],
      })
      .withResponse();
    expect(data.object).toBe('response');
    expect(data.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(data.status).toBe('completed');
    expect(data.output_text).toBe('Bonjour');
    expect(data.output).toEqual([{ type: 'message', id: expect.stringMatching(/^msg_/), status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Bonjour', annotations: [], logprobs: [] }] }]);
    expect(data).toMatchObject({ model: 'gpt-4o-mini', instructions: 'be brief', max_output_tokens: 100, temperature: 0.5, top_p: null, metadata: { ticket: 't-1' }, store: false, error: null, incomplete_details: null });
    expect(data.usage?.input_tokens).toBeGreaterThan(0);
    expect(data.usage?.output_tokens).toBe(1);
    expect(data.usage?.total_tokens).toBe((data.usage?.input_tokens ?? 0) + 1);
    const charged = response.headers.get('x-switchyard-credits-charged');
    expect(costOf(data.usage)).toBe(charged);
    expect(response.headers.get('x-switchyard-warnings')).toBeNull();
    const { output_text: _sdkOnly, ...wire } = data;
    conforms('Response', wire);

    const upstream = lastUpstreamBody();
    expect(upstream.messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'system', content: 'no emojis' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: [{ type: 'text', text: '#reply:Bonjour' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } }] },
    ]);
    expect(upstream).toMatchObject({ max_tokens: 100, temperature: 0.5 });
    expect(upstream.metadata).toBeUndefined();
    expect(upstream.store).toBeUndefined();

    const requestId = response.headers.get('x-switchyard-request-id') ?? '';
    expect(data.id).toBe(`resp_${requestId.replace(/^req_/, '')}`);
    const ledger = (await t.admin('GET', `/users/${userId}/ledger`)).json.data as Array<{ kind: string; request_id: string | null }>;
    expect(ledger.filter((e) => e.request_id === requestId).map((e) => e.kind).sort()).toEqual(['capture', 'hold', 'release']);
    expect((await usageEvents())[0]).toMatchObject({ request_id: requestId, endpoint: 'responses', status: 'ok', cost_credits: charged });
  });

  it('calls function tools and takes function_call + function_call_output items back', async () => {
    const first = await client.responses.create({ model: 'gpt-4o-mini', tools: [tool], tool_choice: 'required', input: '#tool:get_weather:{"city":"Oslo"}' });
    expect(first.status).toBe('completed');
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', id: expect.stringMatching(/^fc_/), name: 'get_weather', arguments: '{"city":"Oslo"}', status: 'completed' });
    expect(first.output_text).toBe('');
    expect(first.tools).toEqual([tool]);
    expect(lastUpstreamBody()).toMatchObject({
      messages: [{ role: 'user', content: '#tool:get_weather:{"city":"Oslo"}' }],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'weather', parameters: tool.parameters, strict: false } }],
      tool_choice: 'required',
    });
    const { output_text: _sdkOnly, ...wire } = first;
    conforms('Response', wire);

    const callId = call?.type === 'function_call' ? call.call_id : '';
    const followUp = await client.responses.create({
      model: 'gpt-4o-mini',
      input: [
        { role: 'user', content: 'weather?' },
        { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Let me check.', annotations: [] }] },
        ...first.output.filter((item): item is OpenAI.Responses.ResponseFunctionToolCall => item.type === 'function_call'),
        { type: 'function_call_output', call_id: callId, output: '12°C' },
        { role: 'user', content: '#reply:Mild.' },
      ],
    });
    expect(followUp.output_text).toBe('Mild.');
    expect((lastUpstreamBody().messages as unknown[]).slice(1)).toEqual([
      { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: callId, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: callId, content: '12°C' },
      { role: 'user', content: '#reply:Mild.' },
    ]);
  });

  it('translates tool_choice, text.format and reasoning.effort, and warns about what it cannot carry', async () => {
    const other = { ...tool, name: 'other' };
    const { response } = await client.responses
      .create({
        model: 'gpt-4o-mini',
        input: 'hi',
        tools: [tool, other],
        tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'other' }] },
        text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true } },
        reasoning: { effort: 'low', summary: 'auto' },
        include: ['reasoning.encrypted_content'],
        parallel_tool_calls: false,
        store: false,
      })
      .withResponse();
    expect(lastUpstreamBody()).toMatchObject({
      tools: [{ type: 'function', function: { name: 'other' } }],
      tool_choice: 'required',
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true } },
      reasoning_effort: 'low',
      parallel_tool_calls: false,
    });
    const warnings = JSON.parse(response.headers.get('x-switchyard-warnings') ?? '[]') as Array<{ param: string }>;
    expect(warnings.map((w) => w.param).sort()).toEqual(['include', 'reasoning.summary']);

    await client.responses.create({ model: 'gpt-4o-mini', input: 'hi', tools: [tool], tool_choice: { type: 'function', name: 'get_weather' } });
    expect(lastUpstreamBody().tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
  });

  it('streams text the SDK assembles, in the documented event order, ending with the receipt', async () => {
    const stream = client.responses.stream({ model: 'gpt-4o-mini', input: '#words:12' });
    const events: ResponseStreamEvent[] = [];
    stream.on('event', (event) => events.push(event));
    const final = await stream.finalResponse();
    const text = Array.from({ length: 12 }, (_, i) => `w${i + 1}`).join(' ');
    expect(final.output_text).toBe(text);
    expect(final.status).toBe('completed');
    expect(final.usage?.output_tokens).toBe(12);
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array<string>(12).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    conformingEvents(events);
    const completed = events.at(-1);
    const cost = completed?.type === 'response.completed' ? costOf(completed.response.usage) : '';
    expect((await usageEvents())[0]).toMatchObject({ endpoint: 'responses', stream: true, status: 'ok', cost_credits: cost });
  });

  it('streams a tool call the SDK assembles', async () => {
    const stream = await client.responses.create({ model: 'gpt-4o-mini', stream: true, tools: [tool], input: '#tool:get_weather:{"city":"Oslo","days":3}' });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    conformingEvents(events);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added']);
    expect(types.filter((type) => type === 'response.function_call_arguments.delta').length).toBeGreaterThan(1);
    expect(types.slice(-3)).toEqual(['response.function_call_arguments.done', 'response.output_item.done', 'response.completed']);
    const completed = events.at(-1);
    const item = completed?.type === 'response.completed' ? completed.response.output[0] : undefined;
    expect(item).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Oslo","days":3}', status: 'completed' });
    const done = events.find((e) => e.type === 'response.function_call_arguments.done');
    expect(done?.type === 'response.function_call_arguments.done' && JSON.parse(done.arguments)).toEqual({ city: 'Oslo', days: 3 });
  });
});

describe('/v1/responses is stateless', () => {
  const refused = async (body: Record<string, unknown>): Promise<InstanceType<typeof OpenAI.APIError>> => {
    const error = await client.responses.create({ model: 'gpt-4o-mini', input: 'x', ...body } as OpenAI.Responses.ResponseCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    return error as InstanceType<typeof OpenAI.APIError>;
  };

  it('refuses store: true, previous_response_id, conversation, background and stored prompts with a clear 400', async () => {
    const before = t.mock.requests.length;
    const store = await refused({ store: true });
    expect(store.param).toBe('store');
    expect(store.message).toMatch(/stateless.*store: true/);
    const previous = await refused({ previous_response_id: 'resp_123' });
    expect(previous.param).toBe('previous_response_id');
    expect(previous.message).toMatch(/stateless.*previous_response_id/);
    expect((await refused({ conversation: 'conv_1' })).param).toBe('conversation');
    expect((await refused({ background: true })).param).toBe('background');
    expect((await refused({ prompt: { id: 'pmpt_1' } })).param).toBe('prompt');
    expect((await refused({ input: [{ type: 'item_reference', id: 'msg_1' }] })).param).toBe('input[0]');
    expect(t.mock.requests.length).toBe(before);
    conforms('ErrorResponse', { error: store.error });
  });

  it('refuses what it cannot serve: built-in tools, files by id', async () => {
    const builtIn = await refused({ tools: [{ type: 'web_search' }] });
    expect(builtIn.param).toBe('tools[0]');
    expect(builtIn.message).toMatch(/only function tools/);
    const image = await refused({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1', detail: 'auto' }] }] });
    expect(image.param).toBe('input[0].content[0]');
    expect((await refused({ tool_choice: { type: 'web_search_preview' } })).param).toBe('tool_choice');
  });

  it('GET /v1/responses/{id} is an authenticated 404 that says why', async () => {
    const error = await client.responses.retrieve('resp_123').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toMatch(/stores no request or response bodies/);
    await expect(t.client('sk-sy-wrong').responses.retrieve('resp_123')).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client.responses.delete('resp_123')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('/v1/responses errors', () => {
  it('an upstream 500 is a 502 APIError, streaming or not', async () => {
    const error = await client.responses.create({ model: 'gpt-4o-mini', input: '#status:500' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    conforms('ErrorResponse', { error: (error as InstanceType<typeof OpenAI.APIError>).error });
    const streamed = await client.responses.stream({ model: 'gpt-4o-mini', input: '#status:500' }).finalResponse().catch((e: unknown) => e);
    expect((streamed as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
  });

  it('a stream cut mid-way ends with response.failed and an explicit error event', async () => {
    const events = await rawStream({ model: 'gpt-4o-mini', input: '#words:30 #cut:3' });
    for (const { event, data } of events) expect(event).toBe(data.type);
    conformingEvents(events.map((e) => e.data));
    expect(events.map((e) => e.event).slice(-2)).toEqual(['response.failed', 'error']);
    const failed = events.at(-2)?.data;
    expect(failed?.type === 'response.failed' && failed.response).toMatchObject({ status: 'failed', error: { code: 'server_error' }, output: [{ type: 'message', status: 'incomplete' }] });
    expect(events.at(-1)?.data).toMatchObject({ type: 'error', code: expect.stringMatching(/^upstream_/), error: { type: 'upstream_error' } });
    expect((await usageEvents())[0]).toMatchObject({ endpoint: 'responses', status: 'error' });

    const sdk = await client.responses.stream({ model: 'gpt-4o-mini', input: '#words:30 #cut:3' }).finalResponse().catch((e: unknown) => e);
    expect(sdk).toBeInstanceOf(OpenAI.APIError);
  });
});

describe('Responses encoding of what the mock cannot produce', () => {
  const completion = (finish: 'length' | 'stop', message: Record<string, unknown>): ChatCompletion =>
    ({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, finish_reason: finish, logprobs: null, message: { role: 'assistant', refusal: null, ...message } }] }) as ChatCompletion;
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): ChatCompletionChunk =>
    ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] }) as ChatCompletionChunk;
  const contextFor = (body: Record<string, unknown>) => ({
    requestId: 'req_0123456789abcdef0123456789abcdef',
    model: 'gpt-4o-mini',
    wantsStreamUsage: true,
    countedInputTokens: 5,
    original: responsesDialect.decode(body).original,
    createdAt: 1_700_000_000,
  });
  const receipt = { usage: { input: 5, cachedInput: 2, cacheWrite: 0, output: 9, reasoning: 4 }, cost: 1234n };
  const parse = (sse: string): ResponseStreamEvent[] => sse.split('\n\n').filter(Boolean).map((f) => JSON.parse(f.split('\n')[1]?.replace(/^data: /, '') ?? '') as ResponseStreamEvent);

  it('finish_reason length → incomplete (max_output_tokens), reasoning_content → a reasoning item', () => {
    const context = contextFor({ model: 'gpt-4o-mini', input: 'hi', max_output_tokens: 16 });
    const body = responsesDialect.encodeResponse(completion('length', { content: 'cut sho', reasoning_content: 'think' }), receipt, context) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      completed_at: null,
      output: [{ type: 'reasoning', content: [{ type: 'reasoning_text', text: 'think' }], status: 'completed' }, { type: 'message', status: 'incomplete' }],
      usage: { input_tokens: 7, input_tokens_details: { cached_tokens: 2, cache_write_tokens: 0 }, output_tokens: 9, output_tokens_details: { reasoning_tokens: 4 }, total_tokens: 16, cost: '0.001234' },
    });
    conforms('Response', body);

    const encoder = responsesDialect.streamEncoder(contextFor({ model: 'gpt-4o-mini', input: 'hi', stream: true }));
    const sse = [chunk({ role: 'assistant', reasoning_content: 'th' }), chunk({ reasoning_content: 'ink' }), chunk({ content: 'cut' }), chunk({ content: ' sho' }, 'length')]
      .map((c) => encoder.chunk(c, undefined, undefined))
      .join('') + encoder.end(receipt);
    const events = parse(sse);
    conformingEvents(events);
    expect(events.map((e) => e.type)).toContain('response.reasoning_text.delta');
    const last = events.at(-1);
    expect(last?.type).toBe('response.incomplete');
    expect(last?.type === 'response.incomplete' && last.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [{ type: 'reasoning', status: 'completed' }, { type: 'message', status: 'incomplete' }] });
  });

  it('a failure before any chunk still opens the stream with response.created', () => {
    const events = parse(responsesDialect.streamEncoder(contextFor({ model: 'gpt-4o-mini', input: 'hi', stream: true })).error(new GatewayError('upstream_rate_limited', 'slow down')));
    conformingEvents(events);
    expect(events.map((e) => e.type)).toEqual(['response.created', 'response.in_progress', 'response.failed', 'error']);
    expect(events[2]?.type === 'response.failed' && events[2].response.error?.code).toBe('rate_limit_exceeded');
  });
});
