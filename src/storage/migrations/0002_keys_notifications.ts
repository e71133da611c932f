// API key expiry (rotation overlaps, key scopes) and the notifications users read in the console
// (price changes, account events). Notifications hold metadata and our own wording only, never request content.

import type { Kysely, Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

export function keysNotifications(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('api_keys').addColumn('expires_at', 'bigint').execute();

      await db.schema
        .createTable('notifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        /** JSON object with the machine-readable details (e.g. model, old and new price, effective_from). */
        .addColumn('data', 'text')
        /** Groups the notifications of one event, so re-announcing it is a no-op per user. */
        .addColumn('dedupe_key', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('read_at', 'bigint')
        .execute();
      await db.schema.createIndex('notifications_user_idx').on('notifications').columns(['user_id', 'created_at']).execute();
      await db.schema
        .createIndex('notifications_dedupe_uq')
        .on('notifications')
        .columns(['user_id', 'dedupe_key'])
        .unique()
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('notifications').execute();
      await db.schema.alterTable('api_keys').dropColumn('expires_at').execute();
    },
  };
}
