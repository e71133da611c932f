// Anthropic Message → OpenAI chat completion, and Anthropic usage → normalized usage.
// Wire formats (Anthropic):
//   Message object, content blocks, stop_reason, usage: https://docs.anthropic.com/en/api/messages
//   thinking / redacted_thinking blocks:                https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
//   Prompt-caching usage fields:                        https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
// Target format (OpenAI): https://platform.openai.com/docs/api-reference/chat/object
//
// - text blocks are joined into message.content (null when the answer is only tool calls).
// - tool_use blocks → message.tool_calls (id, function name, arguments = JSON.stringify(input)).
// - thinking blocks → message.reasoning_content (the field DeepSeek-style OpenAI clients read); the signature
//   is not exposed. redacted_thinking blocks carry no readable text and are dropped: their tokens stay in
//   output_tokens, so they are still billed and counted.
// - stop_reason: end_turn, stop_sequence, pause_turn → 'stop'; max_tokens, model_context_window_exceeded →
//   'length'; tool_use → 'tool_calls'; refusal → 'content_filter'.
// - usage: input_tokens → input (Anthropic's input_tokens already excludes cache reads and writes),
//   cache_read_input_tokens → cachedInput, cache_creation_input_tokens → cacheWrite, output_tokens → output,
//   output_tokens_details.thinking_tokens (when reported) → reasoning. OpenAI's usage object gets
//   prompt_tokens = input + cache read + cache write, completion_tokens = output_tokens,
//   prompt_tokens_details.cached_tokens = cache read.
import type { ChatCompletion, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import { GatewayError } from '../../domain/errors.ts';
import type { Usage } from '../../domain/usage.ts';
import type { ChatResult } from '../shared/types.ts';
import { int, isObject, type Json } from '../shared/usage.ts';

export type FinishReason = ChatCompletion.Choice['finish_reason'];

export function finishReason(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default: // end_turn, stop_sequence, pause_turn
      return 'stop';
  }
}

/** The parts of Anthropic usage the gateway reads; later values (message_delta) override earlier ones. */
export interface AnthropicUsage {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
  thinking: number;
}

export const EMPTY_ANTHROPIC_USAGE: Readonly<AnthropicUsage> = Object.freeze({ input: 0, cacheRead: 0, cacheWrite: 0, output: 0, thinking: 0 });

/** Merges the fields present in an Anthropic usage object over `base` (stream usage is cumulative). */
export function readUsage(raw: unknown, base: AnthropicUsage = EMPTY_ANTHROPIC_USAGE): AnthropicUsage {
  if (!isObject(raw)) return { ...base };
  const pick = (key: string, fallback: number): number => (typeof raw[key] === 'number' ? int(raw[key]) : fallback);
  const details = isObject(raw.output_tokens_details) ? raw.output_tokens_details : undefined;
  return {
    input: pick('input_tokens', base.input),
    cacheRead: pick('cache_read_input_tokens', base.cacheRead),
    cacheWrite: pick('cache_creation_input_tokens', base.cacheWrite),
    output: pick('output_tokens', base.output),
    thinking: details && typeof details.thinking_tokens === 'number' ? int(details.thinking_tokens) : base.thinking,
  };
}

export function normalizedUsage(u: AnthropicUsage): Usage {
  return { input: u.input, cachedInput: u.cacheRead, cacheWrite: u.cacheWrite, output: u.output, reasoning: Math.min(u.thinking, u.output) };
}

export function openAIUsage(u: AnthropicUsage): CompletionUsage {
  const prompt = u.input + u.cacheRead + u.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output,
    total_tokens: prompt + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead },
    completion_tokens_details: { reasoning_tokens: Math.min(u.thinking, u.output) },
  };
}

export function completionId(messageId: unknown): string {
  return `chatcmpl-${typeof messageId === 'string' && messageId !== '' ? messageId : 'anthropic'}`;
}

/** OpenAI's assistant message plus `reasoning_content` (not in OpenAI's own types). */
type MessageWithReasoning = ChatCompletion.Choice['message'] & { reasoning_content?: string };

export function decodeAnthropicResponse(body: unknown, call: { upstreamModel: string }): ChatResult {
  if (!isObject(body) || body.type !== 'message' || !Array.isArray(body.content)) {
    throw new GatewayError('upstream_bad_response', 'the upstream returned a response that is not an Anthropic message');
  }
  const texts: string[] = [];
  const thoughts: string[] = [];
  const toolCalls: ChatCompletionMessageToolCall[] = [];
  for (const block of body.content as unknown[]) {
    if (!isObject(block)) continue;
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
    else if (block.type === 'thinking' && typeof block.thinking === 'string') thoughts.push(block.thinking);
    else if (block.type === 'tool_use' && typeof block.id === 'string' && typeof block.name === 'string') {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
    // redacted_thinking (opaque), server tool blocks: nothing an OpenAI client can read.
  }
  const message: MessageWithReasoning = {
    role: 'assistant',
    content: texts.length === 0 && toolCalls.length > 0 ? null : texts.join(''),
    refusal: null,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (thoughts.length > 0) message.reasoning_content = thoughts.join('');
  const usage = isObject(body.usage) ? readUsage(body.usage) : undefined;
  const response: ChatCompletion = {
    id: completionId(body.id),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: typeof body.model === 'string' ? body.model : call.upstreamModel,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(body.stop_reason) }],
  };
  if (usage) response.usage = openAIUsage(usage);
  return { response, usage: usage && normalizedUsage(usage), rawUsage: body.usage as Json | undefined };
}
