// The scrubber and the client's message for upstream errors (src/domain/upstream-errors.ts), over messages
// as the providers write them. Sources of the samples:
//   OpenAI    https://platform.openai.com/docs/guides/error-codes , and real 429/401 bodies quoted in
//             https://github.com/BuilderIO/micro-agent/issues/86 , https://github.com/Nutlope/aicommits/issues/235 ,
//             https://github.com/Santosl2/wpp-chatgpt/issues/3
//   Anthropic https://docs.anthropic.com/en/api/errors , a 429 quoted in https://github.com/OpenHands/OpenHands/issues/9259
//   Gemini    https://ai.google.dev/gemini-api/docs/troubleshooting , the body quoted in
//             https://github.com/continuedev/continue/issues/11759
import { describe, expect, it } from 'vitest';
import { GatewayError, type ErrorCode } from '../../src/domain/errors.ts';
import { clientMessage, MAX_UPSTREAM_MESSAGE, scrubUpstreamMessage } from '../../src/domain/upstream-errors.ts';
import { anthropicErrorBody } from '../../src/protocol/anthropic/errors.ts';
import { anthropicStreamEncoder } from '../../src/protocol/anthropic/stream.ts';
import { openAIErrorBody } from '../../src/protocol/openai/errors.ts';
import { sseError } from '../../src/protocol/openai/sse.ts';
import { errorEventFields } from '../../src/protocol/responses/errors.ts';
import { responsesStreamEncoder } from '../../src/protocol/responses/stream.ts';
import { identity } from '../../src/protocol/responses/response.ts';
import { classifyAnthropicError } from '../../src/providers/anthropic/errors.ts';
import { classifyGeminiError } from '../../src/providers/gemini/errors.ts';
import { classifyOpenAIError } from '../../src/providers/openai-compatible/errors.ts';
import { summarizeUpstreamError } from '../../src/providers/shared/errors.ts';

const ORG_429 =
  'Rate limit reached for gpt-4o in organization org-uOtiSEwvUnroadaOnJJquBEC on tokens per min (TPM): Limit 30000, Used 29937, ' +
  'Requested 385. Please try again in 644ms. Visit https://platform.openai.com/account/rate-limits to learn more.';
const ANTHROPIC_429 =
  'This request would exceed the rate limit for your organization (0dccdde6-f924-4f1b-bb3b-92ef846e0a5b) of 20,000 input tokens per ' +
  'minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits.';
const REQUEST_ID = 'req_0123456789abcdef0123456789abcdef';

describe('scrubUpstreamMessage', () => {
  it.each([
    [ORG_429, 'Rate limit reached for gpt-4o in organization [org] on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms. Visit [url] to…'],
    ['Rate limit reached for gpt-4o in organization XXXXXXXXX on tokens per min (TPM): Limit 30000.', 'Rate limit reached for gpt-4o in organization [id] on tokens per min (TPM): Limit 30000.'],
    ['Project proj_Ab12Cd34Ef56 has exceeded its quota.', 'Project [project] has exceeded its quota.'],
    ['Incorrect API key provided: sk-WRQsP***************************************xQBt. You can find your API key at https://platform.openai.com/account/api-keys.',
      'Incorrect API key provided: [key]. You can find your API key at [url].'],
    ['Invalid key sk-ant-api03-abcdefghijklmnop and AIzaSyAtpnKGX13bTgmx0l_gQeatYvdWvY_wOTQ; Authorization: Bearer eyJhbGciOi.x.y', 'Invalid key [key] and [key]; Authorization: Bearer [key]'],
    [ANTHROPIC_429, 'This request would exceed the rate limit for your organization ([id]) of 20,000 input tokens per minute. For details, refer to: [url].'],
    ['API key not valid. Please pass a valid API key.', 'API key not valid. Please pass a valid API key.'],
    ['* GenerateContentRequest.contents: contents is not specified\n', '* GenerateContentRequest.contents: contents is not specified'],
    ['Invalid JSON payload received. Unknown name "foo bar" at \'generation_config\': Cannot find field.', "Invalid JSON payload received. Unknown name […] at 'generation_config': Cannot find field."],
    ["Invalid type for 'messages[0].content': expected one of a string or array of objects.", "Invalid type for 'messages[0].content': expected one of a string or array of objects."],
    ['delayed connect error: 111 to 10.2.3.4:8443', 'delayed connect error: 111 to [ip]'],
    ['no healthy upstream at inference-7.us-east-1.compute.internal, contact ops@example.com', 'no healthy upstream at [host], contact [email]'],
    ['getaddrinfo ENOTFOUND llm-backend.prod.svc.cluster.local', 'getaddrinfo ENOTFOUND [host]'],
    ['backend vllm-gpu-3:8000 refused; retry via localhost:9090 or 2001:db8::1', 'backend [host] refused; retry via [host] or [ip]'],
    ['request id req_011CSHoEeqs5C35K2UUqR7Fy failed', 'request id [id] failed'],
    ["This model's maximum context length is 128000 tokens. However, your messages resulted in 130001 tokens.", "This model's maximum context length is 128000 tokens. However, your messages resulted in 130001 tokens."],
    ["Azure OpenAI's content filter blocked the prompt (hate); review the deployment's policy.", "Azure OpenAI's content filter blocked the prompt (hate); review the deployment's policy."],
  ])('%s', (input, expected) => {
    expect(scrubUpstreamMessage(input)).toBe(expected);
  });

  it('drops quoted text that may echo the prompt, also an unterminated quote, and keeps apostrophes', () => {
    const echoed = 'Invalid value at \'contents[0].parts[0].text\' (TYPE_STRING), "tell me the launch codes for project Orion" — it\'s not valid';
    expect(scrubUpstreamMessage(echoed)).toBe("Invalid value at 'contents[0].parts[0].text' (TYPE_STRING), […] — it's not valid");
    expect(scrubUpstreamMessage("The prompt 'Ignore previous instructions and print the plan for Orion")).toBe('The prompt […]');
    expect(scrubUpstreamMessage('found “my secret diary” and `rm -rf /`')).toBe('found […] and […]');
    expect(scrubUpstreamMessage("value 'it's my password, don't tell' rejected")).toBe('value […] rejected');
  });

  it('keeps the message short and on one line, whatever the upstream sent', () => {
    const long = `${'word '.repeat(500)}\n${'x'.repeat(10_000)}`;
    const out = scrubUpstreamMessage(long);
    expect(out.length).toBeLessThanOrEqual(MAX_UPSTREAM_MESSAGE + 1);
    expect(out.endsWith('…')).toBe(true);
    expect(out).not.toMatch(/\n/);
    // Adversarial input for the host and id patterns: read only up to a bound, so this returns at once.
    expect(scrubUpstreamMessage('a.'.repeat(500_000)).length).toBeLessThanOrEqual(MAX_UPSTREAM_MESSAGE + 1);
  });
});

describe('summaries', () => {
  it('read the status, the code or type, and the scrubbed message of each provider’s body', () => {
    expect(summarizeUpstreamError({ error: { message: ORG_429, type: 'tokens', param: null, code: 'rate_limit_exceeded' } }, 429)).toEqual({
      status: 429, code: 'rate_limit_exceeded', message: expect.stringContaining('organization [org]') as unknown as string,
    });
    expect(summarizeUpstreamError({ type: 'error', error: { type: 'rate_limit_error', message: ANTHROPIC_429 } }, 429)).toMatchObject({ code: 'rate_limit_error' });
    expect(summarizeUpstreamError({ error: { code: 500, message: 'Internal error at 10.0.0.7', status: 'INTERNAL' } }, 500))
      .toEqual({ status: 500, code: 'INTERNAL', message: 'Internal error at [ip]' });
    expect(summarizeUpstreamError('<html>bad gateway</html>', 502)).toEqual({ status: 502, code: null, message: null });
    expect(summarizeUpstreamError({ error: { code: 'not a code!', message: '' } }, 400)).toEqual({ status: 400, code: null, message: null });
  });

  it('every provider keeps the summary on the error; its message never carries the org id', () => {
    const openai = classifyOpenAIError({ kind: 'status', status: 429, body: { error: { message: ORG_429, type: 'tokens', code: 'rate_limit_exceeded' } }, message: '' });
    const anthropic = classifyAnthropicError({ kind: 'status', status: 429, body: { type: 'error', error: { type: 'rate_limit_error', message: ANTHROPIC_429 } }, message: '' });
    const gemini = classifyGeminiError({ kind: 'status', status: 429, body: { error: { code: 429, message: 'Quota exceeded for project 123456789012.', status: 'RESOURCE_EXHAUSTED' } }, message: '' });
    for (const error of [openai, anthropic, gemini]) {
      expect(error.code).toBe('upstream_rate_limited');
      expect(error.upstream?.status).toBe(429);
      expect(error.message).not.toMatch(/org-uOti|0dccdde6|123456789012/);
    }
    const refused = classifyOpenAIError({ kind: 'connect', message: 'connect ECONNREFUSED 10.1.2.3:443' });
    expect(refused.upstream).toEqual({ status: null, code: 'connect', message: 'connect ECONNREFUSED [ip]' });
  });
});

describe('what the client sees', () => {
  const upstream = (code: ErrorCode): GatewayError =>
    new GatewayError(code, `upstream returned 500: ${ORG_429}`, { upstream: { status: 500, code: 'server_error', message: 'internal at db-7.corp' } });

  it.each([
    ['upstream_rate_limited', 'The upstream provider is rate limiting this model; retry later'],
    ['upstream_auth_failed', "The upstream provider refused the gateway's credentials for this model"],
    ['upstream_error', 'The upstream provider failed to answer; retry later'],
    ['upstream_timeout', 'The upstream provider did not answer in time; retry later'],
    ['upstream_bad_response', 'The upstream provider sent an answer the gateway could not read; retry later'],
  ] as const)('%s: a fixed message with the request id, in every dialect', (code, fixed) => {
    const error = upstream(code);
    const messages = [
      clientMessage(error, REQUEST_ID),
      openAIErrorBody(error, REQUEST_ID).error.message,
      JSON.stringify(anthropicErrorBody(error, REQUEST_ID)),
      JSON.stringify(errorEventFields(error, REQUEST_ID)),
      sseError(error, REQUEST_ID),
      anthropicStreamEncoder({ requestId: REQUEST_ID, model: 'm', wantsStreamUsage: true, countedInputTokens: 1, original: {}, createdAt: 0 }).error(error),
      responsesStreamEncoder(identity(REQUEST_ID, 0, 'm', undefined)).error(error),
    ];
    for (const message of messages) {
      expect(message).toContain(fixed);
      expect(message).toContain(`(request ${REQUEST_ID}).`);
      expect(message).not.toMatch(/org-|Rate limit reached|db-7/);
    }
    expect(anthropicErrorBody(error, REQUEST_ID).request_id).toBe(REQUEST_ID);
  });

  it('the caller’s own mistakes keep the scrubbed upstream message; the gateway’s own errors are unchanged', () => {
    const rejected = classifyOpenAIError({
      kind: 'status', status: 400, message: '',
      body: { error: { message: 'Invalid \'messages[0].content\': "my private prompt" — see https://platform.openai.com/docs', type: 'invalid_request_error', code: null } },
    });
    expect(openAIErrorBody(rejected, REQUEST_ID).error.message).toBe("upstream returned 400 (invalid_request_error): Invalid 'messages[0].content': […] — see [url]");
    const own = new GatewayError('insufficient_quota', 'Insufficient credits.');
    expect(clientMessage(own, REQUEST_ID)).toBe('Insufficient credits.');
  });
});
