// What a hold remembers of its request (key, model, endpoint, stream), so that when its process dies the sweeper
// that releases it can also write the request's usage event (status 'expired'): every request that held credits
// then has a receipt. Metadata only, like usage_events. Nullable: holds taken before this migration have none.

import type { Kysely, Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

export function holdMeta(dialect: Dialect): Migration {
  const pg = dialect === 'postgres';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('holds').addColumn('key_id', 'text').execute();
      await db.schema.alterTable('holds').addColumn('model', 'text').execute();
      await db.schema.alterTable('holds').addColumn('endpoint', 'text').execute();
      await db.schema.alterTable('holds').addColumn('stream', pg ? 'boolean' : 'integer').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const column of ['stream', 'endpoint', 'model', 'key_id']) {
        await db.schema.alterTable('holds').dropColumn(column).execute();
      }
    },
  };
}
