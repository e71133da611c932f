// The OpenAI-compatible adapter: OpenAI itself and every vendor that speaks its protocol. One generic codec;
// a vendor (./vendor.ts, one data file each in ./vendors/) only adds its address, key style and quirks.
import type { ProviderAdapter, ProviderDescription } from '../shared/types.ts';
import { classifyOpenAIError } from './errors.ts';
import { encodeChatRequest, encodeEmbeddingsRequest } from './request.ts';
import { decodeChatResponse, decodeEmbeddingsResponse } from './response.ts';
import { decodeChatStream } from './stream.ts';
import type { Vendor } from './vendor.ts';
import { genericVendor } from './vendors/generic.ts';
import { responsesNative } from './responses-native.ts';

const code = (names: readonly string[]): string => names.map((n) => `\`${n}\``).join(', ');

function quirks(vendor: Vendor): string[] {
  const out: string[] = [];
  for (const [from, to] of Object.entries(vendor.renamedParams ?? {})) out.push(`\`${from}\` is sent as \`${to}\``);
  if (vendor.maxChoices !== undefined) out.push(`\`n\` is lowered to at most ${vendor.maxChoices}, with a warning`);
  for (const q of vendor.modelQuirks ?? []) {
    const changes = [
      ...(q.unsupportedParams?.length ? [`${code(q.unsupportedParams)} removed`] : []),
      ...Object.entries(q.renamedParams ?? {}).map(([from, to]) => `\`${from}\` sent as \`${to}\``),
    ];
    out.push(`models matching \`${String(q.models)}\`: ${changes.join('; ')}. ${q.note}`);
  }
  if (vendor.notes) out.push(vendor.notes);
  return out;
}

export function describeVendor(vendor: Vendor): ProviderDescription {
  return {
    name: vendor.name,
    docsUrl: vendor.docsUrl,
    ...(vendor.defaultBaseUrl === undefined ? {} : { defaultBaseUrl: vendor.defaultBaseUrl }),
    auth: vendor.auth,
    streamUsage: vendor.streamUsage,
    unsupportedParams: vendor.unsupportedParams,
    quirks: quirks(vendor),
    capabilities: vendor.capabilities,
  };
}

/** An adapter for one vendor: the generic codec with that vendor's quirks applied to each request. */
export function openAICompatible(vendor: Vendor): ProviderAdapter {
  const adapter: ProviderAdapter = {
    id: vendor.id,
    protocol: 'openai',
    describe: describeVendor(vendor),
    chat: {
      encodeRequest: (request, call) => encodeChatRequest(request, call, vendor),
      decodeResponse: decodeChatResponse,
      decodeStream: decodeChatStream,
    },
    classifyError: classifyOpenAIError,
  };
  if (vendor.capabilities.responses) adapter.native = responsesNative(vendor);
  if (vendor.capabilities.embeddings) {
    adapter.embeddings = {
      encodeRequest: (request, call) => encodeEmbeddingsRequest(request, call, vendor),
      decodeResponse: decodeEmbeddingsResponse,
    };
  }
  return adapter;
}

/** `type: openai-compatible`: every OpenAI-compatible server, no quirks (the same-protocol fast path). */
export const openAICompatibleAdapter: ProviderAdapter = openAICompatible(genericVendor);
