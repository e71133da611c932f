// Moonshot AI (Kimi). https://platform.moonshot.ai/docs/api/chat — base URL api.moonshot.ai/v1 (China:
// api.moonshot.cn/v1), bearer key, n ≤ 5, no logit_bias/logprobs in the request schema.
// kimi-k2.5 fixes temperature, top_p, n and the penalties ("cannot be modified"):
// https://platform.moonshot.ai/docs/api/models-overview
import type { Vendor } from '../vendor.ts';

export const moonshot: Vendor = {
  id: 'moonshot',
  name: 'Moonshot AI (Kimi)',
  docsUrl: 'https://platform.moonshot.ai/docs/api/chat',
  defaultBaseUrl: 'https://api.moonshot.ai/v1',
  auth: 'bearer',
  unsupportedParams: ['logit_bias', 'logprobs', 'top_logprobs'],
  maxChoices: 5,
  modelQuirks: [
    {
      models: /^kimi-k2\.5/,
      unsupportedParams: ['temperature', 'top_p', 'n', 'presence_penalty', 'frequency_penalty'],
      note: 'kimi-k2.5 fixes these ("cannot be modified").',
    },
  ],
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: false, tools: true, vision: true, jsonSchema: false },
  notes: 'Older streams put the usage in choices[0].usage; the gateway reads it there too.',
};
