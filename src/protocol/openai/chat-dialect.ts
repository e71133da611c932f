// The OpenAI Chat Completions dialect (POST /v1/chat/completions).
// https://platform.openai.com/docs/api-reference/chat/create
// https://platform.openai.com/docs/api-reference/chat-streaming
// With an OpenAI-compatible upstream every chunk is forwarded as the upstream's own JSON text (`raw`);
// only the usage chunk is rewritten (to add the receipt) or dropped (when the client did not ask for usage).
import type { ChatDialect, ChatStreamEncoder, DialectContext } from '../dialect.ts';
import { openAIErrorBody } from './errors.ts';
import { receiptUsage } from './receipt.ts';
import { SSE_DONE, sseData, sseError } from './sse.ts';
import { validateChatRequest } from './validate.ts';

function streamEncoder(context: DialectContext): ChatStreamEncoder {
  return {
    chunk(chunk, raw, receipt) {
      if (receipt) {
        if (context.wantsStreamUsage) {
          chunk.usage = receiptUsage(chunk.usage, receipt);
          return sseData(JSON.stringify(chunk));
        }
        // The client did not ask for usage: drop the usage-only chunk, pass any other as it is.
        if ((chunk.choices?.length ?? 0) === 0) return '';
      }
      return sseData(raw ?? JSON.stringify(chunk));
    },
    end: () => SSE_DONE,
    error: (error) => sseError(error, context.requestId),
  };
}

export const openAIChatDialect: ChatDialect = {
  protocol: 'openai',
  endpoint: 'chat.completions',
  decode(body) {
    const validated = validateChatRequest(body);
    // `models` (fallbacks, as OpenRouter takes them) is the gateway's to act on: it is not forwarded upstream.
    const { models, ...canonical } = validated;
    const fallbackModels = Array.isArray(models) ? (models as string[]).filter((m) => m !== canonical.model) : undefined;
    return {
      canonical: canonical as typeof validated,
      original: canonical,
      ...(fallbackModels?.length ? { fallbackModels } : {}),
      stream: canonical.stream === true,
      wantsStreamUsage: canonical.stream_options?.include_usage === true,
      warnings: [],
    };
  },
  encodeResponse(response, receipt) {
    response.usage = receiptUsage(response.usage, receipt);
    return response;
  },
  streamEncoder,
  errorBody: openAIErrorBody,
};
