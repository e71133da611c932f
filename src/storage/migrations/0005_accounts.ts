// Self-service accounts (docs/decisions/0011): a password hash and a verified-email instant on users, the
// HMAC that replaces a closed account's address, console sessions and one-time tokens (email verification,
// password reset). Session ids and tokens are stored only as SHA-256 hashes; none of these columns can hold a
// prompt, an output or a file. A closed user has status 'closed' (the status column is free text; unknown
// values already fail closed).

import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './0001_init.ts';

export function accounts(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('users').addColumn('password_hash', 'text').execute();
      await db.schema.alterTable('users').addColumn('email_verified_at', 'bigint').execute();
      /** HMAC-SHA-256 of the normalized address, set when the account is closed (the address itself is erased). */
      await db.schema.alterTable('users').addColumn('email_hmac', 'text').execute();
      await db.schema.alterTable('users').addColumn('closed_at', 'bigint').execute();
      await db.schema.createIndex('users_email_hmac_idx').on('users').column('email_hmac').where(sql.ref('email_hmac'), 'is not', null).execute();

      await db.schema
        .createTable('sessions')
        /** SHA-256 (hex) of the session id the cookie carries. */
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        /** Absolute end of the session; the idle limit is checked against last_seen_at. */
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();
      await db.schema.createIndex('sessions_expiry_idx').on('sessions').column('expires_at').execute();

      await db.schema
        .createTable('account_tokens')
        /** SHA-256 (hex) of the token the emailed link carries. */
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .addCheckConstraint('account_tokens_purpose_valid', sql`purpose in ('verify_email', 'reset_password')`)
        .execute();
      await db.schema.createIndex('account_tokens_user_idx').on('account_tokens').columns(['user_id', 'purpose']).execute();
      await db.schema.createIndex('account_tokens_expiry_idx').on('account_tokens').column('expires_at').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('account_tokens').execute();
      await db.schema.dropTable('sessions').execute();
      await db.schema.dropIndex('users_email_hmac_idx').execute();
      for (const column of ['closed_at', 'email_hmac', 'email_verified_at', 'password_hash']) {
        await db.schema.alterTable('users').dropColumn(column).execute();
      }
    },
  };
}
