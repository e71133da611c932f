import { describe, expect, it } from 'vitest';
import {
  CAP_CREDITS, INT64_MAX, MAX_CREDITS, MAX_PRICE, formatCredits, parseCredits, readCredits, readUsd, tokenCost, usdToMicro,
} from '../src/domain/money.ts';

describe('money', () => {
  it('parses and formats credits exactly', () => {
    expect(parseCredits('12.5')).toBe(12_500_000n);
    expect(parseCredits('0.000001')).toBe(1n);
    expect(parseCredits('-3')).toBe(-3_000_000n);
    expect(parseCredits('0.0000001')).toBeUndefined();
    expect(parseCredits('1e3')).toBeUndefined();
    expect(parseCredits('abc')).toBeUndefined();
    expect(formatCredits(12_500_000n)).toBe('12.5');
    expect(formatCredits(1n)).toBe('0.000001');
    expect(formatCredits(-1_000_001n)).toBe('-1.000001');
    expect(formatCredits(0n)).toBe('0');
    for (const text of ['0.1', '999999999.999999', '7', '0.000123']) expect(formatCredits(parseCredits(text) ?? 0n)).toBe(text);
  });

  it('converts USD config values without floating-point error', () => {
    expect(usdToMicro(0.15)).toBe(150_000_000n);
    expect(usdToMicro(0.1 + 0.2)).toBeUndefined(); // 0.30000000000000004 is not a price anyone wrote
    expect(usdToMicro('0.3')).toBe(300_000_000n);
    expect(usdToMicro(1e-7)).toBe(100n);
    expect(usdToMicro(2.5)).toBe(2_500_000_000n);
    expect(usdToMicro(15)).toBe(15_000_000_000n);
  });

  it('prices tokens per million, rounding up to the micro-credit', () => {
    expect(tokenCost(1_000_000, 150_000_000n)).toBe(150_000_000n);
    expect(tokenCost(1, 150_000_000n)).toBe(150n);
    expect(tokenCost(1, 1n)).toBe(1n); // a fraction of a micro-credit rounds up
    expect(tokenCost(0, 150_000_000n)).toBe(0n);
  });

  it('reads amounts from outside within their bounds, far inside int64, and says why it refuses one', () => {
    expect(MAX_CREDITS * 4n).toBeLessThan(INT64_MAX); // headroom: a balance, a hold released into it, a racing grant
    expect(readCredits('12.5')).toEqual({ ok: true, micro: 12_500_000n });
    expect(readCredits(12.5)).toEqual({ ok: true, micro: 12_500_000n });
    expect(readCredits('-3')).toEqual({ ok: true, micro: -3_000_000n });
    expect(readCredits(formatCredits(MAX_CREDITS))).toEqual({ ok: true, micro: MAX_CREDITS });
    expect(readCredits(formatCredits(-MAX_CREDITS))).toEqual({ ok: true, micro: -MAX_CREDITS });
    const outOfRange = /must be between -1000000000000 and 1000000000000 credits/;
    for (const value of [formatCredits(MAX_CREDITS + 1n), '9223372036854.775808', '99999999999999999999999999', 1e21, -1e13, '0'.repeat(5) + '1'.repeat(40)]) {
      const read = readCredits(value);
      expect(read.ok).toBe(false);
      if (!read.ok) expect(read.reason).toMatch(outOfRange);
    }
    // A very long string is refused by its length, before any bigint is built.
    const huge = readCredits('9'.repeat(1_000_000));
    expect(huge).toEqual({ ok: false, reason: expect.stringMatching(outOfRange) });
    for (const value of ['0.0000001', '1e3', 'abc', '', '  ', NaN, Infinity, null, true, {}, ['1']]) {
      const read = readCredits(value);
      expect(read).toEqual({ ok: false, reason: expect.stringMatching(/expected an exact decimal amount of credits with at most 6 decimals/) });
    }
    expect(readCredits('-1', CAP_CREDITS)).toEqual({ ok: false, reason: expect.stringMatching(/between 0 and 1000000000000 credits/) });
    expect(readCredits('0', CAP_CREDITS)).toEqual({ ok: true, micro: 0n });
  });

  it('reads prices up to $1,000,000 a unit', () => {
    expect(readUsd(0.15)).toEqual({ ok: true, micro: 150_000_000n });
    expect(readUsd('1000000')).toEqual({ ok: true, micro: MAX_PRICE });
    expect(readUsd(1e-9)).toEqual({ ok: true, micro: 1n });
    for (const value of ['1000000.000000001', 1e7, 1e300, '-1']) {
      expect(readUsd(value)).toEqual({ ok: false, reason: expect.stringMatching(/must be between 0 and 1000000 USD/) });
    }
    expect(readUsd(1e-10)).toEqual({ ok: false, reason: expect.stringMatching(/at most 9 decimals/) });
  });
});
