// The rules of price versions (docs/decisions/0010-price-versions.md):
// - a change is scheduled at least 14 days ahead; an earlier date only forced, with a reason, never in the past;
// - the config's `price` is the price when a model is first seen; afterwards the config may only schedule
//   changes (`price_changes`), and a `price` that differs from the stored current one refuses to start;
// - every user with a usage event on the model in the last 90 days is notified of a scheduled change once.
import { ConfigError, type ModelConfig } from '../config/index.ts';
import { formatUsd, type MicroCredits } from '../domain/money.ts';
import type { ModelPrice, PriceRates } from '../domain/usage.ts';
import type { NewNotification, NewPriceVersion, PriceVersion, Store } from '../storage/types.ts';
import { publicRates } from './catalogue.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How far ahead a price change must be announced. */
export const NOTICE_DAYS = 14;
export const NOTICE_MS = NOTICE_DAYS * DAY_MS;
/** Who hears of a change: users with a usage event on the model this recently. */
export const RECENT_USE_MS = 90 * DAY_MS;

/** A schedule that breaks the notice rules; `field` is the offending request/config field. */
export class PriceRuleError extends Error {
  override name = 'PriceRuleError';
  constructor(
    message: string,
    readonly field: 'effective_from' | 'reason',
  ) {
    super(message);
  }
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
/** The first UTC midnight at least `NOTICE_MS` after `now`: the earliest date an unforced change may use. */
export const earliestUnforcedDay = (now: number): string => day(Math.ceil((now + NOTICE_MS) / DAY_MS) * DAY_MS);

/** Throws unless a version starting at `effectiveFrom` may be scheduled at `now`. */
export function checkNotice(effectiveFrom: Date, now: number, force: boolean, reason: string | null | undefined): void {
  const at = effectiveFrom.getTime();
  if (at <= now) {
    throw new PriceRuleError(`effective_from ${effectiveFrom.toISOString()} is not in the future: a price never changes retroactively.`, 'effective_from');
  }
  if (at >= now + NOTICE_MS) return;
  if (!force) {
    throw new PriceRuleError(
      `effective_from must be at least ${NOTICE_DAYS} days ahead (on or after ${new Date(now + NOTICE_MS).toISOString()}); an earlier date needs "force": true and a "reason".`,
      'effective_from',
    );
  }
  if (!reason?.trim()) throw new PriceRuleError(`A change with less than ${NOTICE_DAYS} days' notice needs a reason (it is recorded on the price version).`, 'reason');
}

// ---------------------------------------------------------------------------------------------------
// Comparing and describing rates.

type Nested = { [key: string]: string | Nested };

function flatten(value: Nested, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string') out.set(prefix + key, v);
    else for (const [k, leaf] of flatten(v, `${prefix}${key}.`)) out.set(k, leaf);
  }
  return out;
}

const usdTable = (table: Readonly<Record<string, MicroCredits>>): Nested =>
  Object.fromEntries(Object.entries(table).map(([key, micro]) => [key, formatUsd(micro)]));

/** Rates as the config writes them (USD), leaving out what is unset or implied. */
export function usdView(r: PriceRates): Nested {
  const out: Nested = { input_per_mtok_usd: formatUsd(r.inputPerMtok), output_per_mtok_usd: formatUsd(r.outputPerMtok) };
  if (r.cachedInputPerMtok !== r.inputPerMtok) out.cached_input_per_mtok_usd = formatUsd(r.cachedInputPerMtok);
  if (r.cacheWritePerMtok !== r.inputPerMtok) out.cache_write_per_mtok_usd = formatUsd(r.cacheWritePerMtok);
  if (r.reasoningPerMtok !== null) out.reasoning_per_mtok_usd = formatUsd(r.reasoningPerMtok);
  if (r.perRequest > 0n) out.request_usd = formatUsd(r.perRequest);
  const images = Object.entries(r.perImage).filter(([, q]) => Object.keys(q).length > 0);
  if (images.length > 0) out.images = Object.fromEntries(images.map(([size, q]) => [size, usdTable(q)]));
  if (Object.keys(r.videoPerSecond).length > 0) out.video_per_second_usd = usdTable(r.videoPerSecond);
  if (r.audioInputPerMinute > 0n) out.audio_input_per_minute_usd = formatUsd(r.audioInputPerMinute);
  if (r.audioOutputPerMinute > 0n) out.audio_output_per_minute_usd = formatUsd(r.audioOutputPerMinute);
  return out;
}

/** Two prices are the same when every rate is (exactly) the same. */
export function sameRates(a: PriceRates, b: PriceRates): boolean {
  const x = flatten(usdView(a));
  const y = flatten(usdView(b));
  return x.size === y.size && [...x].every(([key, value]) => y.get(key) === value);
}

/** `field old → new` for each rate that differs (missing = unset). */
function differences(before: Nested, after: Nested, render: (key: string, from: string, to: string) => string): string[] {
  const a = flatten(before);
  const b = flatten(after);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => render(k, a.get(k) ?? 'unset', b.get(k) ?? 'unset'));
}

/** A YAML flow value: numbers bare, keys quoted when they need it. */
function yamlValue(value: string | Nested): string {
  if (typeof value === 'string') return value;
  return `{ ${Object.entries(value).map(([k, v]) => `${/^[A-Za-z_][\w-]*$/.test(k) ? k : JSON.stringify(k)}: ${yamlValue(v)}`).join(', ')} }`;
}

// ---------------------------------------------------------------------------------------------------
// Start-up: the config's prices against the stored versions.

export type PriceLog = (level: 'info' | 'warn', message: string) => void;

const started = (v: ModelPrice, now: number): boolean => v.effectiveFrom.getTime() <= now;

/** What a config model asks for and what to add (pure: called inside the store's reconcile transaction). */
export function planConfiguredPrices(model: ModelConfig, index: number, versions: readonly PriceVersion[], now: number, log: PriceLog): NewPriceVersion[] {
  const at = `models[${index}]`;
  const fromConfig = (rates: PriceRates, effectiveFrom: Date, reason: string | null): NewPriceVersion =>
    ({ model: model.id, rates, effectiveFrom, source: 'config', actor: 'config', reason });
  // The price the config says applies now: `price`, or the latest of its changes that has started.
  const configCurrent = model.priceChanges.filter((c) => c.effectiveFrom.getTime() <= now).at(-1)?.price ?? model.price;
  const live = versions.filter((v) => v.cancelledAt === null);

  // First seen: nobody has used it at any price here, so its prices apply as written, without notice.
  if (live.length === 0) {
    return [
      fromConfig(configCurrent, new Date(now), null),
      ...model.priceChanges.filter((c) => c.effectiveFrom.getTime() > now).map((c) => fromConfig(c.price, c.effectiveFrom, c.reason ?? null)),
    ];
  }

  const adds: NewPriceVersion[] = [];
  for (const [j, change] of model.priceChanges.entries()) {
    const where = `${at}.price_changes[${j}]`;
    const matches = (v: PriceVersion): boolean => v.effectiveFrom.getTime() === change.effectiveFrom.getTime() && sameRates(v, change.price);
    if (live.some(matches)) continue;
    const cancelled = versions.find(matches);
    if (cancelled) {
      throw new ConfigError(`${where}: this change (price version ${cancelled.version}) was cancelled on ${cancelled.cancelledAt?.toISOString() ?? '?'} by ${cancelled.cancelledBy ?? '?'}; remove it from the config.`);
    }
    if (change.effectiveFrom.getTime() <= now) {
      throw new ConfigError(`${where}.effective_from: ${change.effectiveFrom.toISOString()} has passed and this change was never scheduled: a price never changes retroactively. Give it a date at least ${NOTICE_DAYS} days ahead (${earliestUnforcedDay(now)} or later).`);
    }
    try {
      checkNotice(change.effectiveFrom, now, change.force, change.reason);
    } catch (error) {
      if (error instanceof PriceRuleError) throw new ConfigError(`${where}.${error.field}: ${error.message.replace('"force": true and a "reason"', 'force: true and a reason')}`);
      throw error;
    }
    adds.push(fromConfig(change.price, change.effectiveFrom, change.reason ?? null));
  }

  const current = live.filter((v) => started(v, now)).at(-1);
  if (!current || sameRates(current, configCurrent)) return adds;
  if (current.source === 'admin') {
    log('warn', `${at}.price (${model.id}): the current price is version ${current.version}, set through the admin API${current.reason ? ` (${current.reason})` : ''}; it applies, not the config's. Update the config to match it.`);
    return adds;
  }
  const pending = live.find((v) => !started(v, now) && sameRates(v, configCurrent));
  if (pending) {
    log('info', `${at}.price (${model.id}): version ${pending.version} with this price takes effect on ${pending.effectiveFrom.toISOString()}; version ${current.version} applies until then.`);
    return adds;
  }
  const changes = differences(usdView(current), usdView(configCurrent), (k, from, to) => `${k} ${from} → ${to}`);
  const snippet = Object.entries(usdView(configCurrent)).map(([k, v]) => `        ${k}: ${yamlValue(v)}`);
  throw new ConfigError(
    [
      `${at}.price: differs from the current price of ${model.id} (version ${current.version}, since ${current.effectiveFrom.toISOString()}): ${changes.join(', ')}.`,
      `A price change is announced at least ${NOTICE_DAYS} days ahead. Put the current price back under price: and schedule the new one:`,
      '    price_changes:',
      `      - effective_from: "${earliestUnforcedDay(now)}"   # or any later date`,
      ...snippet,
      `or schedule it with POST /admin/v1/models/${model.id}/prices. An earlier date needs force: true and a reason.`,
    ].join('\n'),
  );
}

/** Brings the stored versions in line with the config (atomically, serialized across replicas); returns what was added. */
export async function syncConfiguredPrices(models: readonly ModelConfig[], store: Pick<Store, 'prices'>, now: number, log: PriceLog): Promise<PriceVersion[]> {
  const index = new Map(models.map((m, i) => [m.id, i]));
  const byId = new Map(models.map((m) => [m.id, m]));
  return store.prices.reconcile(
    models.map((m) => m.id),
    (id, versions) => {
      const model = byId.get(id);
      return model ? planConfiguredPrices(model, index.get(id) ?? 0, versions, now, log) : [];
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// Notifications (records in the notifications table; delivery by email comes with accounts).

const UNITS: ReadonlyArray<[RegExp, string]> = [
  [/^(input|cached_input|cache_write|output|reasoning)$/, 'credits per million tokens'],
  [/^request$/, 'credits per request'],
  [/^image\./, 'credits per image'],
  [/^video_second\./, 'credits per second of video'],
  [/^audio_(input|output)_minute$/, 'credits per minute of audio'],
];
const unitOf = (key: string): string => UNITS.find(([pattern]) => pattern.test(key))?.[1] ?? 'credits';

function creditsView(rates: PriceRates): Nested {
  const { unit: _unit, ...rest } = publicRates(rates);
  return rest as Nested;
}

/** The version in effect just before `version` starts (cancelled ones never were). */
function predecessor(history: readonly PriceVersion[], version: PriceVersion): PriceVersion | undefined {
  const key = (v: PriceVersion): [number, number] => [v.effectiveFrom.getTime(), v.version];
  const [at, id] = key(version);
  return history.filter((v) => v.cancelledAt === null && (v.effectiveFrom.getTime() < at || (v.effectiveFrom.getTime() === at && v.version < id))).at(-1);
}

async function notifyRecentUsers(store: Pick<Store, 'prices' | 'notifications'>, model: string, now: number, build: (userId: string) => NewNotification): Promise<number> {
  const users = await store.prices.recentUsers(model, new Date(now - RECENT_USE_MS));
  return store.notifications.create(users.map(build));
}

/**
 * Tells every user with a usage event on the model in the last 90 days about a scheduled version: one
 * notification each (kind `price_change`, deduplicated per version, so announcing again is a no-op).
 */
export async function announce(store: Pick<Store, 'prices' | 'notifications'>, version: PriceVersion, now: number): Promise<number> {
  const previous = predecessor(await store.prices.history(version.model), version);
  const before = previous ? creditsView(previous) : {};
  const after = creditsView(version);
  const when = version.effectiveFrom.toISOString();
  const lines = differences(before, after, (k, from, to) => `${k.replaceAll('_', ' ')} ${from} → ${to} ${unitOf(k)}`);
  const data = {
    model: version.model,
    version: version.version,
    previous_version: previous?.version ?? null,
    effective_from: when,
    old: previous ? publicRates(previous) : null,
    new: publicRates(version),
  };
  const created = await notifyRecentUsers(store, version.model, now, (userId) => ({
    userId,
    kind: 'price_change',
    subject: `Price change for ${version.model} from ${day(version.effectiveFrom.getTime())}`,
    body: `From ${when}, ${version.model} is billed at price version ${version.version}: ${lines.length > 0 ? lines.join('; ') : 'the same rates'}. $1 = 1,000 credits.`,
    data,
    dedupeKey: `price_change:${version.version}`,
  }));
  await store.prices.markAnnounced(version.version, new Date(now));
  return created;
}

/**
 * Announces every scheduled version whose users have not been told yet and that was created at least `minAgeMs`
 * ago: at start-up (0), and periodically for an announcement that failed or whose process died (the age leaves
 * the scheduling replica time to announce its own).
 */
export async function announcePending(store: Pick<Store, 'prices' | 'notifications'>, now: number, minAgeMs = 0): Promise<number> {
  let created = 0;
  for (const version of await store.prices.active(new Date(now))) {
    const due = version.effectiveFrom.getTime() > now && version.announcedAt === null && (minAgeMs === 0 || version.createdAt.getTime() <= now - minAgeMs);
    if (due) created += await announce(store, version, now);
  }
  return created;
}

/** Tells the model's recent users that an announced change will not happen (kind `price_change_cancelled`). */
export async function announceCancellation(store: Pick<Store, 'prices' | 'notifications'>, version: PriceVersion, now: number): Promise<number> {
  const when = version.effectiveFrom.toISOString();
  return notifyRecentUsers(store, version.model, now, (userId) => ({
    userId,
    kind: 'price_change_cancelled',
    subject: `Price change for ${version.model} on ${day(version.effectiveFrom.getTime())} cancelled`,
    body: `The price change announced for ${version.model} from ${when} (price version ${version.version}) will not happen.`,
    data: { model: version.model, version: version.version, effective_from: when, reason: version.cancelReason },
    dedupeKey: `price_change_cancelled:${version.version}`,
  }));
}
