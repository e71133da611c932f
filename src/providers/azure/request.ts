// Azure OpenAI requests: the OpenAI body (shared codec, ../openai-compatible/request.ts) sent to Azure's URLs
// with the `api-key` header.
// https://learn.microsoft.com/azure/ai-services/openai/reference (dated versions):
//   POST {endpoint}/openai/deployments/{deployment-id}/chat/completions?api-version={api-version}
//   POST {endpoint}/openai/deployments/{deployment-id}/embeddings?api-version={api-version}
// https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle (the v1 API, no dated version):
//   POST {endpoint}/openai/v1/chat/completions   (model = the deployment name, in the body)
//   POST {endpoint}/openai/v1/embeddings
// Choice (docs/providers.md): provider `api_version` absent or `v1` → the v1 route; `preview` → the v1
// route with `?api-version=preview`; anything else (e.g. `2024-10-21`) → the deployments route with that
// version. The deployment is the channel's `upstream_model`. `base_url` is the resource endpoint
// (`https://{resource}.openai.azure.com`); a trailing `/openai` or `/openai/v1` is tolerated.
import { chatBody, upstreamHeaders } from '../openai-compatible/request.ts';
import type { Vendor } from '../openai-compatible/vendor.ts';
import type { CallContext, ChannelSettings, ChatRequest, Encoded, EmbeddingsRequest, Warning } from '../shared/types.ts';

export const AZURE_DOCS = 'https://learn.microsoft.com/azure/ai-services/openai/reference';

/** Azure speaks OpenAI's body; only the key header differs. Streamed usage needs api-version ≥ 2024-09-01-preview. */
export const azureVendor: Vendor = {
  id: 'azure',
  name: 'Azure OpenAI',
  docsUrl: AZURE_DOCS,
  auth: { header: 'api-key' },
  unsupportedParams: [],
  streamUsage: 'include_usage',
  capabilities: { chat: true, embeddings: true, tools: true, vision: true, jsonSchema: true },
};

export type AzureOperation = 'chat/completions' | 'embeddings';

export function azureUrl(settings: ChannelSettings, deployment: string, operation: AzureOperation): string {
  const endpoint = settings.baseUrl.replace(/\/+$/, '').replace(/\/openai(?:\/v1)?$/, '');
  const version = settings.apiVersion;
  if (version === undefined || version === 'v1') return `${endpoint}/openai/v1/${operation}`;
  if (version === 'preview') return `${endpoint}/openai/v1/${operation}?api-version=preview`;
  return `${endpoint}/openai/deployments/${encodeURIComponent(deployment)}/${operation}?api-version=${encodeURIComponent(version)}`;
}

export function encodeAzureChatRequest(request: ChatRequest, call: CallContext): Encoded {
  const warnings: Warning[] = [];
  const body = chatBody(request, call, azureVendor, warnings);
  return {
    upstream: {
      method: 'POST',
      url: azureUrl(call.settings, call.upstreamModel, 'chat/completions'),
      headers: upstreamHeaders(call, azureVendor.auth),
      body: JSON.stringify(body),
    },
    warnings,
  };
}

export function encodeAzureEmbeddingsRequest(request: EmbeddingsRequest, call: CallContext): Encoded {
  return {
    upstream: {
      method: 'POST',
      url: azureUrl(call.settings, call.upstreamModel, 'embeddings'),
      headers: upstreamHeaders(call, azureVendor.auth),
      body: JSON.stringify({ ...request, model: call.upstreamModel }),
    },
    warnings: [],
  };
}
