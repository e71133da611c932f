// 0008: per-account rate-limit overrides (docs/decisions/0016-account-limit-overrides.md). users gets its own
// RPM / TPM / concurrent-request limits, set by an admin; null = the config's default (limits.account) for that
// kind. Read with the key on the hot path (findByHash joins users), so they cost no extra lookup. The same
// columns on both dialects; existing users get nulls, i.e. exactly what they had.

import type { Kysely, Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

const COLUMNS = ['limit_rpm', 'limit_tpm', 'limit_concurrency'] as const;

export function accountLimits(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const column of COLUMNS) await db.schema.alterTable('users').addColumn(column, 'integer').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const column of [...COLUMNS].reverse()) await db.schema.alterTable('users').dropColumn(column).execute();
    },
  };
}
