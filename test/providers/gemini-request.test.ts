// The Gemini adapter's request translation (OpenAI chat → GenerateContentRequest).
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/domain/errors.ts';
import { geminiAdapter as adapter } from '../../src/providers/gemini/adapter.ts';
import { SKIP_SIGNATURE } from '../../src/providers/gemini/contents.ts';
import type { CallContext, ChatRequest, Encoded, Warning } from '../../src/providers/shared/types.ts';

type Json = Record<string, unknown>;
const call: CallContext = { settings: { baseUrl: 'https://generativelanguage.googleapis.com/v1beta/', apiKey: 'AIza-up', headers: { 'x-extra': '1' } }, upstreamModel: 'gemini-2.5-flash', stream: false, maxOutputTokens: 8192 };

function encode(request: Json, context: CallContext = call): Encoded {
  const chat = adapter.chat;
  if (!chat) throw new Error('no chat codec');
  return chat.encodeRequest({ model: 'public', messages: [{ role: 'user', content: 'hi' }], ...request } as ChatRequest, context);
}
function body(request: Json, context?: CallContext): Json {
  return JSON.parse(encode(request, context).upstream.body ?? '') as Json;
}
const params = (warnings: Warning[]): (string | undefined)[] => warnings.map((w) => w.param);

describe('gemini request: URL, headers, messages', () => {
  it('posts to models/{model}:generateContent or :streamGenerateContent?alt=sse with x-goog-api-key', () => {
    const { upstream, warnings } = encode({});
    expect(upstream.method).toBe('POST');
    expect(upstream.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent');
    expect(upstream.headers).toEqual({ 'content-type': 'application/json', 'x-extra': '1', 'x-goog-api-key': 'AIza-up' });
    expect(warnings).toEqual([]);
    // No max_tokens from the client: the model's configured cap (what the billing hold assumed) is sent.
    expect(JSON.parse(upstream.body ?? '')).toEqual({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { maxOutputTokens: 8192 } });
    const stream = encode({ stream: true, stream_options: { include_usage: true } }, { ...call, stream: true, upstreamModel: 'tunedModels/my-model' });
    expect(stream.upstream.url).toBe('https://generativelanguage.googleapis.com/v1beta/tunedModels/my-model:streamGenerateContent?alt=sse');
    expect(stream.warnings).toEqual([]);
    const keyless = encode({}, { ...call, settings: { ...call.settings, apiKey: undefined } });
    expect(keyless.upstream.headers['x-goog-api-key']).toBeUndefined();
  });

  it('system/developer → systemInstruction; user/assistant → user/model, consecutive turns merged', () => {
    const b = body({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hello' },
        { role: 'user', content: [{ type: 'text', text: 'Are you there?' }] },
        { role: 'assistant', content: 'Oui.' },
        { role: 'assistant', content: [{ type: 'text', text: 'Bonjour.' }] },
        { role: 'user', content: 'Merci' },
      ],
    });
    expect(b.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] });
    expect(b.contents).toEqual([
      { role: 'user', parts: [{ text: 'Hello' }, { text: 'Are you there?' }] },
      { role: 'model', parts: [{ text: 'Oui.' }, { text: 'Bonjour.' }] },
      { role: 'user', parts: [{ text: 'Merci' }] },
    ]);
  });

  it('images, audio and files: inlineData, fileData, and warnings for what cannot go', () => {
    const { upstream, warnings } = encode({
      messages: [{
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.WEBP?size=2', detail: 'high' } },
          { type: 'image_url', image_url: { url: 'https://example.com/render' } },
          { type: 'image_url', image_url: { url: 'ftp://example.com/a.png' } },
          { type: 'image_url', image_url: 'data:text/plain,hello%20world' },
          { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'mp3' } },
          { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } },
          { type: 'file', file: { file_id: 'file-abc' } },
        ],
      }],
    });
    const parts = (JSON.parse(upstream.body ?? '') as { contents: { parts: Json[] }[] }).contents[0]?.parts;
    expect(parts).toEqual([
      { text: 'What is this?' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.WEBP?size=2' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/render' } },
      { inlineData: { mimeType: 'text/plain', data: Buffer.from('hello world').toString('base64') } },
      { inlineData: { mimeType: 'audio/mp3', data: 'UklGRg==' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
    ]);
    expect(warnings.map((w) => [w.code, w.param])).toEqual([
      ['unsupported_parameter', 'messages[0].content[2].image_url.detail'],
      ['image_mime_type_guessed', 'messages[0].content[3].image_url.url'],
      ['unsupported_parameter', 'messages[0].content[4].image_url.url'],
      ['unsupported_parameter', 'messages[0].content[8].file'],
    ]);
  });

  it('assistant tool calls → functionCall parts (signature echoed or placeholder); tool results → functionResponse by name', () => {
    const { upstream, warnings } = encode({
      messages: [
        { role: 'user', content: 'Weather in Paris and London?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' }, extra_content: { google: { thought_signature: 'c2lnLTE=' } } },
            { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"city":"London"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21,"unit":"c"}' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '[1,2]' }] },
        { role: 'assistant', content: 'Checking again.', tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'get_weather', arguments: 'not json' } }] },
        { role: 'tool', tool_call_id: 'call_3', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_1', content: '42' },
      ],
    });
    expect((JSON.parse(upstream.body ?? '') as Json).contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and London?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'c2lnLTE=' },
          { functionCall: { name: 'get_time', args: { city: 'London' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { temp: 21, unit: 'c' } } },
          { functionResponse: { name: 'get_time', response: { result: [1, 2] } } },
        ],
      },
      { role: 'model', parts: [{ text: 'Checking again.' }, { functionCall: { name: 'get_weather', args: {} }, thoughtSignature: SKIP_SIGNATURE }] },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { result: 'sunny' } } },
          { functionResponse: { name: 'get_weather', response: { result: 42 } } },
        ],
      },
    ]);
    expect(warnings).toEqual([expect.objectContaining({ code: 'invalid_tool_arguments', param: 'messages[4].tool_calls[0].function.arguments' })]);
  });

  it('a tool result with an unknown tool_call_id is an invalid request', () => {
    const run = (): Encoded => encode({ messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'call_nope', content: 'r' }] });
    expect(run).toThrow(GatewayError);
    expect(run).toThrow(/tool_call_id/);
  });

  it('message names, assistant audio and the legacy function role', () => {
    const { upstream, warnings } = encode({
      messages: [
        { role: 'user', name: 'alice', content: 'hi' },
        { role: 'assistant', content: 'x', audio: { id: 'audio_1' } },
        { role: 'function', name: 'lookup', content: '{"ok":true}' },
      ],
    });
    expect(params(warnings)).toEqual(['messages[0].name', 'messages[1].audio']);
    expect((JSON.parse(upstream.body ?? '') as { contents: Json[] }).contents[2]).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { ok: true } } }] });
  });
});

describe('gemini request: tools and tool_choice', () => {
  const weather = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      strict: true,
      parameters: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        additionalProperties: false,
        properties: {
          city: { type: 'string', minLength: 1 },
          unit: { type: ['string', 'null'], enum: ['c', 'f', null] },
          kind: { const: 'current' },
          place: { $ref: '#/$defs/Place' },
          either: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
          tags: { type: 'array', items: { type: 'string' }, uniqueItems: true },
        },
        required: ['city'],
        $defs: { Place: { type: 'object', additionalProperties: false, properties: { lat: { type: 'number' } } } },
      },
    },
  };

  it('function tools → functionDeclarations with the schema cleaned (one warning per schema)', () => {
    const { upstream, warnings } = encode({ tools: [weather, { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } }, { type: 'custom', custom: { name: 'x' } }] });
    const b = JSON.parse(upstream.body ?? '') as Json;
    expect(b.tools).toEqual([{
      functionDeclarations: [
        {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: {
            type: 'object',
            properties: {
              city: { type: 'string', minLength: 1 },
              unit: { nullable: true, type: 'string', enum: ['c', 'f'] },
              kind: { enum: ['current'] },
              place: { type: 'object', properties: { lat: { type: 'number' } } },
              either: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
              tags: { type: 'array', items: { type: 'string' } },
            },
            required: ['city'],
          },
        },
        { name: 'ping' },
      ],
    }]);
    expect(b.toolConfig).toBeUndefined();
    const schemaWarning = warnings.find((w) => w.code === 'unsupported_schema_keyword');
    expect(schemaWarning?.param).toBe('tools[0].function.parameters');
    expect(schemaWarning?.message).toContain('additionalProperties (×2)');
    expect(schemaWarning?.message).toContain('$schema');
    expect(schemaWarning?.message).toContain('uniqueItems');
    expect(schemaWarning?.message).toContain('oneOf (sent as anyOf)');
    expect(params(warnings)).toEqual(['tools[0].function.parameters', 'tools[0].function.strict', 'tools[2]']);
  });

  it.each([
    ['none', { mode: 'NONE' }],
    ['auto', { mode: 'AUTO' }],
    ['required', { mode: 'ANY' }],
    [{ type: 'function', function: { name: 'get_weather' } }, { mode: 'ANY', allowedFunctionNames: ['get_weather'] }],
  ])('tool_choice %j → functionCallingConfig %j', (choice, config) => {
    expect(body({ tools: [weather], tool_choice: choice }).toolConfig).toEqual({ functionCallingConfig: config });
  });

  it('allowed_tools narrows the declarations; tool_choice without tools sends nothing', () => {
    const ping = { type: 'function', function: { name: 'ping' } };
    const b = body({ tools: [weather, ping], tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'ping' } }] } } });
    expect(b.tools).toEqual([{ functionDeclarations: [{ name: 'ping' }] }]);
    expect(b.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    const none = encode({ tool_choice: 'auto' });
    expect(JSON.parse(none.upstream.body ?? '')).not.toHaveProperty('toolConfig');
  });
});

describe('gemini request: generationConfig', () => {
  it('maps the sampling and length parameters', () => {
    const { upstream, warnings } = encode({
      temperature: 0.3, top_p: 0.9, top_k: 40, max_completion_tokens: 300, max_tokens: 999, stop: ['END', '##'], n: 2, seed: 7,
      presence_penalty: 0.5, frequency_penalty: -0.5, logprobs: true, top_logprobs: 3,
    });
    expect(warnings).toEqual([]);
    expect((JSON.parse(upstream.body ?? '') as Json).generationConfig).toEqual({
      temperature: 0.3, topP: 0.9, topK: 40, maxOutputTokens: 300, stopSequences: ['END', '##'], candidateCount: 2, seed: 7,
      presencePenalty: 0.5, frequencyPenalty: -0.5, responseLogprobs: true, logprobs: 3,
    });
    expect(body({ max_tokens: 50, stop: 'STOP', n: 1 }).generationConfig).toEqual({ maxOutputTokens: 50, stopSequences: ['STOP'] });
    expect(params(encode({ top_logprobs: 2 }).warnings)).toEqual(['top_logprobs']);
    expect(body({}, { ...call, maxOutputTokens: 0 })).not.toHaveProperty('generationConfig');
  });

  it('json_object → application/json; json_schema → responseJsonSchema with unsupported keywords removed', () => {
    expect(body({ response_format: { type: 'json_object' } }).generationConfig).toEqual({ maxOutputTokens: 8192, responseMimeType: 'application/json' });
    expect(body({ response_format: { type: 'text' } }).generationConfig).toEqual({ maxOutputTokens: 8192 });
    const { upstream, warnings } = encode({
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'person',
          strict: true,
          schema: {
            $schema: 'https://json-schema.org/draft/2020-12/schema',
            type: 'object',
            properties: { name: { type: 'string', minLength: 1 }, kind: { const: 'person' }, tags: { type: 'array', items: { $ref: '#/$defs/Tag' } } },
            required: ['name'],
            additionalProperties: false,
            $defs: { Tag: { type: 'string', pattern: '^[a-z]+$' } },
          },
        },
      },
    });
    expect((JSON.parse(upstream.body ?? '') as Json).generationConfig).toEqual({
      maxOutputTokens: 8192,
      responseMimeType: 'application/json',
      responseJsonSchema: {
        type: 'object',
        properties: { name: { type: 'string' }, kind: { enum: ['person'] }, tags: { type: 'array', items: { $ref: '#/$defs/Tag' } } },
        required: ['name'],
        additionalProperties: false,
        $defs: { Tag: { type: 'string' } },
      },
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'unsupported_schema_keyword', param: 'response_format.json_schema.schema' });
    expect(warnings[0]?.message).toMatch(/\$schema.*minLength.*pattern/);
  });

  it.each([
    ['none', { thinkingBudget: 0 }],
    ['minimal', { thinkingBudget: 1024, includeThoughts: true }],
    ['low', { thinkingBudget: 1024, includeThoughts: true }],
    ['medium', { thinkingBudget: 8192, includeThoughts: true }],
    ['high', { thinkingBudget: 24576, includeThoughts: true }],
  ])('reasoning_effort %s → thinkingConfig %j', (effort, thinking) => {
    const { upstream, warnings } = encode({ reasoning_effort: effort });
    expect((JSON.parse(upstream.body ?? '') as { generationConfig: Json }).generationConfig.thinkingConfig).toEqual(thinking);
    expect(warnings).toEqual([]);
  });

  it('reasoning_effort xhigh is capped with a warning; an unknown effort is ignored with one', () => {
    const capped = encode({ reasoning_effort: 'xhigh' });
    expect((JSON.parse(capped.upstream.body ?? '') as { generationConfig: Json }).generationConfig.thinkingConfig).toEqual({ thinkingBudget: 24576, includeThoughts: true });
    expect(capped.warnings).toEqual([expect.objectContaining({ code: 'parameter_adjusted', param: 'reasoning_effort' })]);
    expect(params(encode({ reasoning_effort: 'extreme' }).warnings)).toEqual(['reasoning_effort']);
  });

  it('every parameter Gemini cannot honour is a warning; defaults are not', () => {
    const { upstream, warnings } = encode({
      logit_bias: { '50256': -100 }, audio: { voice: 'alloy', format: 'mp3' }, modalities: ['text', 'audio'], parallel_tool_calls: false,
      store: true, metadata: { a: 'b' }, user: 'u-1', service_tier: 'flex', prediction: { type: 'content', content: 'x' },
      web_search_options: {}, verbosity: 'low', functions: [{ name: 'f' }], vendor_knob: 1,
    });
    expect(params(warnings)).toEqual([
      'logit_bias', 'audio', 'modalities', 'parallel_tool_calls', 'store', 'metadata', 'user', 'service_tier', 'prediction',
      'web_search_options', 'verbosity', 'functions', 'vendor_knob',
    ]);
    expect(warnings.every((w) => w.code === 'unsupported_parameter')).toBe(true);
    expect(JSON.parse(upstream.body ?? '')).toEqual({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { maxOutputTokens: 8192 } });
    expect(encode({ parallel_tool_calls: true, store: false, modalities: ['text'], logprobs: false, stream_options: null, user: null }).warnings).toEqual([]);
  });
});
