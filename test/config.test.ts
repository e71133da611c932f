import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.ts';

const dataDir = () => mkdtempSync(join(tmpdir(), 'switchyard-config-'));

const yaml = `
providers:
  - id: main-openai
    type: openai-compatible
    base_url: http://127.0.0.1:9101/v1
    api_key: \${UPSTREAM_KEY}
models:
  - id: gpt-4o-mini
    channels:
      - provider: main-openai
        upstream_model: gpt-4o-mini
        priority: 0
        weight: 1
    price: { input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }
`;

describe('config', () => {
  it('loads the documented example with ${ENV} interpolation and USD → micro-credits', () => {
    const dir = dataDir();
    const config = loadConfig({ env: { UPSTREAM_KEY: 'sk-up', SWITCHYARD_DATA_DIR: dir }, yamlText: yaml });
    expect(config.providers[0]?.apiKey).toBe('sk-up');
    expect(config.models[0]?.price.inputPerMtok).toBe(150_000_000n);
    expect(config.models[0]?.price.outputPerMtok).toBe(600_000_000n);
    expect(config.models[0]?.channels[0]?.id).toBe('main-openai/gpt-4o-mini');
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBe(`sqlite:${join(dir, 'switchyard.db')}`);
    expect(Object.isFrozen(config)).toBe(true);
    // The admin token is generated once and kept under the data dir.
    expect(readFileSync(join(dir, 'admin-token'), 'utf8').trim()).toBe(config.adminToken);
    expect(loadConfig({ env: { UPSTREAM_KEY: 'x', SWITCHYARD_DATA_DIR: dir }, yamlText: yaml }).adminToken).toBe(config.adminToken);
  });

  it('refuses an unset variable, naming it and where it is used', () => {
    expect(() => loadConfig({ env: { SWITCHYARD_DATA_DIR: dataDir() }, yamlText: yaml })).toThrow(/providers\[0\]\.api_key: environment variable UPSTREAM_KEY is not set/);
  });

  it('names the offending field of an invalid config', () => {
    const env = { UPSTREAM_KEY: 'k', SWITCHYARD_DATA_DIR: dataDir() };
    const bad = (text: string) => () => loadConfig({ env, yamlText: text });
    expect(bad(yaml.replace('weight: 1', 'weight: -1'))).toThrow(/models\[0\]\.channels\[0\]\.weight/);
    expect(bad(yaml.replace('provider: main-openai', 'provider: nobody'))).toThrow(/models\[0\]\.channels\[0\]\.provider: no provider with id "nobody"/);
    expect(bad(yaml.replace('base_url: http://127.0.0.1:9101/v1', 'base_url: not a url'))).toThrow(/providers\[0\]\.base_url/);
    expect(bad(yaml.replace('input_per_mtok_usd: 0.15', 'input_per_mtok_usd: cheap'))).toThrow(/models\[0\]\.price\.input_per_mtok_usd/);
    expect(bad(yaml.replace('    price:', '    colour: red\n    price:'))).toThrow(/colour/);
    expect(bad('models: [')).toThrow(ConfigError);
    expect(bad(yaml.replace('  - id: gpt-4o-mini\n', '  - id: gpt-4o-mini\n    aliases: [gpt-4o-mini]\n'))).toThrow(/models\[0\]\.aliases\[0\]: "gpt-4o-mini" is already a model id or alias/);
    expect(() => loadConfig({ env: { ...env, PORT: 'eighty' }, yamlText: yaml })).toThrow(/PORT/);
    expect(() => loadConfig({ env: { ...env, DATABASE_URL: 'mysql://x' }, yamlText: yaml })).toThrow(/DATABASE_URL/);
  });

  it('reads the hold TTL and the sweep from holds: (the environment variable overrides the TTL), with defaults', () => {
    const env = { UPSTREAM_KEY: 'k', SWITCHYARD_DATA_DIR: dataDir() };
    const defaults = loadConfig({ env, yamlText: yaml });
    expect(defaults.holdTtlMs).toBe(900_000);
    expect(defaults.holdSweep).toEqual({ intervalMs: 30_000, batch: 500 });
    const withHolds = `${yaml}holds: { ttl_ms: 5000, sweep_interval_ms: 250, sweep_batch: 50 }\n`;
    const configured = loadConfig({ env, yamlText: withHolds });
    expect(configured.holdTtlMs).toBe(5_000);
    expect(configured.holdSweep).toEqual({ intervalMs: 250, batch: 50 });
    expect(loadConfig({ env: { ...env, SWITCHYARD_HOLD_TTL_MS: '60000' }, yamlText: withHolds }).holdTtlMs).toBe(60_000);
    expect(() => loadConfig({ env, yamlText: `${yaml}holds: { ttl_ms: 10 }\n` })).toThrow(/holds\.ttl_ms/);
    expect(() => loadConfig({ env, yamlText: `${yaml}holds: { sweep_interval_ms: 0 }\n` })).toThrow(/holds\.sweep_interval_ms/);
    expect(() => loadConfig({ env: { ...env, SWITCHYARD_HOLD_TTL_MS: '0' }, yamlText: yaml })).toThrow(/SWITCHYARD_HOLD_TTL_MS/);
  });
});
