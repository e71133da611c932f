// Groq. https://console.groq.com/docs/openai — "logprobs, logit_bias, top_logprobs, messages[].name …
// will result in a 400 error"; n must be 1.
import type { Vendor } from '../vendor.ts';

export const groq: Vendor = {
  id: 'groq',
  name: 'Groq',
  docsUrl: 'https://console.groq.com/docs/openai',
  defaultBaseUrl: 'https://api.groq.com/openai/v1',
  auth: 'bearer',
  unsupportedParams: ['logprobs', 'logit_bias', 'top_logprobs', 'messages[].name'],
  maxChoices: 1,
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: false, tools: true, vision: true, jsonSchema: true },
  notes: 'temperature 0 is turned into 1e-8 by Groq.',
};
