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
  chat: {
    encodeRequest: encodeAnthropicRequest,
    decodeResponse: decodeAnthropicResponse,
    decodeStream: decodeAnthropicStream,
  },
  native: anthropicNative,
  classifyError: classifyAnthropicError,
};
