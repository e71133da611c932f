// The provider registry: a config `type:` names an adapter.
import { anthropicAdapter } from './anthropic/adapter.ts';
import { geminiAdapter } from './gemini/adapter.ts';
import { openAICompatibleAdapter } from './openai-compatible/adapter.ts';
import type { ProviderAdapter } from './shared/types.ts';

const ADAPTERS: ReadonlyMap<string, ProviderAdapter> = new Map([
  ['openai-compatible', openAICompatibleAdapter],
  ['openai', openAICompatibleAdapter],
  ['anthropic', anthropicAdapter],
  ['gemini', geminiAdapter],
]);

export function adapterFor(type: string): ProviderAdapter | undefined {
  return ADAPTERS.get(type);
}

export function knownProviderTypes(): string[] {
  return [...ADAPTERS.keys()];
}
