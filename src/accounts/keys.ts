// API keys: "sk-sy-" + 256 random bits (base64url), stored only as SHA-256 hex + a short visible prefix.
import { createHash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'sk-sy-';
const VISIBLE = KEY_PREFIX.length + 6;

export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, hash: hashApiKey(key), prefix: key.slice(0, VISIBLE) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
