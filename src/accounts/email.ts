// Email addresses: one normal form (trimmed, Unicode NFC, lower-cased), so "Alice@Example.com " and
// "alice@example.com" are one account. Sub-addresses ("+tag") and dots are kept: they are the owner's choice.
import { z } from 'zod';
import { hmacHex } from './secrets.ts';

/** RFC 5321's limit on a forward path. */
export const EMAIL_MAX = 254;

const emailFormat = z.email();

/** The normal form, or undefined when it is not a plausible address. */
export function normalizeEmail(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const email = raw.trim().normalize('NFC').toLowerCase();
  if (email.length === 0 || email.length > EMAIL_MAX) return undefined;
  return emailFormat.safeParse(email).success ? email : undefined;
}

/**
 * What a closed account keeps of its address: HMAC-SHA-256 of the normal form keyed with SWITCHYARD_SECRET.
 * The same address gives the same value (so abuse can be recognised), the address cannot be read back, and
 * without the secret the value cannot be tested against a list of addresses.
 */
export function emailHmac(secret: string, normalized: string): string {
  return hmacHex(secret, `switchyard:email:${normalized}`);
}
