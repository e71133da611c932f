// Mistral AI. https://docs.mistral.ai/api/endpoint/chat — the request schema forbids unknown fields (422
// "extra_forbidden"), `stream_options` included; a stream reports its usage in the last chunk unasked.
// The seed is called `random_seed`.
import type { Vendor } from '../vendor.ts';

export const mistral: Vendor = {
  id: 'mistral',
  name: 'Mistral AI',
  docsUrl: 'https://docs.mistral.ai/api/endpoint/chat',
  defaultBaseUrl: 'https://api.mistral.ai/v1',
  auth: 'bearer',
  unsupportedParams: ['logit_bias', 'logprobs', 'top_logprobs', 'user', 'store', 'metadata', 'service_tier', 'modalities', 'audio', 'stream_options'],
  renamedParams: { seed: 'random_seed', max_completion_tokens: 'max_tokens' },
  streamUsage: 'always',
  capabilities: { chat: true, embeddings: true, tools: true, vision: true, jsonSchema: true },
};
