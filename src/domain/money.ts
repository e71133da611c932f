// Money is integer micro-credits (bigint). $1 = 1,000 credits = 1,000,000,000 micro-credits.
// Nothing in this file (or anywhere else) touches a floating-point number for money.

export type MicroCredits = bigint;

/** Micro-credits in one credit. */
export const MICRO_PER_CREDIT = 1_000_000n;
/** Micro-credits in one US dollar ($1 = 1,000 credits). */
export const MICRO_PER_USD = 1_000_000_000n;
const TOKENS_PER_MTOK = 1_000_000n;

/** The largest integer a money column holds (int64): nothing larger may ever reach the database. */
export const INT64_MAX = 2n ** 63n - 1n;
/**
 * The most credits accepted from outside — one grant, adjustment or spend cap — and the most a balance plus its
 * open holds may reach: 10^12 credits ($1 billion). Far inside int64 (≈ 9.2 × 10^18 micro-credits), so the few
 * sums the ledger makes (a balance plus a hold released into it, a grant racing a hold) cannot overflow.
 */
export const MAX_CREDITS = 10n ** 18n;
/** The highest price of one unit (a million tokens, an image, a second, a minute, a request): $1,000,000. */
export const MAX_PRICE = 10n ** 15n;

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

/** Bounds of an amount read from outside, in micro-credits (inclusive). */
export interface MoneyRange {
  min: MicroCredits;
  max: MicroCredits;
}

/** Credits from an admin, a user or a script: a grant or adjustment (signed), up to MAX_CREDITS either way. */
export const SIGNED_CREDITS: MoneyRange = { min: -MAX_CREDITS, max: MAX_CREDITS };
/** A spend cap: 0 (spend nothing) up to MAX_CREDITS. */
export const CAP_CREDITS: MoneyRange = { min: 0n, max: MAX_CREDITS };
/** A price per unit, in micro-credits: free up to MAX_PRICE. */
export const PRICE_RANGE: MoneyRange = { min: 0n, max: MAX_PRICE };

/** An amount read from outside, or why it was refused (the reason never repeats the value). */
export type MoneyInput = { ok: true; micro: MicroCredits } | { ok: false; reason: string };

/**
 * The one place an amount from outside (admin API, console, CLI, config) becomes micro-credits: an exact decimal
 * (a JSON/YAML number is read as the decimal it prints as) with at most `scaleDigits` places, within `range`.
 * Anything else — another type, a float that is not a plain decimal, too many digits, out of range — is refused
 * with a reason, before a bigint that large is ever built.
 */
function readScaled(value: unknown, scaleDigits: number, range: MoneyRange, unit: string, format: (micro: bigint) => string): MoneyInput {
  const text = typeof value === 'number' ? numberToPlainString(value) : typeof value === 'string' ? value : undefined;
  const shape = `an exact decimal amount of ${unit} with at most ${scaleDigits} decimals, e.g. "12.5"`;
  if (text === undefined) return { ok: false, reason: `expected ${shape}` };
  const m = DECIMAL.exec(text.trim());
  // More integer digits than the bound has cannot be in range: refuse before BigInt parses a long string.
  const maxDigits = format(range.max > -range.min ? range.max : -range.min).split('.')[0]?.length ?? 1;
  const outOfRange = `must be between ${format(range.min)} and ${format(range.max)} ${unit}`;
  if (m && (m[2] ?? '').replace(/^0+(?=\d)/, '').length > maxDigits) return { ok: false, reason: outOfRange };
  const micro = parseScaled(text, scaleDigits);
  if (micro === undefined) return { ok: false, reason: `expected ${shape}` };
  if (micro < range.min || micro > range.max) return { ok: false, reason: outOfRange };
  return { ok: true, micro };
}

/** Credits from outside → micro-credits within `range` (default: a signed grant or adjustment). */
export function readCredits(value: unknown, range: MoneyRange = SIGNED_CREDITS): MoneyInput {
  return readScaled(value, 6, range, 'credits', formatCredits);
}

/** A USD price from config or the admin API → micro-credits within `range` (default: 0 to MAX_PRICE). */
export function readUsd(value: unknown, range: MoneyRange = PRICE_RANGE): MoneyInput {
  return readScaled(value, 9, range, 'USD', formatUsd);
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

/** An integer amount with `digits` implied decimals → exact decimal text without trailing zeros. */
function formatScaled(amount: bigint, digits: number): string {
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const unit = 10n ** BigInt(digits);
  const frac = (abs % unit).toString().padStart(digits, '0').replace(/0+$/, '');
  return (negative ? '-' : '') + (abs / unit).toString() + (frac ? '.' + frac : '');
}

/** 12_500_000n → "12.5"; always exact, no trailing zeros, at most 6 decimals. */
export function formatCredits(micro: MicroCredits): string {
  return formatScaled(micro, 6);
}

/** Micro-credits as US dollars ($1 = 10⁹ micro-credits): 150_000_000n → "0.15". Exact, at most 9 decimals. */
export function formatUsd(micro: MicroCredits): string {
  return formatScaled(micro, 9);
}

/**
 * Cost of `quantity` units priced at `price` micro-credits per `per` units, rounded up to the micro-credit:
 * ⌈quantity × price / per⌉. One rounding per line item (docs/billing.md). Quantities are whole units (tokens,
 * images, milliseconds); a fractional one counts as the next whole unit, never less.
 */
export function unitCost(quantity: number, price: MicroCredits, per: bigint): MicroCredits {
  if (Number.isNaN(quantity) || quantity === Number.POSITIVE_INFINITY) throw new RangeError(`money: ${quantity} is not a quantity`);
  if (quantity <= 0 || price === 0n) return 0n;
  const whole = Math.ceil(quantity);
  if (!Number.isSafeInteger(whole)) throw new RangeError(`money: ${quantity} units is too many`);
  return (BigInt(whole) * price + per - 1n) / per;
}

/** Cost of `tokens` at `perMtok` micro-credits per million tokens, rounded up to the micro-credit. */
export function tokenCost(tokens: number, perMtok: MicroCredits): MicroCredits {
  return unitCost(tokens, perMtok, TOKENS_PER_MTOK);
}

/** Milliseconds in the units durations are priced by. */
export const MS_PER_SECOND = 1_000n;
export const MS_PER_MINUTE = 60_000n;

export function minMicro(a: MicroCredits, b: MicroCredits): MicroCredits {
  return a < b ? a : b;
}
