// Reading Gemini's GenerateContentResponse pieces, shared by response.ts (JSON) and stream.ts (SSE chunks).
// Wire format:
//   GenerateContentResponse, Candidate, FinishReason, PromptFeedback, UsageMetadata, LogprobsResult:
//     https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse
//   Part (text / thought / thoughtSignature / functionCall):  https://ai.google.dev/api/caching#Part
//   Thinking (thought parts, thoughtsTokenCount):             https://ai.google.dev/gemini-api/docs/thinking
//   Thought signatures on functionCall parts:                 https://ai.google.dev/gemini-api/docs/thought-signatures
//   Context caching (cachedContentTokenCount):                https://ai.google.dev/gemini-api/docs/caching
// Target format (OpenAI): https://platform.openai.com/docs/api-reference/chat/object
//
// Usage: promptTokenCount (+ toolUsePromptTokenCount, the prompt of built-in tools, when present) is the prompt;
// cachedContentTokenCount is the part of it served from the cache; candidatesTokenCount excludes the thoughts,
// so OpenAI's completion_tokens = candidates + thoughts and reasoning_tokens = thoughts.
import { randomBytes } from 'node:crypto';
import type { ChatCompletion, ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { Usage } from '../../domain/usage.ts';
import { int, isObject, type Json } from '../shared/usage.ts';

export type FinishReason = ChatCompletion.Choice['finish_reason'];

/** Gemini finish reasons that mean "the content was filtered". */
const FILTERED = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/**
 * Candidate.finishReason → OpenAI finish_reason. STOP (or no reason at the end) with function calls is
 * 'tool_calls'; MAX_TOKENS is 'length'; the safety family is 'content_filter'; anything else (OTHER, LANGUAGE,
 * MALFORMED_FUNCTION_CALL, …) is 'stop', the closest OpenAI has to "ended without a usable reason".
 */
export function finishReasonFrom(reason: unknown, hasToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (typeof reason === 'string' && FILTERED.has(reason)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

export interface DecodedUsage {
  usage: Usage;
  openai: CompletionUsage;
}

/** UsageMetadata → normalized usage and the OpenAI usage object; undefined when absent. */
export function usageFromGemini(meta: unknown): DecodedUsage | undefined {
  if (!isObject(meta)) return undefined;
  const prompt = int(meta.promptTokenCount) + int(meta.toolUsePromptTokenCount);
  const cached = Math.min(int(meta.cachedContentTokenCount), prompt);
  const thoughts = int(meta.thoughtsTokenCount);
  const completion = int(meta.candidatesTokenCount) + thoughts;
  return {
    usage: { input: prompt - cached, cachedInput: cached, cacheWrite: 0, output: completion, reasoning: thoughts },
    openai: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cached },
      completion_tokens_details: { reasoning_tokens: thoughts },
    },
  };
}

export function randomId(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** The parts of a candidate's content (empty when the candidate has none, e.g. a SAFETY stop). */
export function partsOf(candidate: Json): Json[] {
  const content = candidate.content;
  if (!isObject(content) || !Array.isArray(content.parts)) return [];
  return content.parts.filter(isObject);
}

export type ToolCall = ChatCompletionMessageFunctionToolCall & {
  /** Google's own convention (its OpenAI-compatible endpoint) for carrying a thought signature. */
  extra_content?: { google: { thought_signature: string } };
};

/** A functionCall part → an OpenAI tool call with a fresh `call_…` id and the args as a JSON string. */
export function toolCallFrom(part: Json): ToolCall | undefined {
  const call = part.functionCall;
  if (!isObject(call) || typeof call.name !== 'string') return undefined;
  const out: ToolCall = {
    id: `call_${randomId(12)}`,
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(isObject(call.args) ? call.args : {}) },
  };
  if (typeof part.thoughtSignature === 'string' && part.thoughtSignature !== '') {
    out.extra_content = { google: { thought_signature: part.thoughtSignature } };
  }
  return out;
}

/** A text part's text, and whether it is a thought (thinking summary) rather than answer text. */
export function textOf(part: Json): { text: string; thought: boolean } | undefined {
  if (typeof part.text !== 'string') return undefined;
  return { text: part.text, thought: part.thought === true };
}

type Logprobs = NonNullable<ChatCompletion.Choice['logprobs']>;
type TokenLogprob = NonNullable<Logprobs['content']>[number];

const utf8 = new TextEncoder();

function tokenLogprob(candidate: unknown): Omit<TokenLogprob, 'top_logprobs'> {
  const c = isObject(candidate) ? candidate : {};
  const token = typeof c.token === 'string' ? c.token : '';
  const logprob = typeof c.logProbability === 'number' ? c.logProbability : 0;
  return { token, logprob, bytes: Array.from(utf8.encode(token)) };
}

/** Candidate.logprobsResult (chosenCandidates[i] with topCandidates[i]) → OpenAI choice.logprobs. */
export function logprobsFrom(result: unknown): Logprobs | null {
  if (!isObject(result) || !Array.isArray(result.chosenCandidates)) return null;
  const top = Array.isArray(result.topCandidates) ? result.topCandidates : [];
  const content = result.chosenCandidates.map((chosen, i): TokenLogprob => {
    const step: unknown = top[i];
    const alternatives = isObject(step) && Array.isArray(step.candidates) ? step.candidates : [];
    return { ...tokenLogprob(chosen), top_logprobs: alternatives.map(tokenLogprob) };
  });
  return { content, refusal: null };
}
