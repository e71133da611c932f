// Gemini GenerateContentResponse → OpenAI chat completion.
// Wire formats:
//   GenerateContentResponse {candidates[], promptFeedback, usageMetadata, modelVersion, responseId}:
//     https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse
//   Safety (finishReason SAFETY, promptFeedback.blockReason): https://ai.google.dev/gemini-api/docs/safety-settings
//   Function calls: https://ai.google.dev/gemini-api/docs/function-calling
//   Thought parts (`thought: true`): https://ai.google.dev/gemini-api/docs/thinking
// Target format (OpenAI): https://platform.openai.com/docs/api-reference/chat/object
//
// Mappings chosen (see wire.ts for finish reasons and usage):
// - candidates[i] → choices[i] (index from Candidate.index when present); answer text parts are joined into
//   content (null when there is none); thought parts are joined into message.reasoning_content; functionCall
//   parts → tool_calls with fresh `call_…` ids (+ extra_content.google.thought_signature when signed).
// - A prompt blocked by promptFeedback.blockReason has no candidates: one choice with content null and
//   finish_reason 'content_filter'.
// - id = 'chatcmpl-' + responseId (random when absent); model = modelVersion, else the upstream model name.
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { GatewayError } from '../../domain/errors.ts';
import type { CallContext, ChatResult } from '../shared/types.ts';
import { isObject, type Json } from '../shared/usage.ts';
import { finishReasonFrom, logprobsFrom, partsOf, randomId, textOf, toolCallFrom, usageFromGemini, type ToolCall } from './wire.ts';

type Choice = ChatCompletion.Choice;
type Message = Choice['message'] & { reasoning_content?: string };

function choiceFrom(candidate: Json, position: number): Choice {
  const texts: string[] = [];
  const thoughts: string[] = [];
  const calls: ToolCall[] = [];
  for (const part of partsOf(candidate)) {
    const call = toolCallFrom(part);
    if (call) {
      calls.push(call);
      continue;
    }
    const text = textOf(part);
    if (text) (text.thought ? thoughts : texts).push(text.text);
  }
  const message: Message = { role: 'assistant', content: texts.length > 0 ? texts.join('') : null, refusal: null };
  if (thoughts.length > 0) message.reasoning_content = thoughts.join('');
  if (calls.length > 0) message.tool_calls = calls;
  return {
    index: typeof candidate.index === 'number' ? candidate.index : position,
    message,
    logprobs: logprobsFrom(candidate.logprobsResult),
    finish_reason: finishReasonFrom(candidate.finishReason, calls.length > 0),
  };
}

/** The choice standing for a prompt Gemini refused to answer (promptFeedback.blockReason, no candidates). */
export function isBlockedPrompt(body: Json): boolean {
  const feedback = body.promptFeedback;
  const none = !Array.isArray(body.candidates) || body.candidates.length === 0;
  return none && isObject(feedback) && typeof feedback.blockReason === 'string';
}

export function decodeChatResponse(body: unknown, call: CallContext): ChatResult {
  if (!isObject(body) || (!Array.isArray(body.candidates) && !isObject(body.promptFeedback))) {
    throw new GatewayError('upstream_bad_response', 'the upstream returned a response that is not a GenerateContentResponse');
  }
  const candidates = Array.isArray(body.candidates) ? body.candidates.filter(isObject) : [];
  const choices = candidates.map(choiceFrom);
  if (isBlockedPrompt(body)) {
    choices.push({ index: 0, message: { role: 'assistant', content: null, refusal: null }, logprobs: null, finish_reason: 'content_filter' });
  }
  const usage = usageFromGemini(body.usageMetadata);
  const response: ChatCompletion = {
    id: `chatcmpl-${typeof body.responseId === 'string' && body.responseId !== '' ? body.responseId : randomId(12)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: typeof body.modelVersion === 'string' && body.modelVersion !== '' ? body.modelVersion : call.upstreamModel,
    choices,
  };
  if (usage) response.usage = usage.openai;
  return { response, usage: usage?.usage, rawUsage: body.usageMetadata };
}
