// The catalogue switches a model to its next price version at effective_from by itself (a clock comparison,
// no database read), keeps a request's version for the whole request, and learns of versions scheduled or
// cancelled elsewhere on refresh. A real SQLite store; an injected clock instead of sleeping.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalogue } from '../../src/billing/catalogue.ts';
import { loadConfig, type ModelConfig } from '../../src/config/index.ts';
import { tokenRates } from '../../src/domain/usage.ts';
import type { NewPriceVersion, Store } from '../../src/storage/types.ts';
import { openSqliteTestStore } from '../helpers/stores.ts';

const HOUR = 60 * 60 * 1000;
const rates = (output: bigint) => tokenRates({ inputPerMtok: 1n, cachedInputPerMtok: 1n, cacheWritePerMtok: 1n, outputPerMtok: output });

describe('catalogue', () => {
  let store: Store;
  let config: ModelConfig;
  beforeAll(async () => {
    store = await openSqliteTestStore();
    const loaded = loadConfig({
      env: { SWITCHYARD_DATA_DIR: mkdtempSync(join(tmpdir(), 'switchyard-catalogue-')) },
      yamlText: `
providers: [{ id: p, type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }]
models: [{ id: m, aliases: [m-alias], channels: [{ provider: p }], price: { input_per_mtok_usd: 1, output_per_mtok_usd: 1 } }]`,
    });
    const model = loaded.models[0];
    if (!model) throw new Error('no model');
    config = model;
  });
  afterAll(async () => {
    await store.close();
  });

  const add = (effectiveFrom: number, output: bigint): Promise<{ version: number }> =>
    store.prices.add({ model: 'm', rates: rates(output), effectiveFrom: new Date(effectiveFrom), source: 'admin', actor: 'admin', reason: null } satisfies NewPriceVersion);

  it('switches at effective_from without a restart and keeps each request on the version it started with', async () => {
    const t0 = Date.now();
    const first = await add(t0 - HOUR, 10n);
    const second = await add(t0 + HOUR, 20n);
    const third = await add(t0 + 2 * HOUR, 30n);
    let now = t0;
    const catalogue = await Catalogue.load([config], store.prices, { now: () => now });

    const admitted = catalogue.get('m');
    expect(admitted?.price.version).toBe(first.version);
    expect(catalogue.upcoming('m-alias').map((v) => v.version)).toEqual([second.version, third.version]);

    now = t0 + HOUR - 1;
    expect(catalogue.get('m')?.price.version).toBe(first.version);
    now = t0 + HOUR;
    expect(catalogue.get('m-alias')?.price).toMatchObject({ version: second.version, outputPerMtok: 20n });
    expect(catalogue.list().map((m) => m.price.version)).toEqual([second.version]);
    expect(catalogue.upcoming('m').map((v) => v.version)).toEqual([third.version]);
    // A request admitted before the switch is still quoted, held and charged at its own version.
    expect(admitted?.price).toMatchObject({ version: first.version, outputPerMtok: 10n });

    now = t0 + 5 * HOUR; // two switches passed while no request came
    expect(catalogue.get('m')?.price.version).toBe(third.version);
    expect(catalogue.upcoming('m')).toEqual([]);
    expect(catalogue.get('unknown')).toBeUndefined();

    // Scheduled or cancelled elsewhere (another replica, the admin API): seen at the next refresh.
    const fourth = await add(t0 + 6 * HOUR, 40n);
    expect(catalogue.upcoming('m')).toEqual([]);
    await catalogue.refresh(store.prices);
    expect(catalogue.upcoming('m').map((v) => v.version)).toEqual([fourth.version]);
    await store.prices.cancel(fourth.version, { at: new Date(now), actor: 'admin', reason: null });
    await catalogue.refresh(store.prices);
    expect(catalogue.upcoming('m')).toEqual([]);
    expect(catalogue.get('m')?.price.version).toBe(third.version);
  });

  it('refuses to build without a stored price for a configured model', async () => {
    await expect(Catalogue.load([{ ...config, id: 'unpriced', aliases: [] }], store.prices)).rejects.toThrow(/no stored price for model unpriced/);
  });
});
