// Ollama. https://docs.ollama.com/api/openai-compatibility — supported request fields listed there;
// tool_choice, logit_bias, user and n are not. The key is ignored by a local server (required on ollama.com).
import type { Vendor } from '../vendor.ts';

export const ollama: Vendor = {
  id: 'ollama',
  name: 'Ollama',
  docsUrl: 'https://docs.ollama.com/api/openai-compatibility',
  defaultBaseUrl: 'http://localhost:11434/v1',
  auth: 'bearer',
  unsupportedParams: ['tool_choice', 'logit_bias', 'user', 'n'],
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: true, tools: true, vision: true, jsonSchema: true },
};
