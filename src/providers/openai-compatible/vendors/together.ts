// Together AI. https://docs.together.ai/docs/inference/openai-compatibility — chat, vision, tools, structured
// output and embeddings behind the OpenAI SDK; streams end with a chunk that carries the usage.
import type { Vendor } from '../vendor.ts';

export const together: Vendor = {
  id: 'together',
  name: 'Together AI',
  docsUrl: 'https://docs.together.ai/docs/inference/openai-compatibility',
  defaultBaseUrl: 'https://api.together.ai/v1',
  auth: 'bearer',
  unsupportedParams: [],
  streamUsage: 'always',
  capabilities: { chat: true, embeddings: true, tools: true, vision: true, jsonSchema: true },
};
