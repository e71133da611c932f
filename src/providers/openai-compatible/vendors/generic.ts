// Any server that speaks OpenAI Chat Completions: no default address, no quirks. The body is forwarded
// unchanged but for the model and `stream_options.include_usage` (the same-protocol fast path).
import type { Vendor } from '../vendor.ts';

export const genericVendor: Vendor = {
  id: 'openai-compatible',
  name: 'OpenAI-compatible (generic)',
  docsUrl: 'https://platform.openai.com/docs/api-reference/chat/create',
  auth: 'bearer',
  unsupportedParams: [],
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: true, tools: true, vision: true, jsonSchema: true },
  notes: 'Whatever the server does not support, it reports itself.',
};
