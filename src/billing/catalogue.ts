// The public price list: each configured model with its current stored price version, built once at
// start-up (prices are synced into the database so every charge can name its version).
import type { ModelConfig } from '../config/index.ts';
import { formatCredits, tokenCost, type MicroCredits } from '../domain/money.ts';
import type { ModelPrice, Usage } from '../domain/usage.ts';
import type { PricesRepo } from '../storage/types.ts';

export interface PricedModel {
  config: ModelConfig;
  price: ModelPrice;
  /** The worst-case rate for an input token (whichever of input/cached/cache-write is dearest). */
  worstInputPerMtok: MicroCredits;
}

/** Prices in credits per million tokens, as exact decimal strings (what /v1/models shows). */
export function publicPricing(price: ModelPrice): Record<string, string | number> {
  return {
    unit: 'credits_per_million_tokens',
    input: formatCredits(price.inputPerMtok),
    cached_input: formatCredits(price.cachedInputPerMtok),
    cache_write: formatCredits(price.cacheWritePerMtok),
    output: formatCredits(price.outputPerMtok),
    version: price.version,
  };
}

export class Catalogue {
  private readonly byId: ReadonlyMap<string, PricedModel>;
  private readonly models: readonly PricedModel[];

  constructor(models: readonly PricedModel[]) {
    this.models = models;
    this.byId = new Map(models.flatMap((m) => [m.config.id, ...(m.config.aliases ?? [])].map((id): [string, PricedModel] => [id, m])));
  }

  static async load(models: readonly ModelConfig[], prices: PricesRepo): Promise<Catalogue> {
    const stored = await prices.sync(models.map((m) => ({ model: m.id, price: m.price })));
    return new Catalogue(
      models.map((config) => {
        const price = stored.get(config.id);
        if (!price) throw new Error(`no stored price for model ${config.id}`);
        const worst = [price.inputPerMtok, price.cachedInputPerMtok, price.cacheWritePerMtok].reduce((a, b) => (b > a ? b : a));
        return { config, price, worstInputPerMtok: worst };
      }),
    );
  }

  get(id: string): PricedModel | undefined {
    return this.byId.get(id);
  }

  /** Each model once (aliases are not listed separately). */
  list(): PricedModel[] {
    return [...this.models];
  }
}

/** The cost of actual usage: each part at its own rate, each rounded up to the micro-credit. */
export function costOf(usage: Usage, price: ModelPrice): MicroCredits {
  return (
    tokenCost(usage.input, price.inputPerMtok) +
    tokenCost(usage.cachedInput, price.cachedInputPerMtok) +
    tokenCost(usage.cacheWrite, price.cacheWritePerMtok) +
    tokenCost(usage.output, price.outputPerMtok)
  );
}
