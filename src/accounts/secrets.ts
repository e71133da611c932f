// Random secrets the console hands out (session ids, emailed tokens) and how they are kept: 256 random bits,
// base64url; only their SHA-256 is stored, so a copy of the database opens no session and resets no password.
// Every comparison of a secret is constant-time.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A fresh secret and the hash to store. */
export function newSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: sha256Hex(secret) };
}

/** A presented secret's hash, or undefined when it cannot be one of ours (wrong length or alphabet). */
export function hashPresented(presented: unknown): string | undefined {
  if (typeof presented !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(presented)) return undefined;
  return sha256Hex(presented);
}

/** Constant-time equality of two strings of any lengths (compares their SHA-256 digests). */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** HMAC-SHA-256 (hex) of `message` under `key`. */
export function hmacHex(key: string, message: string): string {
  return createHmac('sha256', key).update(message).digest('hex');
}
