// The provider registry: a config `type:` names an adapter.
import { anthropicAdapter } from './anthropic/adapter.ts';
import { geminiAdapter } from './gemini/adapter.ts';
import { azureAdapter } from './azure/adapter.ts';
import { openAICompatible } from './openai-compatible/adapter.ts';
import { VENDORS } from './openai-compatible/vendors/index.ts';
import type { ProviderAdapter } from './shared/types.ts';

const ADAPTERS: ReadonlyMap<string, ProviderAdapter> = new Map<string, ProviderAdapter>([
  // openai-compatible (generic), openai, deepseek, groq, mistral, …: one data file each in openai-compatible/vendors/
  ...VENDORS.map((vendor): [string, ProviderAdapter] => [vendor.id, openAICompatible(vendor)]),
  ['azure', azureAdapter],
  ['anthropic', anthropicAdapter],
  ['gemini', geminiAdapter],
]);

export function adapterFor(type: string): ProviderAdapter | undefined {
  return ADAPTERS.get(type);
}

export function knownProviderTypes(): string[] {
  return [...ADAPTERS.keys()];
}

/** Every registered type with its adapter, in registration order (scripts/providers-doc.ts). */
export function registeredAdapters(): Array<[type: string, adapter: ProviderAdapter]> {
  return [...ADAPTERS.entries()];
}
