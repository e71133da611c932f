// Passwords: argon2id (OWASP's parameters: 19 MiB, 2 passes, 1 lane), hashed off the event loop by
// @node-rs/argon2's thread pool. Length limits only (NIST SP 800-63B): at least 10 characters, at most 256
// (the ceiling bounds the work an attacker can make one request cost).
import { hash, verify, type Algorithm, type Options } from '@node-rs/argon2';

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;

// The package's Algorithm is a const enum (not importable as a value under isolatedModules): 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;
const OPTIONS: Options = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** A message for the client when the password is not acceptable, undefined when it is. */
export function passwordProblem(password: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN) return `The password must be at least ${PASSWORD_MIN} characters long.`;
  if (length > PASSWORD_MAX) return `The password must be at most ${PASSWORD_MAX} characters long.`;
  return undefined;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

let dummy: Promise<string> | undefined;

/** Computes the dummy hash once, at start-up, so the first unknown-address login costs what the others do. */
export function prepareDummyHash(): Promise<string> {
  dummy ??= hashPassword('switchyard-dummy-password');
  return dummy;
}

/**
 * Checks a password against a stored hash in constant time (argon2's own comparison). With no stored hash
 * (unknown account, no password set) a dummy hash is verified anyway, so the answer takes as long as for a
 * real account and does not tell which addresses exist.
 */
export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  if (!stored) {
    await verify(await prepareDummyHash(), password).catch(() => false);
    return false;
  }
  try {
    return await verify(stored, password);
  } catch {
    return false; // a malformed stored hash never matches
  }
}
