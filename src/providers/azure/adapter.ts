// The Azure OpenAI adapter: Azure's URLs, `api-key` header and content-filter errors around the OpenAI codec.
// Responses, streams and the rest of the errors are OpenAI's and decoded by the shared OpenAI-compatible code.
// https://learn.microsoft.com/azure/ai-services/openai/reference
import { decodeChatResponse, decodeEmbeddingsResponse } from '../openai-compatible/response.ts';
import { decodeChatStream } from '../openai-compatible/stream.ts';
import type { ProviderAdapter } from '../shared/types.ts';
import { classifyAzureError } from './errors.ts';
import { AZURE_DOCS, azureVendor, encodeAzureChatRequest, encodeAzureEmbeddingsRequest } from './request.ts';

export const azureAdapter: ProviderAdapter = {
  id: 'azure',
  protocol: 'openai',
  describe: {
    name: azureVendor.name,
    docsUrl: AZURE_DOCS,
    auth: azureVendor.auth,
    streamUsage: azureVendor.streamUsage,
    capabilities: azureVendor.capabilities,
    configFields: ['api_version'],
    quirks: [
      'base_url is the resource endpoint (https://{resource}.openai.azure.com); the deployment is the channel\'s upstream_model',
      'api_version absent or v1: {base_url}/openai/v1/chat/completions with the deployment as model; preview: the same with ?api-version=preview',
      'api_version dated (e.g. 2024-10-21): {base_url}/openai/deployments/{deployment}/chat/completions?api-version=…',
      '400 content_filter: upstream_rejected (400) naming the filtered categories; finish_reason content_filter passes through',
    ],
  },
  chat: {
    encodeRequest: encodeAzureChatRequest,
    decodeResponse: decodeChatResponse,
    decodeStream: decodeChatStream,
  },
  embeddings: {
    encodeRequest: encodeAzureEmbeddingsRequest,
    decodeResponse: decodeEmbeddingsResponse,
  },
  classifyError: classifyAzureError,
};
