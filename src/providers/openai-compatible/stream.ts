// OpenAI chat streaming: `data: {chat.completion.chunk}` frames, then `data: [DONE]`.
// https://platform.openai.com/docs/api-reference/chat-streaming
// With stream_options.include_usage the last chunk before [DONE] has `choices: []` and the usage.
// Some compatible servers send `data: {"error": {...}}` mid-stream: that becomes an error event.
// Some report the usage inside the last choice instead (`choices[0].usage`, as Moonshot's streams have);
// it is read from there when the chunk has none of its own.
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { GatewayError } from '../../domain/errors.ts';
import type { ChatStreamEvent, SseFrame } from '../shared/types.ts';
import { summarizeUpstreamError, upstreamError } from '../shared/errors.ts';
import { isObject } from '../shared/usage.ts';
import { usageFromOpenAI } from './response.ts';

function chunkUsage(chunk: Record<string, unknown>): unknown {
  if (isObject(chunk.usage)) return chunk.usage;
  if (!Array.isArray(chunk.choices)) return undefined;
  for (const choice of chunk.choices) if (isObject(choice) && isObject(choice.usage)) return choice.usage;
  return undefined;
}

export async function* decodeChatStream(frames: AsyncIterable<SseFrame>): AsyncGenerator<ChatStreamEvent> {
  let done = false;
  for await (const frame of frames) {
    // After [DONE], read on to the end of the body: leaving early would destroy the upstream connection
    // instead of returning it to the keep-alive pool.
    if (done) continue;
    const data = frame.data;
    if (data === '[DONE]') {
      done = true;
      yield { type: 'done' };
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      yield { type: 'error', error: new GatewayError('upstream_bad_response', 'the upstream sent a malformed stream event') };
      return;
    }
    if (!isObject(parsed)) continue;
    if (parsed.error !== undefined && parsed.choices === undefined) {
      yield { type: 'error', error: upstreamError('upstream_error', summarizeUpstreamError(parsed, undefined)) };
      return;
    }
    yield { type: 'chunk', chunk: parsed as unknown as ChatCompletionChunk, raw: data, usage: usageFromOpenAI(chunkUsage(parsed)) };
  }
}
