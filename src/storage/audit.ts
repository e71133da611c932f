// The admin audit log: who did what to whom, from where. Metadata only (see ./types.ts AuditEntry).

import type { Kysely } from 'kysely';
import type { AuditEntry, AuditOutcome, AuditRepo, NewAuditEntry } from './types.ts';
import { toBig, toDate, type Database } from './db.ts';
import { checkLimit } from './ledger.ts';
import { parseData } from './repos.ts';

const row = (entry: NewAuditEntry, outcome: AuditOutcome) => ({
  actor: entry.actor,
  action: entry.action,
  target: entry.target,
  details: entry.details === null ? null : JSON.stringify(entry.details),
  ip: entry.ip,
  created_at: Date.now(),
  outcome,
});

const OUTCOMES: ReadonlySet<string> = new Set<AuditOutcome>(['pending', 'ok', 'unchanged', 'failed']);
const outcomeOf = (value: string): AuditOutcome => (OUTCOMES.has(value) ? (value as AuditOutcome) : 'pending');

export function auditRepo(db: Kysely<Database>): AuditRepo {
  return {
    async record(entry: NewAuditEntry): Promise<void> {
      await db.insertInto('audit_log').values(row(entry, 'ok')).execute();
    },
    async begin(entry: NewAuditEntry): Promise<string> {
      const inserted = await db.insertInto('audit_log').values(row(entry, 'pending')).returning('id').executeTakeFirstOrThrow();
      return toBig(inserted.id).toString();
    },
    async complete(id, done): Promise<boolean> {
      if (!/^\d+$/.test(id)) throw new RangeError('storage: an audit entry id');
      const result = await db
        .updateTable('audit_log')
        .set({
          outcome: done.outcome,
          http_status: done.httpStatus,
          ...(done.action !== undefined ? { action: done.action } : {}),
          ...(done.target !== undefined ? { target: done.target } : {}),
          ...(done.details !== undefined ? { details: done.details === null ? null : JSON.stringify(done.details) } : {}),
        })
        .where('id', '=', BigInt(id))
        .where('outcome', '=', 'pending')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
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
        outcome: outcomeOf(row.outcome),
        httpStatus: row.http_status === null ? null : Number(row.http_status),
      }));
    },
  };
}
