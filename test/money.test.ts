import { describe, expect, it } from 'vitest';
import { formatCredits, parseCredits, tokenCost, usdToMicro } from '../src/domain/money.ts';

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
});
