// Resolves each model's configured channels to (adapter, provider settings) once, at start-up.
import { ConfigError, type ChannelConfig, type Config, type ProviderConfig } from '../config/index.ts';
import { adapterFor, knownProviderTypes } from '../providers/index.ts';
import type { ChannelSettings, ProviderAdapter } from '../providers/shared/types.ts';

export interface Channel {
  id: string;
  provider: ProviderConfig;
  adapter: ProviderAdapter;
  settings: ChannelSettings;
  upstreamModel: string;
  priority: number;
  weight: number;
}

export type ChannelTable = ReadonlyMap<string, readonly Channel[]>;

export function resolveChannels(config: Config): ChannelTable {
  const providers = new Map(config.providers.map((p) => [p.id, p]));
  config.providers.forEach((p, i) => {
    if (!adapterFor(p.type)) {
      throw new ConfigError(`providers[${i}].type: unknown provider type "${p.type}" (known: ${knownProviderTypes().join(', ')})`);
    }
  });
  const table = new Map<string, Channel[]>();
  for (const model of config.models) {
    table.set(
      model.id,
      model.channels.map((c: ChannelConfig) => {
        const provider = providers.get(c.provider);
        const adapter = provider && adapterFor(provider.type);
        if (!provider || !adapter) throw new ConfigError(`model ${model.id}: channel ${c.id} has no usable provider`);
        const capable = model.kind === 'chat' ? adapter.chat : adapter.embeddings;
        if (!capable) throw new ConfigError(`model ${model.id}: provider type ${provider.type} cannot serve ${model.kind}`);
        return {
          id: c.id,
          provider,
          adapter,
          settings: { baseUrl: provider.baseUrl, apiKey: provider.apiKey, headers: provider.headers },
          upstreamModel: c.upstreamModel,
          priority: c.priority,
          weight: c.weight,
        };
      }),
    );
  }
  return table;
}
