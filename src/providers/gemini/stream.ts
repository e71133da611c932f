// Gemini streaming (`:streamGenerateContent?alt=sse`) → OpenAI chat.completion.chunk events.
// Wire format: every SSE `data:` is a whole GenerateContentResponse holding only the new parts; the last one
// of a candidate carries its finishReason; usageMetadata is a running total (the last one is final). There is
// no [DONE]: the stream ends with the body.
//   https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
//   https://ai.google.dev/gemini-api/docs/text-generation#streaming-responses
//   Errors inside a stream: a Google error object, https://ai.google.dev/gemini-api/docs/troubleshooting
// Target format (OpenAI): https://platform.openai.com/docs/api-reference/chat-streaming
//
// Emitted, per candidate index: a role chunk when the candidate first appears; then one chunk per part —
// content for text, reasoning_content for thought parts, tool_calls for a functionCall (whole: id, name and
// the complete arguments in one delta, indexes counting up); then a chunk with the finish_reason. A blocked
// prompt (promptFeedback.blockReason, no candidates) is one choice finishing with 'content_filter'.
// When the body ends: a `choices: []` chunk with the usage of the last usageMetadata (when there was one),
// then done. A body that ends before every candidate has finished is a cut stream: an error event instead.
// An error object in the stream, or a frame that is not JSON, is an error event and ends the decoding.
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { GatewayError } from '../../domain/errors.ts';
import type { CallContext, ChatStreamEvent, SseFrame } from '../shared/types.ts';
import { isObject, type Json } from '../shared/usage.ts';
import { classifyGeminiError, googleError } from './errors.ts';
import { isBlockedPrompt } from './response.ts';
import { finishReasonFrom, logprobsFrom, partsOf, randomId, textOf, toolCallFrom, usageFromGemini, type FinishReason } from './wire.ts';

type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };
type ChunkLogprobs = ChatCompletionChunk.Choice['logprobs'];

class StreamState {
  id: string | undefined;
  model: string;
  readonly created = Math.floor(Date.now() / 1000);
  readonly seen = new Set<number>();
  readonly finished = new Set<number>();
  readonly toolCalls = new Map<number, number>();
  blocked = false;
  usageMetadata: unknown;

  constructor(model: string) {
    this.model = model;
  }

  chunk(choices: ChatCompletionChunk.Choice[]): ChatStreamEvent {
    const chunk: ChatCompletionChunk = {
      id: this.id ?? '',
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices,
    };
    return { type: 'chunk', chunk, raw: undefined, usage: undefined };
  }

  choice(index: number, delta: Delta, finish: FinishReason | null = null, logprobs: ChunkLogprobs = null): ChatStreamEvent {
    return this.chunk([{ index, delta, logprobs, finish_reason: finish }]);
  }

  /** Complete when some candidate (or the prompt block) ended and every candidate that started has ended. */
  get complete(): boolean {
    if (this.blocked) return true;
    if (this.finished.size === 0) return false;
    for (const index of this.seen) if (!this.finished.has(index)) return false;
    return true;
  }
}

function* candidateEvents(state: StreamState, candidate: Json, position: number): Generator<ChatStreamEvent> {
  const index = typeof candidate.index === 'number' ? candidate.index : position;
  if (!state.seen.has(index)) {
    state.seen.add(index);
    yield state.choice(index, { role: 'assistant', content: '' });
  }
  // A chunk's logprobsResult covers all of its tokens: it goes with the first text delta of the chunk.
  let logprobs = logprobsFrom(candidate.logprobsResult);
  for (const part of partsOf(candidate)) {
    const call = toolCallFrom(part);
    if (call) {
      const n = state.toolCalls.get(index) ?? 0;
      state.toolCalls.set(index, n + 1);
      yield state.choice(index, { tool_calls: [{ index: n, ...call }] });
      continue;
    }
    const text = textOf(part);
    if (!text || text.text === '') continue;
    if (text.thought) {
      yield state.choice(index, { reasoning_content: text.text });
      continue;
    }
    yield state.choice(index, { content: text.text }, null, logprobs);
    logprobs = null;
  }
  if (typeof candidate.finishReason === 'string' && !state.finished.has(index)) {
    state.finished.add(index);
    yield state.choice(index, {}, finishReasonFrom(candidate.finishReason, state.toolCalls.has(index)));
  }
}

export async function* decodeChatStream(frames: AsyncIterable<SseFrame>, call: CallContext): AsyncGenerator<ChatStreamEvent> {
  const state = new StreamState(call.upstreamModel);
  for await (const frame of frames) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(frame.data);
    } catch {
      yield { type: 'error', error: new GatewayError('upstream_bad_response', 'the upstream sent a malformed stream event') };
      return;
    }
    if (!isObject(parsed)) continue;
    if (isObject(parsed.error)) {
      const code = googleError(parsed).code;
      yield { type: 'error', error: classifyGeminiError({ kind: 'status', status: code ?? 500, body: parsed, message: 'error in stream' }) };
      return;
    }
    state.id ??= `chatcmpl-${typeof parsed.responseId === 'string' && parsed.responseId !== '' ? parsed.responseId : randomId(12)}`;
    if (typeof parsed.modelVersion === 'string' && parsed.modelVersion !== '') state.model = parsed.modelVersion;
    if (parsed.usageMetadata !== undefined) state.usageMetadata = parsed.usageMetadata;
    const candidates = Array.isArray(parsed.candidates) ? parsed.candidates : [];
    for (const [position, candidate] of candidates.entries()) {
      if (isObject(candidate)) yield* candidateEvents(state, candidate, position);
    }
    if (isBlockedPrompt(parsed) && !state.blocked) {
      state.blocked = true;
      yield state.choice(0, { role: 'assistant', content: null });
      yield state.choice(0, {}, 'content_filter');
    }
  }
  if (!state.complete) {
    yield { type: 'error', error: new GatewayError('upstream_bad_response', 'the upstream ended the stream before it was complete') };
    return;
  }
  const usage = usageFromGemini(state.usageMetadata);
  if (usage) {
    const event = state.chunk([]);
    if (event.type === 'chunk') {
      event.chunk.usage = usage.openai;
      event.usage = usage.usage;
    }
    yield event;
  }
  yield { type: 'done' };
}
