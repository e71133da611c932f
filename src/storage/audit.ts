// The admin audit log: who did what to whom, from where. Metadata only (see ./types.ts AuditEntry).

import type { Kysely } from 'kysely';
import type { AuditEntry, AuditRepo, NewAuditEntry } from './types.ts';
import { toBig, toDate, type Database } from './db.ts';
import { checkLimit } from './ledger.ts';
import { parseData } from './repos.ts';

export function auditRepo(db: Kysely<Database>): AuditRepo {
  return {
    async record(entry: NewAuditEntry): Promise<void> {
      await db
        .insertInto('audit_log')
        .values({
          actor: entry.actor,
          action: entry.action,
          target: entry.target,
          details: entry.details === null ? null : JSON.stringify(entry.details),
          ip: entry.ip,
          created_at: Date.now(),
        })
        .execute();
    },
    async list(filter): Promise<AuditEntry[]> {
      let query = db.selectFrom('audit_log').selectAll();
      if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
      if (filter.action !== undefined) query = query.where('action', '=', filter.action);
      if (filter.target !== undefined) query = query.where('target', '=', filter.target);
      if (filter.beforeId !== undefined) {
        if (!/^\d+$/.test(filter.beforeId)) throw new RangeError('storage: beforeId must be an audit entry id');
        query = query.where('id', '<', BigInt(filter.beforeId));
      }
      const rows = await query.orderBy('id', 'desc').limit(checkLimit(filter.limit)).execute();
      return rows.map((row) => ({
        id: toBig(row.id).toString(),
        actor: row.actor,
        action: row.action,
        target: row.target,
        details: parseData(row.details),
        ip: row.ip,
        createdAt: toDate(row.created_at),
      }));
    },
  };
}
