// Price versions on both dialects: the repository, the config start-up rules (billing/prices.ts) against the
// stored versions, and the notifications a scheduled change sends to the model's recent users.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announce, announcePending, syncConfiguredPrices } from '../../src/billing/prices.ts';
import { ConfigError, loadConfig, type ModelConfig } from '../../src/config/index.ts';
import type { NewPriceVersion, Store } from '../../src/storage/types.ts';
import { storeBackends } from '../helpers/stores.ts';
import { BASE_RATES, MEDIA_RATES, fundedUser, inAMinute, rid, usageEvent } from './fixtures.ts';

const DAY = 24 * 60 * 60 * 1000;
const base = BASE_RATES;
const media = MEDIA_RATES;

const version = (model: string, over: Partial<NewPriceVersion> = {}): NewPriceVersion => ({
  model, rates: base, effectiveFrom: new Date(), source: 'admin', actor: 'admin', reason: null, ...over,
});

const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-prices-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** One model `id` as the config file writes it (real config parsing, USD → micro-credits). */
function configured(id: string, price: string, changes = ''): ModelConfig {
  const yaml = `
providers: [{ id: p, type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }]
models:
  - id: ${id}
    channels: [{ provider: p }]
    price: ${price}
${changes ? `    price_changes:\n${changes}` : ''}`;
  const model = loadConfig({ env: { SWITCHYARD_DATA_DIR: dataDir }, yamlText: yaml }).models[0];
  if (!model) throw new Error('no model');
  return model;
}

/** A settled request on `model` by `userId` at `createdAt` (the real hold → settle path writes the usage event). */
async function used(store: Store, userId: string, model: string, createdAt = new Date()): Promise<void> {
  const requestId = rid();
  await store.ledger.hold({ requestId, userId, amount: 10n, expiresAt: inAMinute() });
  await store.ledger.settle({ requestId, charge: 1n, usage: usageEvent(requestId, userId, { model, createdAt }) });
}

describe.each(storeBackends())('prices on $name', (backend) => {
  let store: Store;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(async () => {
    await store.close();
  });

  describe('repository', () => {
    it('stores every price shape exactly and reads it back', async () => {
      const model = `m-${rid()}`;
      const added = await store.prices.add(version(model, { rates: media, reason: 'launch', effectiveFrom: new Date(Date.now() - 1_000) }));
      expect(added).toMatchObject({ ...media, model, source: 'admin', actor: 'admin', reason: 'launch', cancelledAt: null, announcedAt: null });
      expect(await store.prices.get(added.version)).toEqual(added);
      const plain = await store.prices.add(version(model));
      expect(plain.reasoningPerMtok).toBeNull();
      expect(plain.perImage).toEqual({});
      expect(await store.prices.get(987_654_321)).toBeUndefined();
    });

    it('active = each model’s current version and its upcoming ones; ties go to the later version; cancelled ones never count', async () => {
      const model = `m-${rid()}`;
      const now = Date.now();
      const old = await store.prices.add(version(model, { effectiveFrom: new Date(now - 2 * DAY) }));
      const tieA = await store.prices.add(version(model, { effectiveFrom: new Date(now - DAY), rates: { ...base, outputPerMtok: 1n } }));
      const tieB = await store.prices.add(version(model, { effectiveFrom: new Date(now - DAY), rates: { ...base, outputPerMtok: 2n } }));
      const next = await store.prices.add(version(model, { effectiveFrom: new Date(now + 20 * DAY) }));
      const later = await store.prices.add(version(model, { effectiveFrom: new Date(now + 30 * DAY) }));
      const dropped = await store.prices.add(version(model, { effectiveFrom: new Date(now + 25 * DAY) }));

      expect(await store.prices.cancel(dropped.version, { at: new Date(now), actor: 'admin', reason: 'typo' })).toMatchObject({
        version: dropped.version, cancelledBy: 'admin', cancelReason: 'typo', cancelledAt: new Date(now),
      });
      // Only a version not yet in effect, and only once.
      expect(await store.prices.cancel(dropped.version, { at: new Date(now), actor: 'admin', reason: null })).toBeUndefined();
      expect(await store.prices.cancel(tieB.version, { at: new Date(now), actor: 'admin', reason: null })).toBeUndefined();

      const active = (await store.prices.active(new Date(now))).filter((v) => v.model === model).map((v) => v.version);
      expect(active).toEqual([tieB.version, next.version, later.version]);
      // At another instant the same rows give another answer: each replica switches by itself.
      const atNext = (await store.prices.active(new Date(now + 20 * DAY))).filter((v) => v.model === model).map((v) => v.version);
      expect(atNext).toEqual([next.version, later.version]);

      const history = await store.prices.history(model);
      expect(history.map((v) => v.version)).toEqual([old.version, tieA.version, tieB.version, next.version, dropped.version, later.version]);
      expect(history.find((v) => v.version === dropped.version)?.cancelledAt).toBeInstanceOf(Date);
    });

    it('finds the distinct users of a model since an instant in one aggregate query', async () => {
      const model = `m-${rid()}`;
      const [a, b, old, other] = await Promise.all([1, 2, 3, 4].map(() => fundedUser(store, 1_000n)));
      if (!a || !b || !old || !other) throw new Error('users');
      await used(store, a, model);
      await used(store, a, model);
      await used(store, b, model, new Date(Date.now() - 89 * DAY));
      await used(store, old, model, new Date(Date.now() - 91 * DAY));
      await used(store, other, `other-${model}`);
      const users = await store.prices.recentUsers(model, new Date(Date.now() - 90 * DAY));
      expect(users.sort()).toEqual([a, b].sort());
    });

    it('reconcile writes nothing when the plan throws', async () => {
      const model = `m-${rid()}`;
      const plan = (id: string) => {
        if (id === 'boom') throw new Error('refused');
        return [version(id)];
      };
      await expect(store.prices.reconcile([model, 'boom'], plan)).rejects.toThrow('refused');
      expect(await store.prices.history(model)).toEqual([]);
      const added = await store.prices.reconcile([model], plan);
      expect(added.map((v) => v.model)).toEqual([model]);
    });

    it('concurrent reconciles add a missing version once', async () => {
      const model = `m-${rid()}`;
      const plan = (id: string, versions: readonly unknown[]) => (versions.length === 0 ? [version(id)] : []);
      const results = await Promise.all([1, 2, 3, 4].map(() => store.prices.reconcile([model], plan)));
      expect(results.flat()).toHaveLength(1);
      expect(await store.prices.history(model)).toHaveLength(1);
    });
  });

  describe('config at start-up', () => {
    const logs: string[] = [];
    const log = (level: string, message: string): void => void logs.push(`${level}: ${message}`);
    const sync = (model: ModelConfig, now = Date.now()) => syncConfiguredPrices([model], store, now, log);

    it('a first-seen model gets its configured price at once; the same config again adds nothing', async () => {
      const id = `m-${rid()}`;
      const model = configured(id, '{ input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60, cached_input_per_mtok_usd: 0.075 }');
      const [first, ...rest] = await sync(model);
      expect(rest).toEqual([]);
      expect(first).toMatchObject({ model: id, inputPerMtok: 150_000_000n, cachedInputPerMtok: 75_000_000n, cacheWritePerMtok: 150_000_000n, outputPerMtok: 600_000_000n, source: 'config', actor: 'config' });
      expect(await sync(model)).toEqual([]);
    });

    it('refuses to start when the configured price changed without a schedule, saying how to schedule it', async () => {
      const id = `m-${rid()}`;
      await sync(configured(id, '{ input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }'));
      const edited = sync(configured(id, '{ input_per_mtok_usd: 0.2, output_per_mtok_usd: 0.60 }'));
      await expect(edited).rejects.toBeInstanceOf(ConfigError);
      await expect(edited).rejects.toThrow(/models\[0\]\.price: differs from the current price .*input_per_mtok_usd 0\.15 → 0\.2/);
      await expect(edited).rejects.toThrow(/price_changes:\n {6}- effective_from: "\d{4}-\d{2}-\d{2}"/);
      await expect(edited).rejects.toThrow(/POST \/admin\/v1\/models\/.*\/prices/);
      expect(await store.prices.history(id)).toHaveLength(1);
    });

    it('schedules a configured change 14 days ahead or more, once; refuses an earlier one unless forced with a reason', async () => {
      const id = `m-${rid()}`;
      const price = '{ input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }';
      await sync(configured(id, price));
      const now = Date.now();
      const date = (ms: number) => new Date(ms).toISOString();
      const change = (at: number, extra = '') => `      - { effective_from: "${date(at)}", input_per_mtok_usd: 0.2, output_per_mtok_usd: 0.8${extra} }\n`;

      const early = sync(configured(id, price, change(now + 13 * DAY)), now);
      await expect(early).rejects.toThrow(/models\[0\]\.price_changes\[0\]\.effective_from: effective_from must be at least 14 days ahead .*force: true and a reason/);
      await expect(sync(configured(id, price, change(now - DAY)), now)).rejects.toThrow(/has passed and this change was never scheduled/);

      const [scheduled] = await sync(configured(id, price, change(now + 15 * DAY)), now);
      expect(scheduled).toMatchObject({ effectiveFrom: new Date(date(now + 15 * DAY)), inputPerMtok: 200_000_000n, outputPerMtok: 800_000_000n, source: 'config', reason: null });
      expect(await sync(configured(id, price, change(now + 15 * DAY)), now + DAY)).toEqual([]);

      const [forced] = await sync(configured(id, price, change(now + 15 * DAY) + change(now + 16 * DAY, ', force: true, reason: "upstream raised prices"')), now + 10 * DAY);
      expect(forced).toMatchObject({ effectiveFrom: new Date(date(now + 16 * DAY)), reason: 'upstream raised prices' });

      // After the change took effect, the config may keep it listed or move it into price:.
      expect(await sync(configured(id, price, change(now + 15 * DAY) + change(now + 16 * DAY, ', force: true, reason: "x"')), now + 17 * DAY)).toEqual([]);
      expect(await sync(configured(id, '{ input_per_mtok_usd: 0.2, output_per_mtok_usd: 0.8 }'), now + 17 * DAY)).toEqual([]);
    });

    it('a price set through the admin API wins over a stale config, with a warning; a cancelled change must leave the config', async () => {
      const id = `m-${rid()}`;
      const price = '{ input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.60 }';
      await sync(configured(id, price));
      const now = Date.now();
      const admin = await store.prices.add(version(id, { effectiveFrom: new Date(now + 14 * DAY), rates: { ...base, inputPerMtok: 1n }, reason: 'promo' }));
      logs.length = 0;
      expect(await sync(configured(id, price), now + 15 * DAY)).toEqual([]);
      expect(logs.join('\n')).toMatch(new RegExp(`warn: models\\[0\\]\\.price \\(${id}\\): the current price is version ${admin.version}, set through the admin API \\(promo\\)`));

      const at = new Date(now + 40 * DAY).toISOString();
      const changes = `      - { effective_from: "${at}", input_per_mtok_usd: 0.3, output_per_mtok_usd: 0.9 }\n`;
      const [scheduled] = await sync(configured(id, price, changes), now + 15 * DAY);
      if (!scheduled) throw new Error('not scheduled');
      await store.prices.cancel(scheduled.version, { at: new Date(now + 16 * DAY), actor: 'admin', reason: 'changed our mind' });
      await expect(sync(configured(id, price, changes), now + 16 * DAY)).rejects.toThrow(/price_changes\[0\]: this change \(price version \d+\) was cancelled .* remove it from the config/);
    });
  });

  describe('announcements', () => {
    it('notifies each recent user of the model once, with old and new prices per unit', async () => {
      const model = `m-${rid()}`;
      const now = Date.now();
      const [recent, stale] = await Promise.all([fundedUser(store, 1_000n), fundedUser(store, 1_000n)]);
      if (!recent || !stale) throw new Error('users');
      await used(store, recent, model);
      await used(store, stale, model, new Date(now - 100 * DAY));
      const current = await store.prices.add(version(model, { effectiveFrom: new Date(now - DAY) }));
      const next = await store.prices.add(version(model, { effectiveFrom: new Date(now + 20 * DAY), rates: { ...media } }));

      // The periodic retry leaves a version just scheduled to the replica that scheduled it.
      expect(await announcePending(store, now, 60_000)).toBe(0);
      expect((await store.prices.get(next.version))?.announcedAt).toBeNull();
      expect(await announcePending(store, now)).toBe(1);
      expect((await store.prices.get(next.version))?.announcedAt).toEqual(new Date(now));
      // Announcing again (another replica, a restart) is a no-op.
      expect(await announcePending(store, now)).toBe(0);
      expect(await announce(store, next, now)).toBe(0);

      expect(await store.notifications.list(stale, { limit: 10 })).toEqual([]);
      const [note, ...more] = await store.notifications.list(recent, { limit: 10 });
      expect(more).toEqual([]);
      expect(note).toMatchObject({
        kind: 'price_change',
        subject: `Price change for ${model} from ${new Date(now + 20 * DAY).toISOString().slice(0, 10)}`,
        data: {
          model,
          version: next.version,
          previous_version: current.version,
          effective_from: new Date(now + 20 * DAY).toISOString(),
          old: { unit: 'credits_per_million_tokens', input: '150', cached_input: '75', cache_write: '150', output: '600' },
          new: {
            unit: 'credits_per_million_tokens', input: '150', cached_input: '75', cache_write: '150', output: '600', reasoning: '2000',
            request: '5', image: { '1024x1024': { low: '11', high: '167' }, '1536x1024': { high: '250' } },
            video_second: { '720p': '100', '1080p': '300' }, audio_input_minute: '6', audio_output_minute: '15',
          },
        },
      });
      expect(note?.body).toContain('reasoning unset → 2000 credits per million tokens');
      expect(note?.body).toContain('image.1024x1024.high unset → 167 credits per image');
    });
  });
});
