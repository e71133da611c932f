// Money is integer micro-credits (bigint). $1 = 1,000 credits = 1,000,000,000 micro-credits.
// Nothing in this file (or anywhere else) touches a floating-point number for money.

export type MicroCredits = bigint;

/** Micro-credits in one credit. */
export const MICRO_PER_CREDIT = 1_000_000n;
/** Micro-credits in one US dollar ($1 = 1,000 credits). */
export const MICRO_PER_USD = 1_000_000_000n;
const TOKENS_PER_MTOK = 1_000_000n;

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/**
 * Parses an exact decimal string ("12.5", "0.000001") scaled by `scale` (a power of ten) into a bigint.
 * Rejects anything finer than the scale instead of rounding it away.
 */
function parseScaled(text: string, scaleDigits: number): bigint | undefined {
  const m = DECIMAL.exec(text.trim());
  if (!m) return undefined;
  const [, sign, whole = '0', frac = ''] = m;
  const trimmed = frac.replace(/0+$/, '');
  if (trimmed.length > scaleDigits) return undefined;
  const value = BigInt(whole + trimmed.padEnd(scaleDigits, '0'));
  return sign ? -value : value;
}

/** "12.5" credits → 12_500_000n micro-credits. Undefined when not an exact decimal with ≤ 6 places. */
export function parseCredits(text: string): MicroCredits | undefined {
  return parseScaled(text, 6);
}

/**
 * A USD amount from config → micro-credits. YAML numbers arrive as JS numbers; their shortest
 * round-trip string ("0.15") is the decimal the operator wrote, so it is parsed as text, never multiplied.
 */
export function usdToMicro(usd: string | number): MicroCredits | undefined {
  const text = typeof usd === 'number' ? numberToPlainString(usd) : usd;
  if (text === undefined) return undefined;
  return parseScaled(text, 9);
}

function numberToPlainString(n: number): string | undefined {
  if (!Number.isFinite(n)) return undefined;
  const s = String(n);
  if (!/e/i.test(s)) return s;
  // 1e-7 style: expand exactly from the shortest representation's digits.
  const [mant = '', expText = '0'] = s.toLowerCase().split('e');
  const exp = Number.parseInt(expText, 10);
  const negative = mant.startsWith('-');
  const [intPart = '', fracPart = ''] = mant.replace('-', '').split('.');
  const digits = intPart + fracPart;
  const point = intPart.length + exp;
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return (negative ? '-' : '') + out;
}

/** 12_500_000n → "12.5"; always exact, no trailing zeros, at most 6 decimals. */
export function formatCredits(micro: MicroCredits): string {
  const negative = micro < 0n;
  const abs = negative ? -micro : micro;
  const whole = abs / MICRO_PER_CREDIT;
  const frac = (abs % MICRO_PER_CREDIT).toString().padStart(6, '0').replace(/0+$/, '');
  return (negative ? '-' : '') + whole.toString() + (frac ? '.' + frac : '');
}

/** Cost of `tokens` at `perMtok` micro-credits per million tokens, rounded up to the micro-credit. */
export function tokenCost(tokens: number, perMtok: MicroCredits): MicroCredits {
  if (tokens <= 0 || perMtok === 0n) return 0n;
  const product = BigInt(tokens) * perMtok;
  return (product + TOKENS_PER_MTOK - 1n) / TOKENS_PER_MTOK;
}

export function minMicro(a: MicroCredits, b: MicroCredits): MicroCredits {
  return a < b ? a : b;
}
