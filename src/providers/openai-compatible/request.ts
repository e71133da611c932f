// OpenAI Chat Completions and Embeddings requests.
// Wire format: https://platform.openai.com/docs/api-reference/chat/create
//              https://platform.openai.com/docs/api-reference/embeddings/create
// Same-protocol fast path: the client's body goes upstream unchanged (unknown fields included) except the
// model name and, when streaming, `stream_options.include_usage: true` — the usage chunk is how the
// gateway bills a stream; the core strips it again for clients that did not ask for it.
import type { CallContext, ChatRequest, Encoded, EmbeddingsRequest } from '../shared/types.ts';

function headers(call: CallContext): Record<string, string> {
  const out: Record<string, string> = { 'content-type': 'application/json', ...call.settings.headers };
  if (call.settings.apiKey) out.authorization = `Bearer ${call.settings.apiKey}`;
  return out;
}

export function encodeChatRequest(request: ChatRequest, call: CallContext): Encoded {
  const body: Record<string, unknown> = { ...request, model: call.upstreamModel };
  if (call.stream) {
    const options = typeof request.stream_options === 'object' && request.stream_options !== null ? request.stream_options : {};
    body.stream_options = { ...options, include_usage: true };
  }
  return {
    upstream: { method: 'POST', url: `${call.settings.baseUrl}/chat/completions`, headers: headers(call), body: JSON.stringify(body) },
    warnings: [],
  };
}

export function encodeEmbeddingsRequest(request: EmbeddingsRequest, call: CallContext): Encoded {
  return {
    upstream: {
      method: 'POST',
      url: `${call.settings.baseUrl}/embeddings`,
      headers: headers(call),
      body: JSON.stringify({ ...request, model: call.upstreamModel }),
    },
    warnings: [],
  };
}
