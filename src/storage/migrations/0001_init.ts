// Initial schema. Timestamps are BIGINT epoch ms on both dialects (see ../db.ts); money is BIGINT
// micro-credits. No column can hold a prompt, an output or a file (ARCHITECTURE §6).

import { sql, type Kysely, type Migration } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

export function init(dialect: Dialect): Migration {
  const pg = dialect === 'postgres';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
        .addColumn('balance', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addCheckConstraint('users_balance_non_negative', sql`balance >= 0`)
        .execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('allowed_models', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .addColumn('last_used_at', 'bigint')
        .execute();
      await db.schema.createIndex('api_keys_user_idx').on('api_keys').columns(['user_id', 'created_at']).execute();

      await db.schema
        .createTable('ledger')
        // SQLite: a rowid alias without AUTOINCREMENT (which costs a sqlite_sequence write per insert); the
        // ledger is append-only, never deleted from, so rowids only ever grow.
        .addColumn('id', pg ? 'bigserial' : 'integer', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('balance_after', 'bigint', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('payment_id', 'text')
        .addColumn('actor', 'text')
        .addColumn('reason', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addCheckConstraint(
          'ledger_kind_valid',
          sql`kind in ('topup', 'grant', 'hold', 'capture', 'release', 'refund', 'adjustment')`,
        )
        .execute();
      await db.schema.createIndex('ledger_user_idx').on('ledger').columns(['user_id', 'id']).execute();
      // One hold, one capture and one release per request: the last line of defence against double billing.
      await db.schema
        .createIndex('ledger_request_kind_uq')
        .on('ledger')
        .columns(['request_id', 'kind'])
        .unique()
        .where(sql.ref('request_id'), 'is not', null)
        .execute();
      // A payment (webhook delivery) is credited once per kind: replays are no-ops (see ledger.credit).
      await db.schema
        .createIndex('ledger_payment_kind_uq')
        .on('ledger')
        .columns(['payment_id', 'kind'])
        .unique()
        .where(sql.ref('payment_id'), 'is not', null)
        .execute();

      await db.schema
        .createTable('holds')
        .addColumn('request_id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addCheckConstraint('holds_status_valid', sql`status in ('held', 'settled', 'released', 'expired')`)
        .addCheckConstraint('holds_amount_non_negative', sql`amount >= 0`)
        // SQLite: keyed by the text request id, a WITHOUT ROWID table is one B-tree instead of a rowid tree
        // plus a primary-key index — one fewer page written per hold and per settle.
        .$call((b) => (pg ? b : b.modifyEnd(sql` without rowid`)))
        .execute();
      await db.schema
        .createIndex('holds_open_expiry_idx')
        .on('holds')
        .column('expires_at')
        .where(sql.ref('status'), '=', 'held')
        .execute();

      await db.schema
        .createTable('usage_events')
        .addColumn('request_id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('provider', 'text')
        .addColumn('channel', 'text')
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('stream', pg ? 'boolean' : 'integer', (c) => c.notNull())
        .addColumn('input_tokens', 'integer', (c) => c.notNull())
        .addColumn('cached_input_tokens', 'integer', (c) => c.notNull())
        .addColumn('cache_write_tokens', 'integer', (c) => c.notNull())
        .addColumn('output_tokens', 'integer', (c) => c.notNull())
        .addColumn('reasoning_tokens', 'integer', (c) => c.notNull())
        .addColumn('held', 'bigint', (c) => c.notNull())
        .addColumn('cost', 'bigint', (c) => c.notNull())
        .addColumn('price_version', 'integer')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('http_status', 'integer', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .addColumn('ttfb_ms', 'integer')
        .addColumn('attempts', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .$call((b) => (pg ? b : b.modifyEnd(sql` without rowid`)))
        .execute();
      await db.schema
        .createIndex('usage_user_created_idx')
        .on('usage_events')
        .columns(['user_id', 'created_at'])
        .execute();
      await db.schema.createIndex('usage_created_idx').on('usage_events').column('created_at').execute();

      await db.schema
        .createTable('model_prices')
        .addColumn('id', pg ? 'serial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('input_per_mtok', 'bigint', (c) => c.notNull())
        .addColumn('cached_input_per_mtok', 'bigint', (c) => c.notNull())
        .addColumn('cache_write_per_mtok', 'bigint', (c) => c.notNull())
        .addColumn('output_per_mtok', 'bigint', (c) => c.notNull())
        .addColumn('effective_from', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('model_prices_model_idx')
        .on('model_prices')
        .columns(['model', 'effective_from', 'id'])
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of ['model_prices', 'usage_events', 'holds', 'ledger', 'api_keys', 'users']) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
