// OpenAI itself. https://platform.openai.com/docs/api-reference/chat/create
// Reasoning models (o1, o3, o4-mini…) refuse the sampling parameters and take max_completion_tokens:
// https://platform.openai.com/docs/guides/reasoning
import type { Vendor } from '../vendor.ts';

export const openai: Vendor = {
  id: 'openai',
  name: 'OpenAI',
  docsUrl: 'https://platform.openai.com/docs/api-reference/chat/create',
  defaultBaseUrl: 'https://api.openai.com/v1',
  auth: 'bearer',
  unsupportedParams: [],
  modelQuirks: [
    {
      models: /^o\d/,
      unsupportedParams: ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs', 'logit_bias'],
      renamedParams: { max_tokens: 'max_completion_tokens' },
      note: 'o-series reasoning models (https://platform.openai.com/docs/guides/reasoning).',
    },
  ],
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: true, tools: true, vision: true, jsonSchema: true, responses: true },
};
