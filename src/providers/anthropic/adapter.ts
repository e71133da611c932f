// The Anthropic Messages adapter: OpenAI chat requests translated to `POST {base_url}/messages` and back.
// https://docs.anthropic.com/en/api/messages
// A pure translator (ARCHITECTURE §3): the core sends, times out, retries and fails over.
import type { ProviderAdapter } from '../shared/types.ts';
import { classifyAnthropicError } from './errors.ts';
import { anthropicNative } from './native.ts';
import { encodeAnthropicRequest } from './request.ts';
import { decodeAnthropicResponse } from './response.ts';
import { decodeAnthropicStream } from './stream.ts';

export const anthropicAdapter: ProviderAdapter = {
  id: 'anthropic',
  protocol: 'anthropic',
  describe: {
    name: 'Anthropic',
    docsUrl: 'https://docs.claude.com/en/api/messages',
    defaultBaseUrl: 'https://api.anthropic.com/v1',
    auth: { header: 'x-api-key' },
    streamUsage: 'always',
    capabilities: { chat: true, embeddings: false, tools: true, vision: true, jsonSchema: false },
    quirks: [
      'max_tokens is required upstream: the model\'s max_output_tokens is sent when the request sets none',
      'reasoning_effort → extended thinking budget (low 1024, medium 4096, high 16384 tokens)',
      'temperature above 1 is clamped to 1 (warning); n > 1 is refused (400)',
      'response_format json_object/json_schema is emulated with a system instruction (warning)',
      'POST /v1/messages to an Anthropic channel is passed through byte for byte (thinking signatures kept)',
    ],
  },
  chat: {
    encodeRequest: encodeAnthropicRequest,
    decodeResponse: decodeAnthropicResponse,
    decodeStream: decodeAnthropicStream,
  },
  native: anthropicNative,
  classifyError: classifyAnthropicError,
};
