// 0009: notifications are also mailed (src/accounts/notification-mail.ts). `mailed_at` is set when a replica claims
// a notification for its mail (one conditional update, so exactly one replica sends it); the partial index keeps
// the claim's scan to the few not yet claimed. Notifications written before this migration predate mail delivery:
// they count as handled (mailed_at = created_at), so an upgrade does not mail old news.

import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

export function notificationMail(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('notifications').addColumn('mailed_at', 'bigint').execute();
      await sql`UPDATE notifications SET mailed_at = created_at`.execute(db);
      await db.schema
        .createIndex('notifications_unmailed_idx')
        .on('notifications')
        .column('created_at')
        .where(sql.ref('mailed_at'), 'is', null)
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('notifications_unmailed_idx').execute();
      await db.schema.alterTable('notifications').dropColumn('mailed_at').execute();
    },
  };
}
