// The Anthropic adapter's request translation: OpenAI chat params → Anthropic Messages body.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/domain/errors.ts';
import { anthropicAdapter as adapter } from '../../src/providers/anthropic/adapter.ts';
import type { CallContext, ChatRequest, Warning } from '../../src/providers/shared/types.ts';

const call: CallContext = {
  settings: { baseUrl: 'https://api.anthropic.com/v1/', apiKey: 'sk-ant-up', headers: { 'anthropic-beta': 'x-1' } },
  upstreamModel: 'claude-haiku-4-5',
  stream: false,
  maxOutputTokens: 8192,
};

type Body = Record<string, unknown> & { messages: { role: string; content: Record<string, unknown>[] }[] };

function encode(request: Record<string, unknown>, ctx: Partial<CallContext> = {}): { body: Body; warnings: Warning[]; url: string; headers: Record<string, string> } {
  const chat = adapter.chat;
  if (!chat) throw new Error('no chat codec');
  const { upstream, warnings } = chat.encodeRequest({ model: 'public', ...request } as unknown as ChatRequest, { ...call, ...ctx });
  return { body: JSON.parse(upstream.body ?? '') as Body, warnings, url: upstream.url, headers: upstream.headers };
}

function encodeError(request: Record<string, unknown>): GatewayError {
  try {
    encode(request);
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError');
}

const user = (content: unknown): Record<string, unknown> => ({ messages: [{ role: 'user', content }] });
const codes = (warnings: Warning[]): string[] => warnings.map((w) => `${w.code}:${w.param ?? ''}`);

describe('anthropic request: envelope', () => {
  it('POSTs {base_url}/messages with x-api-key, anthropic-version, the channel headers and the upstream model', () => {
    const request = { model: 'public', messages: [{ role: 'user', content: 'hi' }] };
    const { body, url, headers, warnings } = encode(request);
    expect(url).toBe('https://api.anthropic.com/v1/messages');
    expect(headers).toEqual({ 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'x-1', 'x-api-key': 'sk-ant-up' });
    expect(body).toEqual({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], max_tokens: 8192 });
    expect(warnings).toEqual([]);
    expect(request.model).toBe('public'); // the caller's object is untouched
  });

  it('max_tokens = max_completion_tokens ?? max_tokens ?? the model output cap; stream from the call', () => {
    expect(encode({ ...user('x'), max_tokens: 100 }).body.max_tokens).toBe(100);
    expect(encode({ ...user('x'), max_tokens: 100, max_completion_tokens: 50 }).body.max_tokens).toBe(50);
    expect(encode(user('x'), { maxOutputTokens: 1234 }).body.max_tokens).toBe(1234);
    expect(encode({ ...user('x'), stream: true, stream_options: { include_usage: true } }, { stream: true })).toMatchObject({ body: { stream: true }, warnings: [] });
  });

  it('user → metadata.user_id; stop → stop_sequences; top_p and top_k pass', () => {
    expect(encode({ ...user('x'), user: 'u-42', stop: 'END', top_p: 0.9, top_k: 40 }).body).toMatchObject({
      metadata: { user_id: 'u-42' },
      stop_sequences: ['END'],
      top_p: 0.9,
      top_k: 40,
    });
    expect(encode({ ...user('x'), stop: ['a', 'b'] }).body.stop_sequences).toEqual(['a', 'b']);
  });

  it('temperature above 1 is clamped with a warning; 0..1 passes untouched', () => {
    const hot = encode({ ...user('x'), temperature: 1.7 });
    expect(hot.body.temperature).toBe(1);
    expect(codes(hot.warnings)).toEqual(['temperature_clamped:temperature']);
    const calm = encode({ ...user('x'), temperature: 0.3 });
    expect(calm.body.temperature).toBe(0.3);
    expect(calm.warnings).toEqual([]);
  });

  it('n > 1 is an invalid_request error on param n; n = 1 is fine', () => {
    const error = encodeError({ ...user('x'), n: 3 });
    expect(error.code).toBe('invalid_request');
    expect(error.param).toBe('n');
    expect(encode({ ...user('x'), n: 1 }).warnings).toEqual([]);
  });

  it('parameters Anthropic cannot honour become warnings; default values do not', () => {
    const { warnings, body } = encode({
      ...user('x'),
      logprobs: true, top_logprobs: 3, presence_penalty: 0.5, frequency_penalty: 0.2, seed: 7, logit_bias: { '50256': -100 },
      audio: { voice: 'alloy', format: 'mp3' }, modalities: ['text', 'audio'], metadata: { tag: 'a' }, prediction: { type: 'content', content: 'x' },
    });
    expect(codes(warnings).sort()).toEqual(
      ['audio', 'frequency_penalty', 'logit_bias', 'logprobs', 'metadata', 'modalities', 'prediction', 'presence_penalty', 'seed', 'top_logprobs'].map((p) => `unsupported_parameter:${p}`),
    );
    expect(Object.keys(body).sort()).toEqual(['max_tokens', 'messages', 'model']);
    const quiet = encode({ ...user('x'), logprobs: false, presence_penalty: 0, frequency_penalty: 0, modalities: ['text'], seed: null, store: false });
    expect(quiet.warnings).toEqual([]);
  });

  it('response_format json_object / json_schema is emulated in the system prompt, with a warning', () => {
    const object = encode({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'x' }], response_format: { type: 'json_object' } });
    expect(object.body.system).toEqual([{ type: 'text', text: 'Be terse.' }, { type: 'text', text: expect.stringContaining('valid JSON object') }]);
    expect(codes(object.warnings)).toEqual(['response_format_emulated:response_format']);
    const schema = { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] };
    const withSchema = encode({ ...user('x'), response_format: { type: 'json_schema', json_schema: { name: 'r', schema } } });
    expect(withSchema.body.system).toContain(JSON.stringify(schema));
    expect(encode({ ...user('x'), response_format: { type: 'text' } }).warnings).toEqual([]);
  });
});

describe('anthropic request: messages', () => {
  it('system and developer messages become the top-level system; a late one is moved with a warning', () => {
    const one = encode({ messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'hi' }] });
    expect(one.body.system).toBe('You are terse.');
    const two = encode({
      messages: [
        { role: 'developer', content: [{ type: 'text', text: 'Rule 1.' }] },
        { role: 'user', content: 'hi' },
        { role: 'system', content: 'Rule 2.' },
      ],
    });
    expect(two.body.system).toEqual([{ type: 'text', text: 'Rule 1.' }, { type: 'text', text: 'Rule 2.' }]);
    expect(codes(two.warnings)).toEqual(['system_message_moved:messages[2]']);
    expect(two.body.messages).toHaveLength(1);
  });

  it('consecutive same-role messages are merged so roles alternate', () => {
    const { body } = encode({
      messages: [
        { role: 'user', content: 'one' },
        { role: 'user', content: [{ type: 'text', text: 'two' }] },
        { role: 'assistant', content: 'three' },
        { role: 'assistant', content: [{ type: 'text', text: 'four' }] },
        { role: 'user', content: 'five' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'three' }, { type: 'text', text: 'four' }] },
      { role: 'user', content: [{ type: 'text', text: 'five' }] },
    ]);
  });

  it('images: data URLs → base64 source, http(s) URLs → url source; detail is a warning', () => {
    const { body, warnings } = encode(user([
      { type: 'text', text: 'Compare:' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
    ]));
    expect(body.messages[0]?.content).toEqual([
      { type: 'text', text: 'Compare:' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
    expect(codes(warnings)).toEqual(['unsupported_parameter:messages[0].content[2].image_url.detail']);
    expect(encodeError(user([{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAAA' } }])).param).toBe('messages[0].content[0].image_url.url');
    expect(encodeError(user([{ type: 'image_url', image_url: { url: 'data:image/png,raw' } }])).code).toBe('invalid_request');
  });

  it('a PDF file part → document block; audio input is an error', () => {
    const { body } = encode(user([{ type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }]));
    expect(body.messages[0]?.content).toEqual([{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }]);
    const audio = encodeError(user([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }]));
    expect(audio.param).toBe('messages[0].content[0]');
  });

  it('assistant tool_calls → tool_use blocks; tool messages → one user turn of tool_result blocks', () => {
    const { body } = encode({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: '18°C' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '24°C' }] },
        { role: 'user', content: 'Thanks, and?' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '18°C' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: '24°C' },
          { type: 'text', text: 'Thanks, and?' },
        ],
      },
    ]);
  });

  it('request faults: bad tool arguments, unknown roles, nothing to send; empty messages dropped with a warning', () => {
    const args = encodeError({ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] });
    expect(args.param).toBe('messages[0].tool_calls[0].function.arguments');
    expect(encodeError({ messages: [{ role: 'function', name: 'f', content: 'x' }] }).param).toBe('messages[0].role');
    expect(encodeError({ messages: [{ role: 'system', content: 'only a system prompt' }] }).param).toBe('messages');
    const dropped = encode({ messages: [{ role: 'user', content: '' }, { role: 'assistant', content: 'a' }, { role: 'user', content: 'b' }] });
    expect(codes(dropped.warnings)).toEqual(['empty_message_dropped:messages[0]']);
    expect(dropped.body.messages.map((m) => m.role)).toEqual(['assistant', 'user']);
  });
});

describe('anthropic request: tools', () => {
  const tools = [
    { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true } },
    { type: 'function', function: { name: 'now' } },
  ];

  it('function tools → {name, description, input_schema}', () => {
    expect(encode({ ...user('x'), tools }).body.tools).toEqual([
      { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } } }, strict: true },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
  });

  it('tool_choice auto / required / none / a named function; parallel_tool_calls:false', () => {
    const choice = (tool_choice: unknown, extra: Record<string, unknown> = {}): unknown => encode({ ...user('x'), tools, tool_choice, ...extra }).body.tool_choice;
    expect(choice('auto')).toEqual({ type: 'auto' });
    expect(choice('required')).toEqual({ type: 'any' });
    expect(choice('none')).toEqual({ type: 'none' });
    expect(choice({ type: 'function', function: { name: 'now' } })).toEqual({ type: 'tool', name: 'now' });
    expect(choice(undefined)).toBeUndefined();
    expect(choice(undefined, { parallel_tool_calls: false })).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choice('required', { parallel_tool_calls: false })).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(encode({ ...user('x'), tool_choice: 'required' }).body.tool_choice).toBeUndefined(); // no tools, nothing to choose
  });
});

describe('anthropic request: thinking', () => {
  it('reasoning_effort low / medium / high → budget 1024 / 4096 / 16384; none leaves it off', () => {
    const budget = (reasoning_effort: string): unknown => encode({ ...user('x'), reasoning_effort, max_completion_tokens: 32000 }).body.thinking;
    expect(budget('low')).toEqual({ type: 'enabled', budget_tokens: 1024 });
    expect(budget('medium')).toEqual({ type: 'enabled', budget_tokens: 4096 });
    expect(budget('high')).toEqual({ type: 'enabled', budget_tokens: 16384 });
    expect(budget('none')).toBeUndefined();
  });

  it('the budget stays below max_tokens (lowered with a warning, or thinking off when there is no room)', () => {
    const lowered = encode({ ...user('x'), reasoning_effort: 'high', max_tokens: 8000 });
    expect(lowered.body.thinking).toEqual({ type: 'enabled', budget_tokens: 4000 });
    expect(lowered.body.max_tokens).toBe(8000);
    expect(codes(lowered.warnings)).toEqual(['thinking_budget_reduced:reasoning_effort']);
    const none = encode({ ...user('x'), reasoning_effort: 'low', max_tokens: 1000 });
    expect(none.body.thinking).toBeUndefined();
    expect(codes(none.warnings)).toEqual(['thinking_disabled:reasoning_effort']);
  });

  it('an Anthropic-style thinking object is sent as given (and wins over reasoning_effort, with a warning)', () => {
    expect(encode({ ...user('x'), thinking: { type: 'enabled', budget_tokens: 2000 } }).body.thinking).toEqual({ type: 'enabled', budget_tokens: 2000 });
    const both = encode({ ...user('x'), thinking: { type: 'adaptive' }, reasoning_effort: 'high' });
    expect(both.body.thinking).toEqual({ type: 'adaptive' });
    expect(codes(both.warnings)).toEqual(['unsupported_parameter:reasoning_effort']);
  });

  it('continuing a tool-use turn (or an assistant prefill) leaves thinking off: its signed thinking cannot be sent back', () => {
    const loop = encode({
      reasoning_effort: 'medium',
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'w', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 't1', content: 'sunny' },
      ],
    });
    expect(loop.body.thinking).toBeUndefined();
    expect(codes(loop.warnings)).toEqual(['thinking_disabled:reasoning_effort']);
    const prefill = encode({ reasoning_effort: 'medium', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Well,' }] });
    expect(prefill.body.thinking).toBeUndefined();
    const fresh = encode({ reasoning_effort: 'medium', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Again' }] });
    expect(fresh.body.thinking).toEqual({ type: 'enabled', budget_tokens: 4096 });
  });

  it('with thinking, temperature / low top_p / top_k are dropped with warnings; a forced tool turns thinking off', () => {
    const knobs = encode({ ...user('x'), reasoning_effort: 'medium', temperature: 0.2, top_p: 0.5, top_k: 5 });
    expect(knobs.body).not.toHaveProperty('temperature');
    expect(knobs.body).not.toHaveProperty('top_p');
    expect(knobs.body).not.toHaveProperty('top_k');
    expect(codes(knobs.warnings)).toEqual(['ignored_with_thinking:temperature', 'ignored_with_thinking:top_p', 'ignored_with_thinking:top_k']);
    const forced = encode({ ...user('x'), reasoning_effort: 'medium', tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'required' });
    expect(forced.body.thinking).toBeUndefined();
    expect(forced.body.tool_choice).toEqual({ type: 'any' });
    expect(codes(forced.warnings)).toEqual(['thinking_disabled:reasoning_effort']);
  });
});
