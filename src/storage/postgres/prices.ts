// PostgreSQL: the start-up price reconcile, one transaction serialized across replicas by an advisory lock
// (off the hot path, so Kysely rather than a hand-written CTE).

import { sql, type Kysely } from 'kysely';
import type { PricesRepo, PriceVersion } from '../types.ts';
import type { Database } from '../db.ts';
import { mapPriceRow, newPriceRow } from '../prices.ts';

export function pgReconcile(kysely: Kysely<Database>): PricesRepo['reconcile'] {
  return (models, plan) =>
    kysely.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext('switchyard.model_prices.' || current_schema()))`.execute(trx);
      const added: PriceVersion[] = [];
      for (const model of models) {
        const rows = await trx.selectFrom('model_prices').selectAll().where('model', '=', model).orderBy('effective_from').orderBy('id').execute();
        for (const input of plan(model, rows.map(mapPriceRow))) {
          const row = await trx.insertInto('model_prices').values(newPriceRow(input, Date.now())).returningAll().executeTakeFirstOrThrow();
          added.push(mapPriceRow(row));
        }
      }
      return added;
    });
}
