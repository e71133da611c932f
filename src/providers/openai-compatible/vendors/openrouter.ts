// OpenRouter. https://openrouter.ai/docs/api-reference/overview
// Usage: https://openrouter.ai/docs/use-cases/usage-accounting — "included in the last SSE message for
// streaming responses … stream_options: { include_usage: true } [is] deprecated and [has] no effect".
import type { Vendor } from '../vendor.ts';

export const openrouter: Vendor = {
  id: 'openrouter',
  name: 'OpenRouter',
  docsUrl: 'https://openrouter.ai/docs/api-reference/overview',
  defaultBaseUrl: 'https://openrouter.ai/api/v1',
  auth: 'bearer',
  unsupportedParams: [],
  streamUsage: 'always',
  capabilities: { chat: true, embeddings: false, tools: true, vision: true, jsonSchema: true },
  notes: 'Routes to many providers; a parameter the chosen provider lacks is ignored by OpenRouter, not reported.',
};
