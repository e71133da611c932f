// Qwen on Alibaba Cloud Model Studio (DashScope compatible mode).
// https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope — base URL per
// region (Singapore default here; Beijing: dashscope.aliyuncs.com, Virginia: dashscope-us.aliyuncs.com).
// Streaming usage with stream_options.include_usage; logit_bias is not in the request reference
// (https://www.alibabacloud.com/help/en/model-studio/qwen-api-via-openai-chat-completions).
import type { Vendor } from '../vendor.ts';

export const qwen: Vendor = {
  id: 'qwen',
  name: 'Qwen (DashScope compatible mode)',
  docsUrl: 'https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope',
  defaultBaseUrl: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1',
  auth: 'bearer',
  unsupportedParams: ['logit_bias'],
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: true, tools: true, vision: true, jsonSchema: true },
  notes: 'Regional keys: a Beijing key does not work on the Singapore endpoint.',
};
