// Fireworks AI. https://docs.fireworks.ai/tools-sdks/openai-compatibility — "Fireworks returns usage stats
// in both cases. For streaming responses, the usage field is returned in the very last chunk".
import type { Vendor } from '../vendor.ts';

export const fireworks: Vendor = {
  id: 'fireworks',
  name: 'Fireworks AI',
  docsUrl: 'https://docs.fireworks.ai/tools-sdks/openai-compatibility',
  defaultBaseUrl: 'https://api.fireworks.ai/inference/v1',
  auth: 'bearer',
  unsupportedParams: [],
  streamUsage: 'always',
  capabilities: { chat: true, embeddings: true, tools: true, vision: true, jsonSchema: true },
  notes: 'max_tokens beyond the context window is lowered by Fireworks instead of refused (context_length_exceeded_behavior).',
};
