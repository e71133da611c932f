// The Gemini adapter (Google AI Studio / Gemini Developer API, generateContent): a pure translator between
// OpenAI Chat Completions and Gemini's own protocol. https://ai.google.dev/api/generate-content
// Embeddings are not offered: see the note in fixtures/README.md.
import type { ProviderAdapter } from '../shared/types.ts';
import { classifyGeminiError } from './errors.ts';
import { encodeChatRequest } from './request.ts';
import { decodeChatResponse } from './response.ts';
import { decodeChatStream } from './stream.ts';

export const geminiAdapter: ProviderAdapter = {
  id: 'gemini',
  protocol: 'gemini',
  chat: {
    encodeRequest: encodeChatRequest,
    decodeResponse: decodeChatResponse,
    decodeStream: decodeChatStream,
  },
  classifyError: classifyGeminiError,
};
