// xAI (Grok). https://docs.x.ai/docs/guides/reasoning — "presencePenalty, frequencyPenalty and stop
// parameters are not supported by reasoning models"; reasoning_effort only on grok-3-mini.
// Base URL and bearer key: https://docs.x.ai/docs/api-reference
import type { Vendor } from '../vendor.ts';

export const xai: Vendor = {
  id: 'xai',
  name: 'xAI',
  docsUrl: 'https://docs.x.ai/docs/guides/reasoning',
  defaultBaseUrl: 'https://api.x.ai/v1',
  auth: 'bearer',
  unsupportedParams: [],
  modelQuirks: [
    {
      models: /^grok-(?:3-mini|4(?!.*non-reasoning)|code)/,
      unsupportedParams: ['presence_penalty', 'frequency_penalty', 'stop'],
      note: 'Reasoning models refuse these.',
    },
    {
      models: /^grok-(?:3|4|4-0709|4-fast-reasoning)$/,
      unsupportedParams: ['reasoning_effort'],
      note: 'Only grok-3-mini takes reasoning_effort.',
    },
  ],
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: false, tools: true, vision: true, jsonSchema: true },
};
