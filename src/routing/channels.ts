// Resolves each model's configured channels to (adapter, provider settings) once, at start-up.
// Provider defaults live with the adapters (`describe.defaultBaseUrl`), not in config/: config/ must not import
// providers/, so an omitted `base_url` is filled in (or refused) here, where both are known.
// Each channel also carries its breaker from the process's health registry (health.ts), so plan and dispatch
// reach it without a lookup; a channel id shared by several models shares one breaker.
import { ConfigError, type ChannelConfig, type Config, type ProviderConfig } from '../config/index.ts';
import { adapterFor, knownProviderTypes } from '../providers/index.ts';
import type { ChannelSettings, ProviderAdapter } from '../providers/shared/types.ts';
import { ChannelHealth, type Breaker } from './health.ts';

export interface Channel {
  id: string;
  /** The public id of the model this channel serves. */
  model: string;
  provider: ProviderConfig;
  adapter: ProviderAdapter;
  settings: ChannelSettings;
  upstreamModel: string;
  priority: number;
  weight: number;
  breaker: Breaker;
}

export type ChannelTable = ReadonlyMap<string, readonly Channel[]>;

export function resolveChannels(config: Config, health: ChannelHealth = new ChannelHealth(config.health)): ChannelTable {
  const providers = new Map(config.providers.map((p) => [p.id, p]));
  const baseUrls = new Map<string, string>();
  config.providers.forEach((p, i) => {
    const adapter = adapterFor(p.type);
    if (!adapter) {
      throw new ConfigError(`providers[${i}].type: unknown provider type "${p.type}" (known: ${knownProviderTypes().join(', ')})`);
    }
    const baseUrl = p.baseUrl ?? adapter.describe?.defaultBaseUrl;
    if (baseUrl === undefined) throw new ConfigError(`providers[${i}].base_url: required for type "${p.type}" (it has no default base URL)`);
    baseUrls.set(p.id, baseUrl);
    if (p.apiVersion !== undefined && !adapter.describe?.configFields?.includes('api_version')) {
      throw new ConfigError(`providers[${i}].api_version: type "${p.type}" does not use an api_version`);
    }
    if (p.apiKey && adapter.describe?.auth === 'none') {
      throw new ConfigError(`providers[${i}].api_key: type "${p.type}" takes no API key`);
    }
  });
  const table = new Map<string, Channel[]>();
  for (const model of config.models) {
    table.set(
      model.id,
      model.channels.map((c: ChannelConfig) => {
        const provider = providers.get(c.provider);
        const adapter = provider && adapterFor(provider.type);
        const baseUrl = baseUrls.get(c.provider);
        if (!provider || !adapter || baseUrl === undefined) throw new ConfigError(`model ${model.id}: channel ${c.id} has no usable provider`);
        const capable = model.kind === 'chat' ? adapter.chat : adapter.embeddings;
        if (!capable) throw new ConfigError(`model ${model.id}: provider type ${provider.type} cannot serve ${model.kind}`);
        return {
          id: c.id,
          model: model.id,
          provider,
          adapter,
          settings: { baseUrl, apiKey: provider.apiKey, headers: provider.headers, apiVersion: provider.apiVersion },
          upstreamModel: c.upstreamModel,
          priority: c.priority,
          weight: c.weight,
          breaker: health.breaker(c.id),
        };
      }),
    );
  }
  return table;
}
