// The canonical chat completion → an Anthropic Message.
// https://docs.claude.com/en/api/messages (response: content blocks, stop_reason, usage)
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { formatCredits } from '../../domain/money.ts';
import type { Receipt } from '../dialect.ts';

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal';

export function stopReason(finish: string | null | undefined): StopReason | null {
  switch (finish) {
    case 'stop':
      return 'end_turn';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return finish ? 'end_turn' : null;
  }
}

export function anthropicUsage(receipt: Receipt | undefined): Record<string, number | string> {
  const u = receipt?.usage;
  return {
    input_tokens: u?.input ?? 0,
    cache_creation_input_tokens: u?.cacheWrite ?? 0,
    cache_read_input_tokens: u?.cachedInput ?? 0,
    output_tokens: u?.output ?? 0,
    ...(receipt ? { cost: formatCredits(receipt.cost) } : {}),
  };
}

/** `msg_…` from the upstream's id, so the same request keeps one id across protocols. */
export function messageId(id: string | undefined, requestId: string): string {
  const base = id ? id.replace(/^(chatcmpl-|msg_)/, '') : requestId.replace(/^req_/, '');
  return `msg_${base}`;
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text || '{}');
  } catch {
    return { _raw_arguments: text };
  }
}

export function toAnthropicMessage(response: ChatCompletion, receipt: Receipt, model: string, requestId: string): Record<string, unknown> {
  const choice = response.choices[0];
  const message = choice?.message as (ChatCompletion['choices'][number]['message'] & { reasoning_content?: unknown }) | undefined;
  const content: Array<Record<string, unknown>> = [];
  if (typeof message?.reasoning_content === 'string' && message.reasoning_content) {
    content.push({ type: 'thinking', thinking: message.reasoning_content, signature: '' });
  }
  if (typeof message?.content === 'string' && message.content) content.push({ type: 'text', text: message.content });
  if (typeof message?.refusal === 'string' && message.refusal) content.push({ type: 'text', text: message.refusal });
  for (const call of message?.tool_calls ?? []) {
    if (call.type !== 'function') continue;
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call.function.arguments) });
  }
  return {
    id: messageId(response.id, requestId),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason(choice?.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(receipt),
  };
}
