// The gateway's OpenAI-protocol responses validated against OpenAI's published OpenAPI schemas
// (../shared/openai-openapi.yaml). Without that file this step says it is skipped; the rest still runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOpenApiValidator, OPENAPI_YAML_PATH } from './helpers/openapi.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const validator = loadOpenApiValidator();
if (!validator) console.warn(`OpenAI OpenAPI spec not found at ${OPENAPI_YAML_PATH}: schema conformance checks are SKIPPED`);

describe.skipIf(!validator)('OpenAI schema conformance of gateway responses', () => {
  let t: TestGateway;
  let key: string;
  const check = (schema: string, value: unknown): void => expect(validator?.validate(schema, value)).toEqual([]);
  const post = (path: string, body: unknown): Promise<Response> =>
    fetch(`${t.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    t = await startTestGateway();
    key = (await t.newUser('100')).key;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('chat completion (text and tool call) → CreateChatCompletionResponse', async () => {
    for (const content of ['#reply:hello', '#tool:f:{"a":1}']) {
      const res = await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 20 });
      expect(res.status).toBe(200);
      check('CreateChatCompletionResponse', await res.json());
    }
  });

  it('every stream chunk, the usage chunk included → CreateChatCompletionStreamResponse', async () => {
    const res = await post('/v1/chat/completions', { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: '#words:8' }] });
    const frames = (await res.text()).split('\n\n').filter(Boolean);
    expect(frames.at(-1)).toBe('data: [DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.replace(/^data: /, '')) as Record<string, unknown>);
    expect(chunks.length).toBeGreaterThan(8);
    for (const chunk of chunks) check('CreateChatCompletionStreamResponse', chunk);
    expect(chunks.at(-1)?.usage).toMatchObject({ cost: expect.any(String) });
  });

  it('embeddings → CreateEmbeddingResponse; models → ListModelsResponse and Model', async () => {
    const res = await post('/v1/embeddings', { model: 'text-embedding-3-small', input: 'x', encoding_format: 'float' });
    check('CreateEmbeddingResponse', await res.json());
    const list = await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    check('ListModelsResponse', await list.json());
    const one = await fetch(`${t.url}/v1/models/gpt-4o-mini`, { headers: { authorization: `Bearer ${key}` } });
    check('Model', await one.json());
  });

  it('every gateway error → ErrorResponse', async () => {
    const responses = [
      await fetch(`${t.url}/v1/models`),
      await post('/v1/chat/completions', { model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
      await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: 'x' }),
      await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: '#status:500' }], max_tokens: 5 }),
      await fetch(`${t.url}/v1/unknown`),
    ];
    for (const res of responses) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      check('ErrorResponse', await res.json());
    }
  });
});
