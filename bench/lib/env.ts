// The benches' numeric settings from the environment: a bad value stops the bench at once, naming it.

/** `process.env[name]` as a number ≥ min, or `fallback` when unset; exits 2 otherwise (`label` prefixes the message). */
export function numberEnv(label: string, name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    process.stderr.write(`${label}: ${name}=${raw} is not a number ≥ ${min}\n`);
    process.exit(2);
  }
  return value;
}
