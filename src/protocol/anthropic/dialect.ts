// The Anthropic Messages dialect (POST /v1/messages): every upstream; byte pass-through to Anthropic upstreams.
// https://docs.claude.com/en/api/messages
import { formatCredits } from '../../domain/money.ts';
import { isObject } from '../../providers/shared/usage.ts';
import type { Warning } from '../../providers/shared/types.ts';
import type { ChatDialect, Receipt } from '../dialect.ts';
import { anthropicErrorBody, anthropicErrorEvent } from './errors.ts';
import { toCanonical, validateMessagesRequest } from './request.ts';
import { toAnthropicMessage } from './response.ts';
import { anthropicEvent, anthropicRawEvent } from './sse.ts';
import { anthropicStreamEncoder } from './stream.ts';

/** The upstream's own usage object with the receipt's cost added. */
function withCost(usage: unknown, receipt: Receipt): Record<string, unknown> {
  return { ...(isObject(usage) ? usage : {}), cost: formatCredits(receipt.cost) };
}

export const anthropicDialect: ChatDialect = {
  protocol: 'anthropic',
  endpoint: 'messages',
  decode(body) {
    const request = validateMessagesRequest(body);
    const warnings: Warning[] = [];
    const canonical = toCanonical(request, warnings);
    return { canonical, original: request, stream: request.stream === true, wantsStreamUsage: true, warnings };
  },
  encodeResponse: (response, receipt, context) => toAnthropicMessage(response, receipt, context.model, context.requestId),
  streamEncoder: (context) => anthropicStreamEncoder(context),
  errorBody: anthropicErrorBody,
  passThrough: {
    encodeResponse(body, receipt) {
      return isObject(body) ? { ...body, usage: withCost(body.usage, receipt) } : body;
    },
    frame(frame, receipt) {
      if (!receipt) return anthropicRawEvent(frame.event, frame.data);
      try {
        const event: unknown = JSON.parse(frame.data);
        if (isObject(event)) return anthropicRawEvent(frame.event, JSON.stringify({ ...event, usage: withCost(event.usage, receipt) }));
      } catch {
        // not JSON: pass it on as it came
      }
      return anthropicRawEvent(frame.event, frame.data);
    },
    error: (error, requestId) => anthropicEvent('error', anthropicErrorEvent(error, requestId)),
  },
};
