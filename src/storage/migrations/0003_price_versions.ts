// Price versions become schedulable and carry every price shape (docs/decisions/0010-price-versions.md):
// - rates that every model has one of are BIGINT micro-credit columns (reasoning NULL = billed as output);
// - the keyed tables (per image by size × quality, per video second by resolution) are one JSON text column,
//   `media`, whose amounts are integer micro-credits written as strings;
// - who scheduled a version and why (source, actor, reason), its cancellation, and when its users were told.

import type { Kysely, Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

export function priceVersions(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // [column, type, default when NOT NULL]; SQLite adds one column per ALTER TABLE.
      const columns: ReadonlyArray<readonly [string, 'bigint' | 'text', (number | string)?]> = [
        ['reasoning_per_mtok', 'bigint'],
        ['per_request', 'bigint', 0],
        ['audio_input_per_minute', 'bigint', 0],
        ['audio_output_per_minute', 'bigint', 0],
        ['media', 'text'],
        // 'config' (the YAML file) or 'admin' (the admin API).
        ['source', 'text', 'config'],
        ['actor', 'text'],
        ['reason', 'text'],
        ['cancelled_at', 'bigint'],
        ['cancelled_by', 'text'],
        ['cancel_reason', 'text'],
        // When the model's users were told of this version (null: not yet).
        ['announced_at', 'bigint'],
      ];
      for (const [name, type, fallback] of columns) {
        await db.schema
          .alterTable('model_prices')
          .addColumn(name, type, (c) => (fallback === undefined ? c : c.notNull().defaultTo(fallback)))
          .execute();
      }
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const column of [
        'announced_at', 'cancel_reason', 'cancelled_by', 'cancelled_at', 'reason', 'actor', 'source', 'media',
        'audio_output_per_minute', 'audio_input_per_minute', 'per_request', 'reasoning_per_mtok',
      ]) {
        await db.schema.alterTable('model_prices').dropColumn(column).execute();
      }
    },
  };
}
