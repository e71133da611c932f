// The public price list: each configured model with its current price version and the scheduled ones.
// Loaded from the stored versions at start-up and refreshed on a timer (other replicas' schedules); a model
// switches to its next version at that version's effective_from by itself — a clock comparison on use, no
// database read per request. A request keeps the PricedModel it was admitted with (quote, hold and charge
// all use the same version).
import type { ModelConfig } from '../config/index.ts';
import { formatCredits, MS_PER_MINUTE, MS_PER_SECOND, tokenCost, unitCost, type MicroCredits } from '../domain/money.ts';
import type { ModelPrice, PriceRates, Usage } from '../domain/usage.ts';
import type { PricesRepo } from '../storage/types.ts';

export interface PricedModel {
  config: ModelConfig;
  /** The version in effect when this object was handed out. */
  price: ModelPrice;
  /** The worst-case rate for an input token (whichever of input/cached/cache-write is dearest). */
  worstInputPerMtok: MicroCredits;
  /** The worst-case rate for an output token (output or reasoning, whichever is dearer). */
  worstOutputPerMtok: MicroCredits;
}

const max = (values: readonly MicroCredits[]): MicroCredits => values.reduce((a, b) => (b > a ? b : a), 0n);

function priced(config: ModelConfig, price: ModelPrice): PricedModel {
  return {
    config,
    price,
    worstInputPerMtok: max([price.inputPerMtok, price.cachedInputPerMtok, price.cacheWritePerMtok]),
    worstOutputPerMtok: max([price.outputPerMtok, price.reasoningPerMtok ?? 0n]),
  };
}

/** The dearest entry of a keyed table, and the entry for `key` when there is one (never a prototype key). */
function lookup(table: Readonly<Record<string, MicroCredits>>, key: string): MicroCredits | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** One image's price: its size and quality; an unpriced quality → the size's dearest; an unpriced size → the dearest. */
export function imagePrice(rates: PriceRates, size: string, quality: string): MicroCredits {
  const bySize = Object.hasOwn(rates.perImage, size) ? rates.perImage[size] : undefined;
  if (bySize) return lookup(bySize, quality) ?? max(Object.values(bySize));
  return max(Object.values(rates.perImage).flatMap((qualities) => Object.values(qualities)));
}

/** One second of video at a resolution; an unpriced resolution → the dearest. */
export function videoSecondPrice(rates: PriceRates, resolution: string): MicroCredits {
  return lookup(rates.videoPerSecond, resolution) ?? max(Object.values(rates.videoPerSecond));
}

/** Whether the usage consumed anything at all (a request that consumed nothing pays no per-request fee). */
function consumed(usage: Usage): boolean {
  return (
    usage.input + usage.cachedInput + usage.cacheWrite + usage.output > 0 ||
    (usage.images ?? []).some((i) => i.count > 0) ||
    (usage.video ?? []).some((v) => v.ms > 0) ||
    (usage.audioInputMs ?? 0) > 0 ||
    (usage.audioOutputMs ?? 0) > 0
  );
}

/**
 * The cost of actual usage: each line item at its own rate, each rounded up to the micro-credit
 * (docs/billing.md "Prices"): tokens per million, images per image, video per second and audio per minute
 * (both from whole milliseconds), plus the per-request fee once.
 */
export function costOf(usage: Usage, price: PriceRates): MicroCredits {
  let total =
    tokenCost(usage.input, price.inputPerMtok) +
    tokenCost(usage.cachedInput, price.cachedInputPerMtok) +
    tokenCost(usage.cacheWrite, price.cacheWritePerMtok);
  if (price.reasoningPerMtok === null) {
    total += tokenCost(usage.output, price.outputPerMtok);
  } else {
    const reasoning = Math.min(Math.max(usage.reasoning, 0), Math.max(usage.output, 0));
    total += tokenCost(usage.output - reasoning, price.outputPerMtok) + tokenCost(reasoning, price.reasoningPerMtok);
  }
  for (const image of usage.images ?? []) total += unitCost(image.count, imagePrice(price, image.size, image.quality), 1n);
  for (const clip of usage.video ?? []) total += unitCost(clip.ms, videoSecondPrice(price, clip.resolution), MS_PER_SECOND);
  total += unitCost(usage.audioInputMs ?? 0, price.audioInputPerMinute, MS_PER_MINUTE);
  total += unitCost(usage.audioOutputMs ?? 0, price.audioOutputPerMinute, MS_PER_MINUTE);
  if (price.perRequest > 0n && consumed(usage)) total += price.perRequest;
  return total;
}

const creditsTable = (table: Readonly<Record<string, MicroCredits>>): Record<string, string> =>
  Object.fromEntries(Object.entries(table).map(([key, micro]) => [key, formatCredits(micro)]));

/**
 * Rates in credits as exact decimal strings: token rates per million tokens (`unit`), `request` per request,
 * `image` per image (size → quality), `video_second` per second (resolution), `audio_*_minute` per minute.
 * Shapes a model does not use are left out.
 */
export function publicRates(rates: PriceRates): Record<string, unknown> {
  const images = Object.entries(rates.perImage).filter(([, qualities]) => Object.keys(qualities).length > 0);
  return {
    unit: 'credits_per_million_tokens',
    input: formatCredits(rates.inputPerMtok),
    cached_input: formatCredits(rates.cachedInputPerMtok),
    cache_write: formatCredits(rates.cacheWritePerMtok),
    output: formatCredits(rates.outputPerMtok),
    ...(rates.reasoningPerMtok !== null ? { reasoning: formatCredits(rates.reasoningPerMtok) } : {}),
    ...(rates.perRequest > 0n ? { request: formatCredits(rates.perRequest) } : {}),
    ...(images.length > 0 ? { image: Object.fromEntries(images.map(([size, qualities]) => [size, creditsTable(qualities)])) } : {}),
    ...(Object.keys(rates.videoPerSecond).length > 0 ? { video_second: creditsTable(rates.videoPerSecond) } : {}),
    ...(rates.audioInputPerMinute > 0n ? { audio_input_minute: formatCredits(rates.audioInputPerMinute) } : {}),
    ...(rates.audioOutputPerMinute > 0n ? { audio_output_minute: formatCredits(rates.audioOutputPerMinute) } : {}),
  };
}

/** A version as /v1/models shows it: its rates in credits, its version id and when it takes (or took) effect. */
export function publicPricing(price: ModelPrice): Record<string, unknown> {
  return { ...publicRates(price), version: price.version, effective_from: price.effectiveFrom.toISOString() };
}

interface Timeline {
  current: PricedModel;
  /** Scheduled versions, soonest first. */
  upcoming: readonly ModelPrice[];
}

export interface CatalogueOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

export class Catalogue {
  private readonly configs: readonly ModelConfig[];
  private readonly byId: ReadonlyMap<string, ModelConfig>;
  private readonly now: () => number;
  private timelines = new Map<string, Timeline>();
  /** The earliest effective_from among the upcoming versions (Infinity: none). */
  private nextSwitchAt = Number.POSITIVE_INFINITY;

  /** `versions`: what PricesRepo.active returned (each model's current version and its upcoming ones). */
  constructor(models: readonly ModelConfig[], versions: readonly (ModelPrice & { model: string })[], options: CatalogueOptions = {}) {
    this.configs = models;
    this.now = options.now ?? Date.now;
    this.byId = new Map(models.flatMap((m) => [m.id, ...m.aliases].map((id): [string, ModelConfig] => [id, m])));
    this.apply(versions, true);
  }

  static async load(models: readonly ModelConfig[], prices: PricesRepo, options: CatalogueOptions = {}): Promise<Catalogue> {
    const now = options.now ?? Date.now;
    return new Catalogue(models, await prices.active(new Date(now())), options);
  }

  /** Re-reads the stored versions (schedules and cancellations made elsewhere); one query. */
  async refresh(prices: PricesRepo): Promise<void> {
    this.apply(await prices.active(new Date(this.now())), false);
  }

  /** Refreshes every `everyMs` in the background; returns the function that stops it. */
  startRefresh(prices: PricesRepo, everyMs: number, onError: (error: unknown) => void): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.refresh(prices).catch(onError).finally(() => {
        running = false;
      });
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private apply(versions: readonly (ModelPrice & { model: string })[], strict: boolean): void {
    const now = this.now();
    const byModel = new Map<string, ModelPrice[]>();
    for (const v of versions) {
      const list = byModel.get(v.model);
      if (list) list.push(v);
      else byModel.set(v.model, [v]);
    }
    const timelines = new Map<string, Timeline>();
    for (const config of this.configs) {
      // Ordered by effective_from, then id: the current one is the last that has started.
      const list = [...(byModel.get(config.id) ?? [])].sort((a, b) => a.effectiveFrom.getTime() - b.effectiveFrom.getTime() || a.version - b.version);
      const started = list.filter((v) => v.effectiveFrom.getTime() <= now);
      const current = started.at(-1);
      if (!current) {
        if (strict) throw new Error(`no stored price for model ${config.id}`);
        const kept = this.timelines.get(config.id);
        if (kept) timelines.set(config.id, kept);
        continue;
      }
      timelines.set(config.id, { current: priced(config, current), upcoming: list.filter((v) => v.effectiveFrom.getTime() > now) });
    }
    this.timelines = timelines;
    this.updateNextSwitch();
  }

  private updateNextSwitch(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.timelines.values()) {
      const at = t.upcoming[0]?.effectiveFrom.getTime();
      if (at !== undefined && at < next) next = at;
    }
    this.nextSwitchAt = next;
  }

  /** Moves every model whose next version has started onto it (cheap: a comparison until one has). */
  private advance(): void {
    const now = this.now();
    if (now < this.nextSwitchAt) return;
    for (const [id, t] of this.timelines) {
      let { current, upcoming } = t;
      while (upcoming[0] && upcoming[0].effectiveFrom.getTime() <= now) {
        current = priced(current.config, upcoming[0]);
        upcoming = upcoming.slice(1);
      }
      if (current !== t.current) this.timelines.set(id, { current, upcoming });
    }
    this.updateNextSwitch();
  }

  /** The model by id or alias, at its price in effect now. */
  get(id: string): PricedModel | undefined {
    this.advance();
    const config = this.byId.get(id);
    return config && this.timelines.get(config.id)?.current;
  }

  /** The scheduled versions of a model (by id or alias), soonest first. */
  upcoming(id: string): readonly ModelPrice[] {
    this.advance();
    const config = this.byId.get(id);
    return (config && this.timelines.get(config.id)?.upcoming) ?? [];
  }

  /** Each model once (aliases are not listed separately), at its price in effect now. */
  list(): PricedModel[] {
    this.advance();
    return this.configs.flatMap((c) => {
      const t = this.timelines.get(c.id);
      return t ? [t.current] : [];
    });
  }
}
