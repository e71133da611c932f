// Price fields (USD, as operators write them) → rates in micro-credits, exactly; and the instants a scheduled
// price takes effect. Shared by the config file and the admin API, so both accept the same fields.
import { readUsd, type MicroCredits } from '../domain/money.ts';
import type { PriceRates } from '../domain/usage.ts';
import { ConfigError } from './errors.ts';
import type { PriceFields } from './schema.ts';

export type ModelKind = 'chat' | 'embeddings';

/** A price field → micro-credits, exact and within domain/money.ts's PRICE_RANGE, or a ConfigError naming it. */
function micro(value: string | number, at: string, field: string): MicroCredits {
  const amount = readUsd(value);
  if (!amount.ok) throw new ConfigError(`${at}${field}: ${amount.reason}`, field);
  return amount.micro;
}

const optional = (value: string | number | undefined, at: string, field: string): MicroCredits | undefined =>
  value === undefined ? undefined : micro(value, at, field);

function table(values: Readonly<Record<string, string | number>> | undefined, at: string, field: string): Record<string, MicroCredits> {
  const out: Record<string, MicroCredits> = {};
  for (const [key, value] of Object.entries(values ?? {})) out[key] = micro(value, at, `${field}.${key}`);
  return out;
}

/**
 * The rates of one price. `at` prefixes messages (`models[0].price.`; empty for the admin API). Unset cache
 * rates are the input rate (never cheaper than the operator said); an unset reasoning rate bills reasoning as
 * output; everything else unset is free.
 */
export function ratesFromFields(p: PriceFields, kind: ModelKind, at: string): PriceRates {
  if (p.input_per_mtok_usd === undefined) throw new ConfigError(`${at}input_per_mtok_usd: required for ${kind === 'chat' ? 'a chat' : 'an embeddings'} model`, 'input_per_mtok_usd');
  if (kind === 'chat' && p.output_per_mtok_usd === undefined) {
    throw new ConfigError(`${at}output_per_mtok_usd: required for a chat model`, 'output_per_mtok_usd');
  }
  const input = micro(p.input_per_mtok_usd, at, 'input_per_mtok_usd');
  const images: Record<string, Record<string, MicroCredits>> = {};
  for (const [size, qualities] of Object.entries(p.images ?? {})) images[size] = table(qualities, at, `images.${size}`);
  return {
    inputPerMtok: input,
    cachedInputPerMtok: optional(p.cached_input_per_mtok_usd, at, 'cached_input_per_mtok_usd') ?? input,
    cacheWritePerMtok: optional(p.cache_write_per_mtok_usd, at, 'cache_write_per_mtok_usd') ?? input,
    outputPerMtok: optional(p.output_per_mtok_usd, at, 'output_per_mtok_usd') ?? 0n,
    reasoningPerMtok: optional(p.reasoning_per_mtok_usd, at, 'reasoning_per_mtok_usd') ?? null,
    perRequest: optional(p.request_usd, at, 'request_usd') ?? 0n,
    perImage: images,
    videoPerSecond: table(p.video_per_second_usd, at, 'video_per_second_usd'),
    audioInputPerMinute: optional(p.audio_input_per_minute_usd, at, 'audio_input_per_minute_usd') ?? 0n,
    audioOutputPerMinute: optional(p.audio_output_per_minute_usd, at, 'audio_output_per_minute_usd') ?? 0n,
  };
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `2026-12-15` (00:00 UTC) or an ISO 8601 instant with `Z` or an offset; anything else is refused. */
export function parseEffectiveFrom(value: string | Date, where: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new ConfigError(`${where}: not a valid date`, 'effective_from');
    return value;
  }
  const text = value.trim();
  const date = DATE_ONLY.exec(text);
  if (date) {
    const at = new Date(Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3])));
    if (at.toISOString().slice(0, 10) === text) return at;
  } else if (INSTANT.test(text)) {
    const at = new Date(text);
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new ConfigError(`${where}: "${text}" is not a date (2026-12-15, meaning 00:00 UTC) or an ISO 8601 instant with its offset (2026-12-15T09:00:00Z)`, 'effective_from');
}
