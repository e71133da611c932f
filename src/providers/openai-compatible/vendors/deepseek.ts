// DeepSeek. https://api-docs.deepseek.com/ (base URL, bearer key)
// Request fields: https://api-docs.deepseek.com/api/create-chat-completion — no `n`, no `logit_bias`.
// deepseek-reasoner: https://api-docs.deepseek.com/guides/reasoning_model — temperature, top_p,
// presence_penalty, frequency_penalty have no effect; logprobs, top_logprobs are refused.
import type { Vendor } from '../vendor.ts';

export const deepseek: Vendor = {
  id: 'deepseek',
  name: 'DeepSeek',
  docsUrl: 'https://api-docs.deepseek.com/api/create-chat-completion',
  defaultBaseUrl: 'https://api.deepseek.com',
  auth: 'bearer',
  unsupportedParams: ['n', 'logit_bias'],
  modelQuirks: [
    {
      models: /^deepseek-reasoner/,
      unsupportedParams: ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs'],
      note: 'The reasoning model ignores the sampling parameters and refuses logprobs (https://api-docs.deepseek.com/guides/reasoning_model).',
    },
  ],
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: false, tools: true, vision: false, jsonSchema: false },
  notes: 'JSON output is `response_format: {type: "json_object"}` only.',
};
