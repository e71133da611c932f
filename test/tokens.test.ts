// The bounded token counter (src/billing/tokens.ts) against gpt-tokenizer's exact count: equal whenever it says
// `exact`, never below it otherwise (the hold must stay a true worst case), the same whether a text arrives whole
// or in pieces (a stream), and cheap on adversarial text.
import fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { countTextNow, TokenCounter, type CounterLimits } from '../src/billing/tokens.ts';

const AS_TEXT = { disallowedSpecial: new Set<string>() };
const exactCount = (text: string): number => countTokens(text, AS_TEXT);

/** Characters that exercise every alternative of o200k's split regex, contractions and surrogate pairs included. */
const ALPHABET = [
  'a', 'b', 'e', 'z', 'A', 'Q', 'É', 'ß', 'ǅ', '中', '文', 'の', 'ッ', 'й', 'ا', '\u0301', '1', '7', '٣',
  ' ', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u3000', "'", "'s", "'ll", "'RE", '.', ',', '!', '/', '//', '-', '=', '"', '{', '}',
  '😀', '🚀', '👍🏽', '<|endoftext|>',
];
const piece = fc.constantFrom(...ALPHABET);
/** Texts of short pieces, with an occasional long run of one piece (the quadratic case). */
const text = fc
  .array(fc.oneof({ weight: 8, arbitrary: piece }, { weight: 1, arbitrary: fc.tuple(piece, fc.integer({ min: 2, max: 400 })).map(([p, n]) => p.repeat(n)) }), { maxLength: 120 })
  .map((parts) => parts.join(''));

/** Counts `text` pushed in the given pieces (a stream's deltas). */
function countPieces(source: string, cuts: number[], limits?: Partial<CounterLimits>): { tokens: number; exact: boolean } {
  const counter = new TokenCounter(limits);
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    counter.push(source.slice(at, Math.max(at, cut)));
    at = Math.max(at, cut);
  }
  counter.push(source.slice(at));
  return counter.countNow();
}

describe('bounded token counter', () => {
  it('is exact on prose, whole or streamed, and counts `<|endoftext|>` as text', () => {
    const prose = 'The quick brown fox, who\'s 12 years old, jumped over 1,234 lazy dogs!\n\n  Then it said: "It\'ll be fine."\r\n';
    const long = prose.repeat(400);
    expect(countTextNow(long)).toEqual({ tokens: exactCount(long), exact: true });
    const cuts = Array.from({ length: 500 }, (_, i) => i * 97);
    expect(countPieces(long, cuts)).toEqual({ tokens: exactCount(long), exact: true });
    expect(countTextNow('end <|endoftext|> here')).toEqual({ tokens: exactCount('end <|endoftext|> here'), exact: true });
  });

  it('equals the exact count when it says exact, is never below it, whole or in pieces (property)', () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(3_000), { maxLength: 12 }), (source, cuts) => {
        const exact = exactCount(source);
        for (const counted of [countTextNow(source), countPieces(source, cuts)]) {
          if (counted.exact) expect(counted.tokens).toBe(exact);
          else expect(counted.tokens).toBeGreaterThanOrEqual(exact);
        }
        // Whole or streamed, the same answer: the cuts it takes never depend on what comes later.
        expect(countPieces(source, cuts)).toEqual(countTextNow(source));
      }),
      { numRuns: 400 },
    );
  });

  it('with tiny windows, long pre-tokens and budgets it stays a true upper bound (property)', () => {
    const limits = fc.record({ window: fc.integer({ min: 24, max: 200 }), longPretoken: fc.integer({ min: 1, max: 40 }), budget: fc.integer({ min: 0, max: 3_000 }) });
    fc.assert(
      fc.property(text, fc.array(fc.nat(3_000), { maxLength: 12 }), limits, (source, cuts, limit) => {
        const exact = exactCount(source);
        for (const counted of [countTextNow(source, limit), countPieces(source, cuts, limit)]) {
          if (counted.exact) expect(counted.tokens).toBe(exact);
          else expect(counted.tokens).toBeGreaterThanOrEqual(exact);
          expect(counted.tokens).toBeLessThanOrEqual(Math.max(exact, Buffer.byteLength(source)));
        }
      }),
      { numRuns: 400 },
    );
  });

  it('with windows smaller than the text, the regex-found cuts are still exact (property)', () => {
    // No pre-token is longer than 40 here, so a window of 60+ characters always finds a safe cut.
    const short = fc.array(piece, { maxLength: 400 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(short, fc.array(fc.nat(3_000), { maxLength: 12 }), fc.integer({ min: 120, max: 400 }), (source, cuts, window) => {
        const counted = countPieces(source, cuts, { window, longPretoken: 1_000 });
        if (counted.exact) expect(counted.tokens).toBe(exactCount(source));
        else expect(counted.tokens).toBeGreaterThan(exactCount(source) - 1);
      }),
      { numRuns: 300 },
    );
  });

  it('bounds adversarial runs by their UTF-8 bytes, quickly, and says so', async () => {
    for (const run of ['a'.repeat(200_000), '中'.repeat(100_000), '😀'.repeat(50_000), ' '.repeat(100_000), '!'.repeat(100_000)]) {
      const started = performance.now();
      const counter = new TokenCounter();
      counter.add(run);
      const counted = await counter.count();
      // Exact BPE of these takes seconds to minutes; the bound is a few milliseconds of work.
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(counted.exact).toBe(false);
      expect(counted.tokens).toBe(Buffer.byteLength(run));
    }
  });

  it('spends at most its budget exactly, then counts bytes: the total stays an upper bound', () => {
    const prose = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(2_000);
    const counted = countTextNow(prose, { budget: 10_000 });
    expect(counted.exact).toBe(false);
    expect(counted.tokens).toBeGreaterThan(exactCount(prose));
    expect(counted.tokens).toBeLessThan(Buffer.byteLength(prose));
  });
});
