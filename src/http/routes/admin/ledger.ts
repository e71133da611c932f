// GET /admin/v1/ledger/verify — reconciles every user's balance with the sum of their ledger, and their open holds
// with their hold entries that have no release (storage LedgerRepo.verify; decision 0008). Paginated by user id
// (`after`, `limit`): each page is one aggregate statement under the database's statement timeout, so it runs
// beside live traffic on any number of users. `switchyard admin verify-ledger` walks every page.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { formatCredits } from '../../../domain/money.ts';
import type { LedgerCheck } from '../../../storage/types.ts';
import type { AppDeps } from '../../context.ts';
import { acceptsQuery, queryOf } from './common.ts';

const querySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  after: z.string().max(200).optional(),
  /** Every user of the page, not only those that disagree. */
  all: z.enum(['true', 'false']).default('false'),
});

// A value that is not an integer (a REAL left by an overflow before the ledger's bounds) is drift too.
const balanced = (c: LedgerCheck): boolean => c.balance === c.ledgerSum && c.invalidValues === 0;
const holdsAgree = (c: LedgerCheck): boolean => c.openHolds === c.unreleasedHolds && c.openHoldAmount === c.unreleasedHoldAmount;

function checkView(c: LedgerCheck) {
  return {
    user_id: c.userId,
    ok: balanced(c) && holdsAgree(c),
    balance_credits: formatCredits(c.balance),
    ledger_sum_credits: formatCredits(c.ledgerSum),
    drift_credits: formatCredits(c.balance - c.ledgerSum),
    invalid_values: c.invalidValues,
    open_holds: c.openHolds,
    open_holds_credits: formatCredits(c.openHoldAmount),
    unreleased_hold_entries: c.unreleasedHolds,
    unreleased_hold_credits: formatCredits(c.unreleasedHoldAmount),
  };
}

export function ledgerRoutes(admin: FastifyInstance, deps: AppDeps): void {
  admin.get('/ledger/verify', acceptsQuery(querySchema), async (request) => {
    const q = queryOf(request, querySchema);
    const checks = await deps.store.ledger.verify({ limit: q.limit, ...(q.after ? { afterUserId: q.after } : {}) });
    const sum = (pick: (c: LedgerCheck) => bigint): bigint => checks.reduce((acc, c) => acc + pick(c), 0n);
    const count = (pick: (c: LedgerCheck) => number): number => checks.reduce((acc, c) => acc + pick(c), 0);
    const wrong = checks.filter((c) => !balanced(c) || !holdsAgree(c));
    const balance = sum((c) => c.balance);
    const ledgerSum = sum((c) => c.ledgerSum);
    const hasMore = checks.length === q.limit;
    return {
      object: 'ledger.verification',
      ok: wrong.length === 0,
      checked_users: checks.length,
      users_with_drift: checks.filter((c) => !balanced(c)).length,
      users_with_hold_mismatch: checks.filter((c) => !holdsAgree(c)).length,
      totals: {
        balance_credits: formatCredits(balance),
        ledger_sum_credits: formatCredits(ledgerSum),
        drift_credits: formatCredits(balance - ledgerSum),
        open_holds: count((c) => c.openHolds),
        open_holds_credits: formatCredits(sum((c) => c.openHoldAmount)),
        unreleased_hold_entries: count((c) => c.unreleasedHolds),
        unreleased_hold_credits: formatCredits(sum((c) => c.unreleasedHoldAmount)),
      },
      data: (q.all === 'true' ? checks : wrong).map(checkView),
      has_more: hasMore,
      next_after: hasMore ? (checks.at(-1)?.userId ?? null) : null,
    };
  });
}
