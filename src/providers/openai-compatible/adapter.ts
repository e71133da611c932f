// The generic OpenAI-compatible adapter: OpenAI itself and every vendor that speaks its protocol.
import type { ProviderAdapter } from '../shared/types.ts';
import { classifyOpenAIError } from './errors.ts';
import { encodeChatRequest, encodeEmbeddingsRequest } from './request.ts';
import { decodeChatResponse, decodeEmbeddingsResponse } from './response.ts';
import { decodeChatStream } from './stream.ts';

export const openAICompatibleAdapter: ProviderAdapter = {
  id: 'openai-compatible',
  protocol: 'openai',
  chat: {
    encodeRequest: encodeChatRequest,
    decodeResponse: decodeChatResponse,
    decodeStream: decodeChatStream,
  },
  embeddings: {
    encodeRequest: encodeEmbeddingsRequest,
    decodeResponse: decodeEmbeddingsResponse,
  },
  classifyError: classifyOpenAIError,
};
