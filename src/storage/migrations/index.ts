// Migrations are defined in code and handed to Kysely's Migrator by a static provider: no file-system
// scanning, so they work the same from src/ (tsx), a bundle, or a test.

import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { init, type Dialect } from './0001_init.ts';
import { keysNotifications } from './0002_keys_notifications.ts';
import { priceVersions } from './0003_price_versions.ts';
import { holdMeta } from './0004_hold_meta.ts';
import { accounts } from './0005_accounts.ts';
import { limitsAdmin } from './0006_limits_admin.ts';
import { batchLedger } from './0007_batch_ledger.ts';
import { notificationMail } from './0009_notification_mail.ts';
import { accountLimits } from './0008_account_limits.ts';
import { batchCustomPlans } from './0010_batch_custom_plans.ts';
import { mailRetry } from './0011_mail_retry.ts';
import { auditOutcome } from './0012_audit_outcome.ts';
import { upstreamError } from './0013_upstream_error.ts';

export function migrations(dialect: Dialect): Record<string, Migration> {
  // Names sort in application order; never rename or edit a shipped migration, add a new one.
  return {
    '0001_init': init(dialect),
    '0002_keys_notifications': keysNotifications(dialect),
    '0003_price_versions': priceVersions(dialect),
    '0004_hold_meta': holdMeta(dialect),
    '0005_accounts': accounts(dialect),
    '0006_limits_admin': limitsAdmin(dialect),
    '0007_batch_ledger': batchLedger(dialect),
    '0008_account_limits': accountLimits(dialect),
    '0009_notification_mail': notificationMail(dialect),
    '0010_batch_custom_plans': batchCustomPlans(dialect),
    '0011_mail_retry': mailRetry(dialect),
    '0012_audit_outcome': auditOutcome(dialect),
    '0013_upstream_error': upstreamError(dialect),
  };
}

class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly all: Record<string, Migration>) {}
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(this.all);
  }
}

/**
 * Runs every pending migration. `schema` (PostgreSQL) is where Kysely's bookkeeping tables live: it must be
 * the schema the tables are created in, or the Migrator may find another schema's bookkeeping instead.
 */
export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new StaticMigrationProvider(migrations(dialect)),
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`storage: migration ${failed} failed: ${message}`, { cause: error });
  }
}
