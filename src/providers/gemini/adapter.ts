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
  describe: {
    name: 'Google Gemini',
    docsUrl: 'https://ai.google.dev/api/generate-content',
    defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta',
    auth: { header: 'x-goog-api-key' },
    streamUsage: 'always',
    capabilities: { chat: true, embeddings: false, tools: true, vision: true, jsonSchema: true },
    quirks: [
      'tool parameter schemas are reduced to Gemini\'s OpenAPI subset (removed keywords reported as warnings)',
      'reasoning_effort → thinkingBudget (low 1024, medium 8192, high 24576); thoughts come back as reasoning_content',
      'safety blocks and blocked prompts → finish_reason content_filter',
      'a stream that ends without a finishReason is an upstream error (billed by what was delivered)',
    ],
  },
  chat: {
    encodeRequest: encodeChatRequest,
    decodeResponse: decodeChatResponse,
    decodeStream: decodeChatStream,
  },
  classifyError: classifyGeminiError,
};
