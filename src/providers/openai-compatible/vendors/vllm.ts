// vLLM's OpenAI-compatible server. https://docs.vllm.ai/en/stable/serving/openai_compatible_server.html —
// "user parameter is ignored"; the key is the server's --api-key (optional). Self-hosted: no default URL.
import type { Vendor } from '../vendor.ts';

export const vllm: Vendor = {
  id: 'vllm',
  name: 'vLLM',
  docsUrl: 'https://docs.vllm.ai/en/stable/serving/openai_compatible_server.html',
  auth: 'bearer',
  unsupportedParams: ['user'],
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: true, tools: true, vision: true, jsonSchema: true },
  notes: 'Embeddings only for embedding models; tools need --enable-auto-tool-choice.',
};
