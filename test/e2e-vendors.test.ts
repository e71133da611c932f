// End to end through the gateway with the official `openai` SDK: a vendor type's quirks (warning header,
// parameter removed upstream) and Azure OpenAI's URLs, `api-key` header and content filter.
import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, UPSTREAM_KEY, type TestGateway } from './helpers/gateway.ts';
import { startAzureFront, type AzureFront } from './upstreams/azure.ts';

const PRICE = 'price: { input_per_mtok_usd: 0.5, output_per_mtok_usd: 1.5 }';

interface WarningJson {
  code: string;
  param?: string;
  message: string;
}

function warningsOf(response: Response): WarningJson[] {
  const header = response.headers.get('x-switchyard-warnings');
  return header === null ? [] : (JSON.parse(header) as WarningJson[]);
}

describe('OpenAI-compatible vendor (type: deepseek) through the gateway', () => {
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    gw = await startTestGateway({
      yaml: (mockUrl) => `
providers:
  - id: ds
    type: deepseek
    base_url: ${mockUrl}
    api_key: \${UPSTREAM_KEY}
models:
  - id: deepseek-chat
    channels:
      - provider: ds
    ${PRICE}
  - id: deepseek-reasoner
    channels:
      - provider: ds
    ${PRICE}
`,
    });
    client = gw.client((await gw.newUser()).key);
  });
  afterAll(async () => gw.close());

  it('reports a parameter the vendor cannot honour, removes it upstream, and answers normally', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'hi' }], logit_bias: { '50256': -100 }, temperature: 0.3 })
      .withResponse();
    expect(response.status).toBe(200);
    expect(warningsOf(response)).toEqual([expect.objectContaining({ code: 'unsupported_parameter', param: 'logit_bias' })]);
    expect(warningsOf(response)[0]?.message).toContain('DeepSeek');
    const upstream = gw.mock.requests.at(-1)?.body as Record<string, unknown>;
    expect(upstream).not.toHaveProperty('logit_bias');
    expect(upstream).toMatchObject({ model: 'deepseek-chat', temperature: 0.3 });
    expect(gw.mock.requests.at(-1)?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(data.choices[0]?.message.content).toBe('Hello from mock.');
    expect(data.usage?.completion_tokens).toBe(4);
    expect(response.headers.get('x-switchyard-credits-charged')).toMatch(/^\d+\.\d+$/);
  });

  it('sends no warning header when nothing was removed', async () => {
    const { response } = await client.chat.completions.create({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.headers.get('x-switchyard-warnings')).toBeNull();
  });

  it('applies per-model quirks on a stream and still bills from the usage chunk', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'deepseek-reasoner', messages: [{ role: 'user', content: '#words:5' }], temperature: 0.2, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('w1 w2 w3 w4 w5');
    expect(usage?.completion_tokens).toBe(5);
    expect(warningsOf(response).map((w) => w.param)).toEqual(['temperature']);
    const upstream = gw.mock.requests.at(-1)?.body as Record<string, unknown>;
    expect(upstream).not.toHaveProperty('temperature');
    expect(upstream.stream_options).toEqual({ include_usage: true });
  });
});

describe('Azure OpenAI through the gateway', () => {
  const AZURE_KEY = 'azure-key-0123456789';
  let target: string | undefined;
  let front: AzureFront;
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    front = await startAzureFront({ apiKey: AZURE_KEY, upstreamKey: UPSTREAM_KEY, target: () => target });
    gw = await startTestGateway({
      env: { AZURE_KEY },
      yaml: (mockUrl) => {
        target = mockUrl;
        return `
providers:
  - id: az-dated
    type: azure
    base_url: ${front.url}
    api_key: \${AZURE_KEY}
    api_version: "2024-10-21"
  - id: az-v1
    type: azure
    base_url: ${front.url}/openai/v1
    api_key: \${AZURE_KEY}
models:
  - id: gpt-4o-dated
    channels:
      - provider: az-dated
        upstream_model: my-gpt4o
    ${PRICE}
  - id: gpt-4o-v1
    channels:
      - provider: az-v1
        upstream_model: my-gpt4o-v1
    ${PRICE}
  - id: embed-dated
    kind: embeddings
    channels:
      - provider: az-dated
        upstream_model: my-embed
    price: { input_per_mtok_usd: 0.02 }
`;
      },
    });
    client = gw.client((await gw.newUser()).key);
  });
  afterAll(async () => {
    await gw.close();
    await front.close();
  });

  it('the Azure front speaks what the official AzureOpenAI SDK sends', async () => {
    const azure = new AzureOpenAI({ endpoint: front.url, apiKey: AZURE_KEY, apiVersion: '2024-10-21', deployment: 'sdk-deployment', maxRetries: 0 });
    const completion = await azure.chat.completions.create({ model: 'ignored', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]?.message.content).toBe('Hello from mock.');
    expect(front.requests.at(-1)).toMatchObject({ path: '/openai/deployments/sdk-deployment/chat/completions', apiVersion: '2024-10-21' });
  });

  it('chat on a dated api-version: deployment URL, api-version query, api-key header, no bearer', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-dated', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]?.message.content).toBe('Hello from mock.');
    expect(completion.model).toBe('my-gpt4o');
    const seen = front.requests.at(-1);
    expect(seen).toMatchObject({ path: '/openai/deployments/my-gpt4o/chat/completions', apiVersion: '2024-10-21' });
    expect(seen?.headers['api-key']).toBe(AZURE_KEY);
    expect(seen?.headers.authorization).toBeUndefined();
  });

  it('streams on a dated api-version, usage included for a client that asked', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-dated', messages: [{ role: 'user', content: '#words:3' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('w1 w2 w3');
    expect(usage?.completion_tokens).toBe(3);
    expect(front.requests.at(-1)?.body.stream_options).toEqual({ include_usage: true });
  });

  it('chat on the v1 route: /openai/v1, no api-version, the deployment as model', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-v1', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello from mock.');
    const seen = front.requests.at(-1);
    expect(seen).toMatchObject({ path: '/openai/v1/chat/completions', apiVersion: null });
    expect(seen?.body.model).toBe('my-gpt4o-v1');
    expect(seen?.headers['api-key']).toBe(AZURE_KEY);
  });

  it('embeddings go to the deployment URL as well', async () => {
    const result = await client.embeddings.create({ model: 'embed-dated', input: 'hello', encoding_format: 'float' });
    expect(result.data[0]?.embedding).toHaveLength(8);
    expect(front.requests.at(-1)).toMatchObject({ path: '/openai/deployments/my-embed/embeddings', apiVersion: '2024-10-21' });
  });

  it('a prompt blocked by the content filter is a clear 400, not a channel failure', async () => {
    const error = await client.chat.completions.create({ model: 'gpt-4o-dated', messages: [{ role: 'user', content: 'hi #content_filter' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.status).toBe(400);
    expect(bad.message).toContain('content filter');
    expect(bad.message).toContain('violence');
  });
});
