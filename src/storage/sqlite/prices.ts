// SQLite: the start-up price reconcile as one better-sqlite3 `BEGIN IMMEDIATE` transaction (the write lock
// serializes replicas sharing the file; nothing awaits inside, so it never interleaves with other statements).

import type BetterSqlite3 from 'better-sqlite3';
import type { PricesRepo, PriceVersion } from '../types.ts';
import { PRICE_COLUMNS, mapPriceRow, newPriceRow, type NewPriceRow, type PriceRow } from '../prices.ts';

export function sqliteReconcile(db: BetterSqlite3.Database): PricesRepo['reconcile'] {
  let statements: { history: BetterSqlite3.Statement<[string], PriceRow>; insert: BetterSqlite3.Statement<[NewPriceRow], PriceRow> } | undefined;
  // Prepared on first use: the table must exist (after migrations).
  const prepare = () =>
    (statements ??= {
      history: db.prepare<[string], PriceRow>('SELECT * FROM model_prices WHERE model = ? ORDER BY effective_from, id'),
      insert: db.prepare<[NewPriceRow], PriceRow>(
        `INSERT INTO model_prices (${PRICE_COLUMNS.join(', ')}) VALUES (${PRICE_COLUMNS.map((c) => `@${c}`).join(', ')}) RETURNING *`,
      ),
    });

  return async (models, plan) => {
    const s = prepare();
    const run = db.transaction((): PriceVersion[] => {
      const added: PriceVersion[] = [];
      for (const model of models) {
        for (const input of plan(model, s.history.all(model).map(mapPriceRow))) {
          const row = s.insert.get(newPriceRow(input, Date.now()));
          if (!row) throw new Error(`prices: insert for ${model} returned nothing`);
          added.push(mapPriceRow(row));
        }
      }
      return added;
    });
    return run.immediate();
  };
}
