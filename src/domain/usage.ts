// Normalized token usage. Counts are whole tokens; `raw` keeps the provider's own usage object for audit.

export interface Usage {
  /** Prompt tokens billed at the input rate (cached and cache-write tokens excluded). */
  input: number;
  /** Prompt tokens served from the provider's cache. */
  cachedInput: number;
  /** Prompt tokens written to the provider's cache. */
  cacheWrite: number;
  /** Completion tokens, reasoning included. */
  output: number;
  /** The part of `output` spent on reasoning (reported, billed at the output rate). */
  reasoning: number;
}

export const ZERO_USAGE: Usage = Object.freeze({ input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 });

export interface ModelPrice {
  /** The price version row this price came from (recorded with every charge). */
  version: number;
  inputPerMtok: bigint;
  cachedInputPerMtok: bigint;
  cacheWritePerMtok: bigint;
  outputPerMtok: bigint;
}
