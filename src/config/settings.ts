// Reading one numeric setting whose environment variable wins over the config file, checked against the file
// field's own zod bounds (so both sources accept the same values and say why not in the same words).
import type { z } from 'zod';
import { ConfigError } from './errors.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** `env[name]` when set (digits only, within `field`'s bounds), otherwise the file's value (already validated). */
export function integerSetting(env: Env, name: string, fileValue: number | undefined, field: z.ZodType<number | undefined>): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fileValue;
  const parsed = field.safeParse(/^\d+$/.test(raw) ? Number(raw) : Number.NaN);
  if (!parsed.success || parsed.data === undefined) throw new ConfigError(`${name}: "${raw}" is out of range (${parsed.error?.issues[0]?.message ?? 'expected an integer'})`);
  return parsed.data;
}
