// Normalized usage and the price shapes it is billed against. Counts are whole units: tokens, images,
// milliseconds. `raw` provider usage is kept beside it for audit by the adapters.

/** Generated images of one size and quality (e.g. "1024x1024", "high"). */
export interface ImageUsage {
  size: string;
  quality: string;
  count: number;
}

/** Generated video of one resolution (e.g. "720p"), in whole milliseconds. */
export interface VideoUsage {
  resolution: string;
  ms: number;
}

export interface Usage {
  /** Prompt tokens billed at the input rate (cached and cache-write tokens excluded). */
  input: number;
  /** Prompt tokens served from the provider's cache. */
  cachedInput: number;
  /** Prompt tokens written to the provider's cache. */
  cacheWrite: number;
  /** Completion tokens, reasoning included. */
  output: number;
  /** The part of `output` spent on reasoning (billed at the reasoning rate when the price has one). */
  reasoning: number;
  /** Media units, for the endpoints that produce or read media (absent: none). */
  images?: readonly ImageUsage[];
  video?: readonly VideoUsage[];
  /** Audio read (e.g. transcription) and produced (e.g. speech), in whole milliseconds. */
  audioInputMs?: number;
  audioOutputMs?: number;
}

export const ZERO_USAGE: Usage = Object.freeze({ input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 });

/**
 * A model's rates, all in micro-credits (docs/billing.md "Prices"). Token rates are per million tokens,
 * images per image, video per second, audio per minute, `perRequest` once per billed request.
 */
export interface PriceRates {
  inputPerMtok: bigint;
  cachedInputPerMtok: bigint;
  cacheWritePerMtok: bigint;
  outputPerMtok: bigint;
  /** null: reasoning tokens are billed as the output tokens they are part of. */
  reasoningPerMtok: bigint | null;
  perRequest: bigint;
  /** Size → quality → price of one image. */
  perImage: Readonly<Record<string, Readonly<Record<string, bigint>>>>;
  /** Resolution → price of one second of video. */
  videoPerSecond: Readonly<Record<string, bigint>>;
  audioInputPerMinute: bigint;
  audioOutputPerMinute: bigint;
}

/** One stored price version of a model: what a charge records and can be recomputed from. */
export interface ModelPrice extends PriceRates {
  /** The price version row this price came from (recorded with every charge). */
  version: number;
  effectiveFrom: Date;
}

/** Rates of a model that only has token prices (everything else zero or unset). */
export function tokenRates(rates: Pick<PriceRates, 'inputPerMtok' | 'cachedInputPerMtok' | 'cacheWritePerMtok' | 'outputPerMtok'>): PriceRates {
  return { ...rates, reasoningPerMtok: null, perRequest: 0n, perImage: {}, videoPerSecond: {}, audioInputPerMinute: 0n, audioOutputPerMinute: 0n };
}
