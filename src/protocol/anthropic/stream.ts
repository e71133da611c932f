// Canonical chat chunks → Anthropic stream events, in the documented order:
// message_start, (content_block_start, content_block_delta*, content_block_stop)*, message_delta, message_stop.
// https://docs.claude.com/en/docs/build-with-claude/streaming
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { GatewayError } from '../../domain/errors.ts';
import type { ChatStreamEncoder, DialectContext, Receipt } from '../dialect.ts';
import { anthropicErrorEvent } from './errors.ts';
import { anthropicUsage, messageId, stopReason, type StopReason } from './response.ts';
import { anthropicEvent } from './sse.ts';

type Open = { kind: 'text' | 'thinking' | 'tool'; index: number; toolIndex?: number } | undefined;

export function anthropicStreamEncoder(context: DialectContext): ChatStreamEncoder {
  let started = false;
  let nextIndex = 0;
  let open: Open;
  let stop: StopReason | null = null;
  /** OpenAI tool-call index → the Anthropic block index it opened. */
  const toolBlocks = new Map<number, number>();

  const start = (chunk: ChatCompletionChunk | undefined): string => {
    if (started) return '';
    started = true;
    return anthropicEvent('message_start', {
      type: 'message_start',
      message: {
        id: messageId(chunk?.id, context.requestId),
        type: 'message',
        role: 'assistant',
        model: context.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: context.countedInputTokens, output_tokens: 0 },
      },
    });
  };
  const close = (): string => {
    if (!open) return '';
    const text = anthropicEvent('content_block_stop', { type: 'content_block_stop', index: open.index });
    open = undefined;
    return text;
  };
  const openBlock = (kind: 'text' | 'thinking', block: Record<string, unknown>): string => {
    if (open?.kind === kind) return '';
    const text = close();
    open = { kind, index: nextIndex++ };
    return text + anthropicEvent('content_block_start', { type: 'content_block_start', index: open.index, content_block: block });
  };

  return {
    chunk(chunk: ChatCompletionChunk, _raw: string | undefined, _receipt: Receipt | undefined): string {
      let out = start(chunk);
      for (const choice of (chunk.choices ?? []).filter((c) => c.index === 0)) {
        const delta = choice.delta as (typeof choice.delta & { reasoning_content?: unknown }) | undefined;
        if (typeof delta?.reasoning_content === 'string' && delta.reasoning_content) {
          out += openBlock('thinking', { type: 'thinking', thinking: '' });
          out += anthropicEvent('content_block_delta', { type: 'content_block_delta', index: open?.index, delta: { type: 'thinking_delta', thinking: delta.reasoning_content } });
        }
        if (typeof delta?.content === 'string' && delta.content) {
          out += openBlock('text', { type: 'text', text: '' });
          out += anthropicEvent('content_block_delta', { type: 'content_block_delta', index: open?.index, delta: { type: 'text_delta', text: delta.content } });
        }
        for (const call of delta?.tool_calls ?? []) {
          let index = toolBlocks.get(call.index);
          if (index === undefined) {
            out += close();
            index = nextIndex++;
            toolBlocks.set(call.index, index);
            open = { kind: 'tool', index, toolIndex: call.index };
            out += anthropicEvent('content_block_start', {
              type: 'content_block_start',
              index,
              content_block: { type: 'tool_use', id: call.id ?? `toolu_${context.requestId}_${call.index}`, name: call.function?.name ?? '', input: {} },
            });
          }
          if (call.function?.arguments) {
            out += anthropicEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: call.function.arguments } });
          }
        }
        if (choice.finish_reason) stop = stopReason(choice.finish_reason);
      }
      return out;
    },
    end(receipt: Receipt | undefined): string {
      return (
        start(undefined) +
        close() +
        anthropicEvent('message_delta', { type: 'message_delta', delta: { stop_reason: stop ?? 'end_turn', stop_sequence: null }, usage: anthropicUsage(receipt) }) +
        anthropicEvent('message_stop', { type: 'message_stop' })
      );
    },
    error(error: GatewayError): string {
      return start(undefined) + anthropicEvent('error', anthropicErrorEvent(error, context.requestId));
    },
  };
}
