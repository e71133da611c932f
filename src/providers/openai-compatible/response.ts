// OpenAI chat completion object and embeddings response → normalized usage.
// https://platform.openai.com/docs/api-reference/chat/object
// https://platform.openai.com/docs/api-reference/embeddings/object
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import { GatewayError } from '../../domain/errors.ts';
import type { Usage } from '../../domain/usage.ts';
import type { ChatResult, EmbeddingsResult } from '../shared/types.ts';
import { int, isObject } from '../shared/usage.ts';

/** OpenAI `usage` (CompletionUsage) → normalized usage; undefined when absent or null. */
export function usageFromOpenAI(usage: unknown): Usage | undefined {
  if (!isObject(usage)) return undefined;
  const prompt = int(usage.prompt_tokens);
  const completion = int(usage.completion_tokens);
  const cached = isObject(usage.prompt_tokens_details) ? int(usage.prompt_tokens_details.cached_tokens) : 0;
  const reasoning = isObject(usage.completion_tokens_details) ? int(usage.completion_tokens_details.reasoning_tokens) : 0;
  const cachedInput = Math.min(cached, prompt);
  return { input: prompt - cachedInput, cachedInput, cacheWrite: 0, output: completion, reasoning };
}

export function decodeChatResponse(body: unknown): ChatResult {
  if (!isObject(body) || !Array.isArray(body.choices)) {
    throw new GatewayError('upstream_bad_response', 'the upstream returned a response that is not a chat completion');
  }
  return { response: body as unknown as ChatCompletion, usage: usageFromOpenAI(body.usage), rawUsage: body.usage };
}

export function decodeEmbeddingsResponse(body: unknown): EmbeddingsResult {
  if (!isObject(body) || !Array.isArray(body.data)) {
    throw new GatewayError('upstream_bad_response', 'the upstream returned a response that is not an embeddings list');
  }
  const usage = isObject(body.usage) ? { input: int(body.usage.prompt_tokens), cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 } : undefined;
  return { response: body as unknown as CreateEmbeddingResponse, usage };
}
