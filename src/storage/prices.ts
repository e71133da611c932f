// Price versions: row ↔ PriceVersion mapping, shared by both dialects, and the single-statement queries
// (Kysely). The multi-statement start-up reconcile is per dialect: sqlite/prices.ts, postgres/prices.ts.

import type { Kysely, Selectable } from 'kysely';
import type { PriceRates } from '../domain/usage.ts';
import type { NewPriceVersion, PriceSource, PriceVersion, PricesRepo } from './types.ts';
import { toBig, toDate, toDateOrNull, toNum, type Database, type ModelPricesTable } from './db.ts';

export type PriceRow = Selectable<ModelPricesTable>;

type MicroTable = Readonly<Record<string, bigint>>;

const tableToJson = (table: MicroTable): Record<string, string> =>
  Object.fromEntries(Object.entries(table).map(([key, micro]) => [key, micro.toString()]));

function tableFromJson(value: unknown): Record<string, bigint> {
  if (typeof value !== 'object' || value === null) return {};
  const out: Record<string, bigint> = {};
  for (const [key, micro] of Object.entries(value)) out[key] = toBig(micro);
  return out;
}

/** The keyed rates as stored: integer micro-credits as strings (JSON has no bigint); null when there are none. */
export function mediaJson(rates: PriceRates): string | null {
  const images = Object.entries(rates.perImage).filter(([, qualities]) => Object.keys(qualities).length > 0);
  const video = Object.keys(rates.videoPerSecond).length > 0;
  if (images.length === 0 && !video) return null;
  return JSON.stringify({
    ...(images.length > 0 ? { images: Object.fromEntries(images.map(([size, qualities]) => [size, tableToJson(qualities)])) } : {}),
    ...(video ? { video_per_second: tableToJson(rates.videoPerSecond) } : {}),
  });
}

function parseMedia(text: string | null): Pick<PriceRates, 'perImage' | 'videoPerSecond'> {
  if (text === null) return { perImage: {}, videoPerSecond: {} };
  const parsed = JSON.parse(text) as { images?: unknown; video_per_second?: unknown };
  const perImage: Record<string, Record<string, bigint>> = {};
  if (typeof parsed.images === 'object' && parsed.images !== null) {
    for (const [size, qualities] of Object.entries(parsed.images)) perImage[size] = tableFromJson(qualities);
  }
  return { perImage, videoPerSecond: tableFromJson(parsed.video_per_second) };
}

const toSource = (value: string): PriceSource => (value === 'admin' ? 'admin' : 'config');

export function mapPriceRow(row: PriceRow): PriceVersion {
  return {
    version: toNum(row.id),
    model: row.model,
    effectiveFrom: toDate(row.effective_from),
    inputPerMtok: toBig(row.input_per_mtok),
    cachedInputPerMtok: toBig(row.cached_input_per_mtok),
    cacheWritePerMtok: toBig(row.cache_write_per_mtok),
    outputPerMtok: toBig(row.output_per_mtok),
    reasoningPerMtok: row.reasoning_per_mtok === null ? null : toBig(row.reasoning_per_mtok),
    perRequest: toBig(row.per_request),
    ...parseMedia(row.media),
    audioInputPerMinute: toBig(row.audio_input_per_minute),
    audioOutputPerMinute: toBig(row.audio_output_per_minute),
    source: toSource(row.source),
    actor: row.actor,
    reason: row.reason,
    createdAt: toDate(row.created_at),
    cancelledAt: toDateOrNull(row.cancelled_at),
    cancelledBy: row.cancelled_by,
    cancelReason: row.cancel_reason,
    announcedAt: toDateOrNull(row.announced_at),
  };
}

function checkRates(model: string, rates: PriceRates): void {
  const amounts = [
    rates.inputPerMtok, rates.cachedInputPerMtok, rates.cacheWritePerMtok, rates.outputPerMtok, rates.reasoningPerMtok ?? 0n,
    rates.perRequest, rates.audioInputPerMinute, rates.audioOutputPerMinute, ...Object.values(rates.videoPerSecond),
    ...Object.values(rates.perImage).flatMap((qualities) => Object.values(qualities)),
  ];
  if (amounts.some((amount) => amount < 0n)) throw new RangeError(`prices: negative price for model ${model}`);
}

/** The columns a new version writes (`id` is generated). */
export const PRICE_COLUMNS = [
  'model', 'input_per_mtok', 'cached_input_per_mtok', 'cache_write_per_mtok', 'output_per_mtok', 'reasoning_per_mtok',
  'per_request', 'audio_input_per_minute', 'audio_output_per_minute', 'media', 'effective_from', 'created_at', 'source',
  'actor', 'reason', 'cancelled_at', 'cancelled_by', 'cancel_reason', 'announced_at',
] as const;

export type NewPriceRow = Record<(typeof PRICE_COLUMNS)[number], string | number | bigint | null>;

/** The row to insert for a new version (both dialects). */
export function newPriceRow(input: NewPriceVersion, now: number) {
  checkRates(input.model, input.rates);
  if (Number.isNaN(input.effectiveFrom.getTime())) throw new RangeError('prices: invalid effective_from');
  const r = input.rates;
  return {
    model: input.model,
    input_per_mtok: r.inputPerMtok,
    cached_input_per_mtok: r.cachedInputPerMtok,
    cache_write_per_mtok: r.cacheWritePerMtok,
    output_per_mtok: r.outputPerMtok,
    reasoning_per_mtok: r.reasoningPerMtok,
    per_request: r.perRequest,
    audio_input_per_minute: r.audioInputPerMinute,
    audio_output_per_minute: r.audioOutputPerMinute,
    media: mediaJson(r),
    effective_from: input.effectiveFrom.getTime(),
    created_at: now,
    source: input.source,
    actor: input.actor,
    reason: input.reason,
    cancelled_at: null,
    cancelled_by: null,
    cancel_reason: null,
    announced_at: null,
  } satisfies NewPriceRow;
}

/** The queries both dialects share; `reconcile` is the dialect's own (it needs a transaction). */
export function pricesRepo(db: Kysely<Database>, reconcile: PricesRepo['reconcile']): PricesRepo {
  return {
    async active(at: Date): Promise<PriceVersion[]> {
      const now = BigInt(at.getTime());
      const rows = await db
        .selectFrom('model_prices as p')
        .selectAll('p')
        .where('p.cancelled_at', 'is', null)
        .where((eb) =>
          eb.or([
            eb('p.effective_from', '>', now),
            eb(
              'p.id',
              '=',
              eb
                .selectFrom('model_prices as q')
                .select('q.id')
                .whereRef('q.model', '=', 'p.model')
                .where('q.cancelled_at', 'is', null)
                .where('q.effective_from', '<=', now)
                .orderBy('q.effective_from', 'desc')
                .orderBy('q.id', 'desc')
                .limit(1),
            ),
          ]),
        )
        .orderBy('p.model')
        .orderBy('p.effective_from')
        .orderBy('p.id')
        .execute();
      return rows.map(mapPriceRow);
    },
    async history(model: string): Promise<PriceVersion[]> {
      const rows = await db.selectFrom('model_prices').selectAll().where('model', '=', model).orderBy('effective_from').orderBy('id').execute();
      return rows.map(mapPriceRow);
    },
    async get(version: number): Promise<PriceVersion | undefined> {
      if (!Number.isSafeInteger(version)) return undefined;
      const row = await db.selectFrom('model_prices').selectAll().where('id', '=', version).executeTakeFirst();
      return row && mapPriceRow(row);
    },
    async add(input: NewPriceVersion): Promise<PriceVersion> {
      const row = await db.insertInto('model_prices').values(newPriceRow(input, Date.now())).returningAll().executeTakeFirstOrThrow();
      return mapPriceRow(row);
    },
    reconcile,
    async cancel(version: number, input: { at: Date; actor: string; reason: string | null }): Promise<PriceVersion | undefined> {
      const row = await db
        .updateTable('model_prices')
        .set({ cancelled_at: input.at.getTime(), cancelled_by: input.actor, cancel_reason: input.reason })
        .where('id', '=', version)
        .where('cancelled_at', 'is', null)
        .where('effective_from', '>', BigInt(input.at.getTime()))
        .returningAll()
        .executeTakeFirst();
      return row && mapPriceRow(row);
    },
    async markAnnounced(version: number, at: Date): Promise<void> {
      await db.updateTable('model_prices').set({ announced_at: at.getTime() }).where('id', '=', version).execute();
    },
    async recentUsers(model: string, since: Date): Promise<string[]> {
      const rows = await db
        .selectFrom('usage_events')
        .select('user_id')
        .distinct()
        .where('model', '=', model)
        .where('created_at', '>=', BigInt(since.getTime()))
        .execute();
      return rows.map((row) => row.user_id);
    },
  };
}
