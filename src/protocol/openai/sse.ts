// The one place that writes OpenAI SSE frames (ARCHITECTURE §3, §8).
// https://platform.openai.com/docs/api-reference/chat-streaming
import type { GatewayError } from '../../domain/errors.ts';
import { openAIErrorBody } from './errors.ts';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

export function sseData(json: string): string {
  return `data: ${json}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';

/** After the first byte, a failure ends the stream with an explicit error event, then [DONE]. */
export function sseError(error: GatewayError, requestId: string | null): string {
  return sseData(JSON.stringify(openAIErrorBody(error, requestId))) + SSE_DONE;
}
