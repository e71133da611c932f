// 0011: a notification mail the SMTP server did not take is tried again (src/accounts/notification-mail.ts).
// `mail_attempts` counts the failed deliveries; `mail_retry_at` (ms) is when the next claim may take it. A failed
// mail's claim is given back (mailed_at = null) with a later mail_retry_at, up to a fixed number of attempts; the
// claim's partial index (0009: mailed_at is null) still covers the few waiting. The same on both dialects;
// existing notifications get 0 attempts and no retry time.

import type { Kysely, Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

export function mailRetry(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('notifications').addColumn('mail_attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('notifications').addColumn('mail_retry_at', 'bigint').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('notifications').dropColumn('mail_retry_at').execute();
      await db.schema.alterTable('notifications').dropColumn('mail_attempts').execute();
    },
  };
}
