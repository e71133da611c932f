// Price shapes: config USD → micro-credits exactly, the cost of each kind of usage (one rounding up per line
// item), the worst-case hold, and the public view in credits.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalogue, costOf, imagePrice, publicPricing, videoSecondPrice } from '../../src/billing/catalogue.ts';
import { countChatInput, countEmbeddingsInput, quoteChat, quoteEmbeddings, withMargin } from '../../src/billing/quote.ts';
import { loadConfig } from '../../src/config/index.ts';
import { parseEffectiveFrom } from '../../src/config/prices.ts';
import { formatUsd, unitCost } from '../../src/domain/money.ts';
import { ZERO_USAGE, type ModelPrice, type Usage } from '../../src/domain/usage.ts';
import type { ChatRequest, EmbeddingsRequest } from '../../src/providers/shared/types.ts';
import { MEDIA_RATES } from '../storage/fixtures.ts';

const env = { SWITCHYARD_DATA_DIR: mkdtempSync(join(tmpdir(), 'switchyard-cost-')) };
const load = (price: string, kind = 'chat', changes = '') =>
  loadConfig({
    env,
    yamlText: `
providers: [{ id: p, type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }]
models:
  - id: m
    kind: ${kind}
    channels: [{ provider: p }]
    price: ${price}
${changes}`,
  });

const MEDIA_YAML = `
      input_per_mtok_usd: 0.15
      cached_input_per_mtok_usd: 0.075
      output_per_mtok_usd: 0.6
      reasoning_per_mtok_usd: 2
      request_usd: 0.005
      images: { "1024x1024": { low: 0.011, high: 0.167 }, "1536x1024": { high: 0.25 } }
      video_per_second_usd: { 720p: 0.1, 1080p: 0.3 }
      audio_input_per_minute_usd: 0.006
      audio_output_per_minute_usd: 0.015`;

const mediaModel = () => {
  const config = load(MEDIA_YAML).models[0];
  if (!config) throw new Error('no model');
  return config;
};
const asVersion = (rates = mediaModel().price): ModelPrice => ({ ...rates, version: 7, effectiveFrom: new Date('2026-01-01T00:00:00Z') });

describe('price shapes', () => {
  it('the config takes every shape in USD and stores micro-credits exactly', () => {
    // The YAML above is MEDIA_RATES written in USD (cache write unset: the input rate).
    expect(mediaModel().price).toEqual(MEDIA_RATES);
    expect(load('{ input_per_mtok_usd: 0.02 }', 'embeddings').models[0]?.price).toMatchObject({ outputPerMtok: 0n, reasoningPerMtok: null, perRequest: 0n, perImage: {} });
    expect(() => load('{ input_per_mtok_usd: 1, output_per_mtok_usd: 1, images: { "1024x1024": { low: cheap } } }')).toThrow(/models\[0\]\.price\.images\.1024x1024\.low/);
    expect(() => load('{ input_per_mtok_usd: 1, output_per_mtok_usd: 1, request_usd: 0.0000000001 }')).toThrow(/models\[0\]\.price\.request_usd: expected an exact decimal amount of USD with at most 9 decimals/);
    expect(() => load('{ output_per_mtok_usd: 1 }')).toThrow(/models\[0\]\.price\.input_per_mtok_usd: required for a chat model/);
    expect(formatUsd(1n)).toBe('0.000000001');
    expect(formatUsd(167_000_000n)).toBe('0.167');
  });

  it('bills each line item at its own rate, rounding each up to the micro-credit', () => {
    const price = asVersion();
    const usage: Usage = {
      input: 1_000, cachedInput: 500, cacheWrite: 200, output: 3_000, reasoning: 1_000,
      images: [
        { size: '1024x1024', quality: 'high', count: 2 },
        { size: '1024x1024', quality: 'medium', count: 1 }, // unpriced quality: the size's dearest (high)
        { size: '512x512', quality: 'low', count: 1 }, // unpriced size: the dearest image (1536x1024 high)
      ],
      video: [{ resolution: '720p', ms: 4_500 }, { resolution: '4k', ms: 1_000 }], // 4k unpriced: the dearest (1080p)
      audioInputMs: 90_500,
      audioOutputMs: 30_000,
    };
    const lines = {
      input: 150_000n, // 1,000 × 150,000,000 / 10⁶
      cached: 37_500n,
      cacheWrite: 30_000n,
      output: 1_200_000n, // (3,000 − 1,000 reasoning) × 600,000,000 / 10⁶
      reasoning: 2_000_000n, // 1,000 × 2,000,000,000 / 10⁶
      images: 2n * 167_000_000n + 167_000_000n + 250_000_000n,
      video: 450_000_000n + 300_000_000n, // 4.5 s × 0.1 USD, 1 s × 0.3 USD
      audio: 9_050_000n + 7_500_000n, // 90.5 s at 0.006 USD/min, 30 s at 0.015 USD/min
      request: 5_000_000n,
    };
    expect(costOf(usage, price)).toBe(Object.values(lines).reduce((a, b) => a + b));
    expect(costOf(usage, price)).toBe(1_525_967_500n);

    // Rounding: each line up to the micro-credit, never a fraction lost.
    expect(unitCost(1, 1n, 1_000_000n)).toBe(1n);
    expect(unitCost(1, 6_000_000n, 60_000n)).toBe(100n); // 1 ms of audio at 0.006 USD/min
    expect(unitCost(1, 1n, 60_000n)).toBe(1n);
    expect(unitCost(1_001, 100_000_000n, 1_000n)).toBe(100_100_000n);
    expect(unitCost(1.5, 1n, 1n)).toBe(2n); // a fractional unit counts as a whole one
    expect(() => unitCost(Number.NaN, 1n, 1n)).toThrow(RangeError);
    expect(costOf({ ...ZERO_USAGE, input: 1 }, { ...price, inputPerMtok: 1n, perRequest: 0n })).toBe(1n);
  });

  it('reasoning is billed as output when the price has no reasoning rate; nothing consumed pays no request fee', () => {
    const price = asVersion({ ...mediaModel().price, reasoningPerMtok: null });
    expect(costOf({ ...ZERO_USAGE, output: 3_000, reasoning: 1_000 }, price)).toBe(1_800_000n + 5_000_000n);
    // A reported reasoning count above the output count is capped at it.
    expect(costOf({ ...ZERO_USAGE, output: 10, reasoning: 50 }, asVersion())).toBe(20_000n + 5_000_000n);
    expect(costOf(ZERO_USAGE, asVersion())).toBe(0n);
    expect(costOf({ ...ZERO_USAGE, images: [{ size: '1024x1024', quality: 'low', count: 1 }] }, asVersion())).toBe(11_000_000n + 5_000_000n);
  });

  it('looks up image and video prices by their own keys only', () => {
    const price = asVersion();
    expect(imagePrice(price, '1024x1024', 'low')).toBe(11_000_000n);
    expect(imagePrice(price, 'constructor', 'toString')).toBe(250_000_000n);
    expect(imagePrice(price, '1024x1024', 'constructor')).toBe(167_000_000n);
    expect(videoSecondPrice(price, '__proto__')).toBe(300_000_000n);
    expect(imagePrice(asVersion({ ...price, perImage: {} }), '1024x1024', 'low')).toBe(0n);
  });

  it('the hold covers the per-request fee and the dearer of the output and reasoning rates', async () => {
    const config = mediaModel();
    const model = new Catalogue([config], [{ ...asVersion(config.price), model: 'm' }]).get('m');
    if (!model) throw new Error('no model');
    const request = { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100 } as ChatRequest;
    const counted = (await countChatInput(request)).tokens;
    const quote = quoteChat(request, model, counted);
    expect(quote.hold).toBe(BigInt(withMargin(counted)) * 150n + 100n * 2_000n + 5_000_000n);
    const hello = { model: 'm', input: 'hello' } as EmbeddingsRequest;
    const embeddings = quoteEmbeddings(hello, model, (await countEmbeddingsInput(hello)).tokens);
    expect(embeddings.hold).toBe(BigInt(withMargin(1)) * 150n + 5_000_000n);
  });

  it('shows each shape in credits, exactly, with the version and when it started', () => {
    expect(publicPricing(asVersion())).toEqual({
      unit: 'credits_per_million_tokens',
      input: '150', cached_input: '75', cache_write: '150', output: '600', reasoning: '2000',
      request: '5',
      image: { '1024x1024': { low: '11', high: '167' }, '1536x1024': { high: '250' } },
      video_second: { '720p': '100', '1080p': '300' },
      audio_input_minute: '6', audio_output_minute: '15',
      version: 7, effective_from: '2026-01-01T00:00:00.000Z',
    });
  });
});

describe('price_changes in the config', () => {
  const price = '{ input_per_mtok_usd: 1, output_per_mtok_usd: 2 }';
  const changes = (...lines: string[]) => `    price_changes:\n${lines.map((l) => `      - ${l}`).join('\n')}`;

  it('reads dates and instants exactly, in order', () => {
    const model = load(price, 'chat', changes(
      '{ effective_from: "2030-01-15", input_per_mtok_usd: 2, output_per_mtok_usd: 3 }',
      '{ effective_from: "2030-02-01T09:30:00+02:00", input_per_mtok_usd: 3, output_per_mtok_usd: 4, force: true, reason: "upstream" }',
    )).models[0];
    expect(model?.priceChanges).toEqual([
      { effectiveFrom: new Date('2030-01-15T00:00:00Z'), price: expect.objectContaining({ inputPerMtok: 2_000_000_000n }), force: false, reason: undefined },
      { effectiveFrom: new Date('2030-02-01T07:30:00Z'), price: expect.objectContaining({ outputPerMtok: 4_000_000_000n }), force: true, reason: 'upstream' },
    ]);
  });

  it('names the offending field of a bad change', () => {
    expect(() => load(price, 'chat', changes('{ effective_from: "2030-02-30", input_per_mtok_usd: 2, output_per_mtok_usd: 3 }')))
      .toThrow(/models\[0\]\.price_changes\[0\]\.effective_from: "2030-02-30" is not a date/);
    expect(() => load(price, 'chat', changes('{ effective_from: "2030-01-15 09:00", input_per_mtok_usd: 2, output_per_mtok_usd: 3 }'))).toThrow(/is not a date/);
    expect(() => load(price, 'chat', changes(
      '{ effective_from: "2030-02-01", input_per_mtok_usd: 2, output_per_mtok_usd: 3 }',
      '{ effective_from: "2030-01-01", input_per_mtok_usd: 2, output_per_mtok_usd: 3 }',
    ))).toThrow(/models\[0\]\.price_changes\[1\]\.effective_from: must be later than the change before it/);
    expect(() => load(price, 'chat', changes('{ effective_from: "2030-01-15", input_per_mtok_usd: 2, output_per_mtok_usd: 3, force: true }')))
      .toThrow(/models\[0\]\.price_changes\[0\]\.reason: a forced change needs a reason/);
    expect(() => load(price, 'chat', changes('{ effective_from: "2030-01-15", input_per_mtok_usd: 2 }'))).toThrow(/price_changes\[0\]\.output_per_mtok_usd: required for a chat model/);
    expect(parseEffectiveFrom(new Date(0), 'x')).toEqual(new Date(0));
  });
});
