// Shared helpers for PricesRepo.sync (the per-dialect code decides how to lock and write).

import type { ModelPrice } from '../domain/usage.ts';
import { toBig, toNum } from './db.ts';

export type PriceInput = Omit<ModelPrice, 'version'>;

export interface PriceRow {
  id: unknown;
  input_per_mtok: unknown;
  cached_input_per_mtok: unknown;
  cache_write_per_mtok: unknown;
  output_per_mtok: unknown;
}

export function mapPrice(row: PriceRow): ModelPrice {
  return {
    version: toNum(row.id),
    inputPerMtok: toBig(row.input_per_mtok),
    cachedInputPerMtok: toBig(row.cached_input_per_mtok),
    cacheWritePerMtok: toBig(row.cache_write_per_mtok),
    outputPerMtok: toBig(row.output_per_mtok),
  };
}

export function samePrice(a: PriceInput, b: PriceInput): boolean {
  return (
    a.inputPerMtok === b.inputPerMtok &&
    a.cachedInputPerMtok === b.cachedInputPerMtok &&
    a.cacheWritePerMtok === b.cacheWritePerMtok &&
    a.outputPerMtok === b.outputPerMtok
  );
}

export function checkPrice(model: string, price: PriceInput): void {
  for (const value of [price.inputPerMtok, price.cachedInputPerMtok, price.cacheWritePerMtok, price.outputPerMtok]) {
    if (value < 0n) throw new RangeError(`prices: negative price for model ${model}`);
  }
}

/**
 * "Current" = the newest row whose effective_from is not in the future (a scheduled change is left alone
 * and becomes current at its time). Ties on effective_from go to the higher id.
 */
export const CURRENT_PRICE_ORDER = 'ORDER BY effective_from DESC, id DESC LIMIT 1';
