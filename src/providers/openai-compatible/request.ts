// OpenAI Chat Completions and Embeddings requests.
// Wire format: https://platform.openai.com/docs/api-reference/chat/create
//              https://platform.openai.com/docs/api-reference/embeddings/create
// Same-protocol fast path: the client's body goes upstream unchanged (unknown fields included) except the
// model name and, when streaming, `stream_options.include_usage: true` — the usage chunk is how the
// gateway bills a stream; the core strips it again for clients that did not ask for it. A vendor's quirks
// (./vendor.ts) may remove or rename parameters it cannot honour: each removal is a warning.
import type { AuthStyle, CallContext, ChatRequest, Encoded, EmbeddingsRequest, Warning } from '../shared/types.ts';
import { applyStreamUsage, applyVendorQuirks } from './quirks.ts';
import type { Vendor } from './vendor.ts';
import { genericVendor } from './vendors/generic.ts';

/** Request headers: JSON, the channel's extra headers, then the key as the vendor takes it. */
export function upstreamHeaders(call: CallContext, auth: AuthStyle = 'bearer'): Record<string, string> {
  const out: Record<string, string> = { 'content-type': 'application/json', ...call.settings.headers };
  const key = call.settings.apiKey;
  if (!key || auth === 'none') return out;
  if (auth === 'bearer') out.authorization = `Bearer ${key}`;
  else out[auth.header.toLowerCase()] = key;
  return out;
}

/** The forwarded chat body: the client's own, with the upstream model and the vendor's quirks applied. */
export function chatBody(request: ChatRequest, call: CallContext, vendor: Vendor, warnings: Warning[]): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request, model: call.upstreamModel };
  applyStreamUsage(body, vendor, call.stream, warnings);
  applyVendorQuirks(body, vendor, call.upstreamModel, warnings);
  return body;
}

export function encodeChatRequest(request: ChatRequest, call: CallContext, vendor: Vendor = genericVendor): Encoded {
  const warnings: Warning[] = [];
  const body = chatBody(request, call, vendor, warnings);
  return {
    upstream: { method: 'POST', url: `${call.settings.baseUrl}/chat/completions`, headers: upstreamHeaders(call, vendor.auth), body: JSON.stringify(body) },
    warnings,
  };
}

export function encodeEmbeddingsRequest(request: EmbeddingsRequest, call: CallContext, vendor: Vendor = genericVendor): Encoded {
  return {
    upstream: {
      method: 'POST',
      url: `${call.settings.baseUrl}/embeddings`,
      headers: upstreamHeaders(call, vendor.auth),
      body: JSON.stringify({ ...request, model: call.upstreamModel }),
    },
    warnings: [],
  };
}
