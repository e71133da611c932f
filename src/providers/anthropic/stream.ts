// Anthropic Messages streaming (SSE `event: <type>` + `data: {...}`) → OpenAI chat.completion.chunk events.
// https://docs.anthropic.com/en/docs/build-with-claude/streaming
// https://docs.anthropic.com/en/api/messages-streaming
// Target format (OpenAI): https://platform.openai.com/docs/api-reference/chat-streaming
//
//   message_start            → a role chunk (delta {role:'assistant', content:''}); input usage remembered
//   content_block_start      → text: nothing (unless it carries text); tool_use: a tool_calls delta with
//                              index (tool blocks seen so far), id, type 'function', name, arguments ''
//   content_block_delta      → text_delta: content; input_json_delta: that tool call's arguments fragment;
//                              thinking_delta: reasoning_content; signature_delta, citations_delta: nothing
//   content_block_stop, ping → nothing; unknown event types are ignored (Anthropic's versioning policy)
//   message_delta            → a chunk with the mapped finish_reason; usage (cumulative) remembered
//   message_stop             → a chunk with `choices: []` and the OpenAI usage (normalized usage on the event),
//                              then {type:'done'}
//   error                    → {type:'error'} (overloaded_error → upstream_error, retryable)
// After message_stop (or an error) the frames are still read to the end: leaving early would destroy the
// upstream connection instead of returning it to the keep-alive pool. Every chunk carries the id
// `chatcmpl-<message id>`, the upstream's model and one `created` time.
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { GatewayError } from '../../domain/errors.ts';
import type { CallContext, ChatStreamEvent, SseFrame } from '../shared/types.ts';
import { isObject } from '../shared/usage.ts';
import { streamError } from './errors.ts';
import { completionId, EMPTY_ANTHROPIC_USAGE, finishReason, normalizedUsage, openAIUsage, readUsage, type AnthropicUsage, type FinishReason } from './response.ts';

type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };

class ChunkMaker {
  id = completionId(undefined);
  model: string;
  readonly created = Math.floor(Date.now() / 1000);

  constructor(model: string) {
    this.model = model;
  }

  chunk(delta: Delta, finish: FinishReason | null = null): ChatStreamEvent {
    const chunk: ChatCompletionChunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    return { type: 'chunk', chunk, raw: undefined, usage: undefined };
  }

  usage(u: AnthropicUsage): ChatStreamEvent {
    const chunk: ChatCompletionChunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [],
      usage: openAIUsage(u),
    };
    return { type: 'chunk', chunk, raw: undefined, usage: normalizedUsage(u) };
  }
}

export async function* decodeAnthropicStream(frames: AsyncIterable<SseFrame>, call: CallContext): AsyncGenerator<ChatStreamEvent> {
  const out = new ChunkMaker(call.upstreamModel);
  let usage: AnthropicUsage = { ...EMPTY_ANTHROPIC_USAGE };
  /** Content-block index → OpenAI tool_calls index. */
  const toolIndex = new Map<number, number>();
  let finishSent = false;
  let over = false;

  for await (const frame of frames) {
    if (over) continue; // read on to the end of the body (keep-alive), see above
    let event: unknown;
    try {
      event = JSON.parse(frame.data);
    } catch {
      over = true;
      yield { type: 'error', error: new GatewayError('upstream_bad_response', 'the upstream sent a malformed stream event') };
      continue;
    }
    if (!isObject(event)) continue;
    const type = typeof event.type === 'string' ? event.type : frame.event;
    switch (type) {
      case 'message_start': {
        const message = isObject(event.message) ? event.message : {};
        if (typeof message.id === 'string') out.id = completionId(message.id);
        if (typeof message.model === 'string') out.model = message.model;
        usage = readUsage(message.usage, usage);
        yield out.chunk({ role: 'assistant', content: '' });
        break;
      }
      case 'content_block_start': {
        const block = isObject(event.content_block) ? event.content_block : {};
        const index = typeof event.index === 'number' ? event.index : -1;
        if (block.type === 'tool_use' && typeof block.id === 'string' && typeof block.name === 'string') {
          const position = toolIndex.size;
          toolIndex.set(index, position);
          const initial = isObject(block.input) && Object.keys(block.input).length > 0 ? JSON.stringify(block.input) : '';
          yield out.chunk({ tool_calls: [{ index: position, id: block.id, type: 'function', function: { name: block.name, arguments: initial } }] });
        } else if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') {
          yield out.chunk({ content: block.text });
        } else if (block.type === 'thinking' && typeof block.thinking === 'string' && block.thinking !== '') {
          yield out.chunk({ reasoning_content: block.thinking });
        }
        break;
      }
      case 'content_block_delta': {
        const delta = isObject(event.delta) ? event.delta : {};
        if (delta.type === 'text_delta' && typeof delta.text === 'string') {
          yield out.chunk({ content: delta.text });
        } else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string' && delta.partial_json !== '') {
          const position = toolIndex.get(typeof event.index === 'number' ? event.index : -1);
          if (position !== undefined) yield out.chunk({ tool_calls: [{ index: position, function: { arguments: delta.partial_json } }] });
        } else if (delta.type === 'thinking_delta' && typeof delta.thinking === 'string') {
          yield out.chunk({ reasoning_content: delta.thinking });
        }
        break;
      }
      case 'message_delta': {
        usage = readUsage(event.usage, usage);
        const delta = isObject(event.delta) ? event.delta : {};
        if (!finishSent && typeof delta.stop_reason === 'string') {
          finishSent = true;
          yield out.chunk({}, finishReason(delta.stop_reason));
        }
        break;
      }
      case 'message_stop':
        if (!finishSent) {
          finishSent = true;
          yield out.chunk({}, 'stop');
        }
        over = true;
        yield out.usage(usage);
        yield { type: 'done' };
        break;
      case 'error':
        over = true;
        yield { type: 'error', error: streamError(event) };
        break;
      default: // ping, content_block_stop, event types added later
        break;
    }
  }
}
