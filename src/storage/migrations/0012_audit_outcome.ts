// 0012: the admin audit log is written ahead of the change (src/http/routes/admin/audit.ts). An entry is inserted
// as 'pending' before an admin request may change anything, and completed afterwards: 'ok' with what changed,
// 'unchanged', or 'failed' with the HTTP status. A change is never made without its entry; an entry left 'pending' means the
// process stopped while the request ran (the change may or may not have happened). Entries written before this
// migration were written after their change succeeded: 'ok'.

import type { Kysely, Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

export function auditOutcome(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('audit_log').addColumn('outcome', 'text', (c) => c.notNull().defaultTo('ok')).execute();
      await db.schema.alterTable('audit_log').addColumn('http_status', 'integer').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('audit_log').dropColumn('http_status').execute();
      await db.schema.alterTable('audit_log').dropColumn('outcome').execute();
    },
  };
}
