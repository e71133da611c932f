// /console/v1 usage, balance, ledger and notifications: what the signed-in account did and owes. Every query
// is scoped to the session's user; lists are newest first with cursor pagination.
import { z } from 'zod';
import { GatewayError } from '../../../domain/errors.ts';
import { formatCredits } from '../../../domain/money.ts';
import type { UsageCursor } from '../../../storage/types.ts';
import { idCursor } from '../admin/common.ts';
import { defineRoute, type ConsoleRoute } from './define.ts';
import type { ConsoleServices } from './services.ts';
import {
  credits, instant, LedgerView, ledgerView, listOf, NotificationView, notificationView, UsageSummaryRow, summaryRowView, UsageView,
  usageView,
} from './views.ts';

const DAY_MS = 86_400_000;
const MAX_SUMMARY_DAYS = 400;
const limit = z.coerce.number().int().min(1).max(200).default(50);
const when = z.union([z.iso.date(), z.iso.datetime({ offset: true })]).describe('an ISO 8601 date (UTC midnight) or date-time');
const cursor = z.string().min(1).max(200).describe('next_cursor from the previous page');

const toDate = (text: string | undefined): Date | undefined => (text === undefined ? undefined : new Date(text));

function encodeUsageCursor(c: UsageCursor): string {
  return Buffer.from(`${c.createdAt.getTime()}:${c.requestId}`).toString('base64url');
}

function decodeUsageCursor(text: string): UsageCursor {
  const match = /^(\d{1,15}):([\w-]{1,100})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match?.[1] || !match[2]) throw new GatewayError('invalid_request', 'Invalid cursor: pass next_cursor back unchanged.', { param: 'cursor' });
  return { createdAt: new Date(Number(match[1])), requestId: match[2] };
}

export function activityRoutes(s: ConsoleServices): ConsoleRoute[] {
  return [
    defineRoute({
      method: 'GET', path: '/usage', tag: 'usage', access: 'session',
      summary: 'Requests made with the account\'s keys (metadata only), newest first',
      query: z.strictObject({ limit, cursor: cursor.optional(), from: when.optional(), to: when.optional(), key_id: z.string().max(64).optional() }),
      response: listOf(UsageView),
      handler: async ({ session, query }) => {
        const from = toDate(query.from);
        const to = toDate(query.to);
        const events = await s.store.usage.page({
          userId: session.userId,
          limit: query.limit,
          ...(query.cursor ? { after: decodeUsageCursor(query.cursor) } : {}),
          ...(from ? { from } : {}),
          ...(to ? { to } : {}),
          ...(query.key_id ? { keyId: query.key_id } : {}),
        });
        const last = events.length === query.limit ? events[events.length - 1] : undefined;
        return { object: 'list' as const, data: events.map(usageView), next_cursor: last ? encodeUsageCursor(last) : null };
      },
    }),
    defineRoute({
      method: 'GET', path: '/usage/summary', tag: 'usage', access: 'session',
      summary: 'Totals per UTC day × model × key over [from, to)',
      description: `Defaults: the last 30 days including today. At most ${MAX_SUMMARY_DAYS} days.`,
      query: z.strictObject({ from: when.optional(), to: when.optional() }),
      response: z.strictObject({ from: instant, to: instant, data: z.array(UsageSummaryRow) }),
      handler: async ({ session, query }) => {
        const to = toDate(query.to) ?? new Date((Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS);
        const from = toDate(query.from) ?? new Date(to.getTime() - 30 * DAY_MS);
        if (from >= to) throw new GatewayError('invalid_request', '`from` must be before `to`.', { param: 'from' });
        if (to.getTime() - from.getTime() > MAX_SUMMARY_DAYS * DAY_MS) {
          throw new GatewayError('invalid_request', `The range may span at most ${MAX_SUMMARY_DAYS} days.`, { param: 'from' });
        }
        const rows = await s.store.usage.aggregate({ userId: session.userId, from, to });
        return { from: from.toISOString(), to: to.toISOString(), data: rows.map(summaryRowView) };
      },
    }),
    defineRoute({
      method: 'GET', path: '/balance', tag: 'billing', access: 'session',
      summary: 'The available balance (requests in flight already held)',
      response: z.strictObject({ balance_credits: credits }),
      handler: async ({ session }) => ({ balance_credits: formatCredits((await s.store.ledger.balance(session.userId)) ?? 0n) }),
    }),
    defineRoute({
      method: 'GET', path: '/ledger', tag: 'billing', access: 'session',
      summary: 'Ledger entries (holds, captures, releases, grants, top-ups, adjustments), newest first',
      query: z.strictObject({ limit, cursor: idCursor.optional().describe('next_cursor from the previous page') }),
      response: listOf(LedgerView),
      handler: async ({ session, query }) => {
        const entries = await s.store.ledger.entries(session.userId, { limit: query.limit, ...(query.cursor ? { beforeId: query.cursor } : {}) });
        const last = entries.length === query.limit ? entries[entries.length - 1] : undefined;
        return { object: 'list' as const, data: entries.map(ledgerView), next_cursor: last ? last.id : null };
      },
    }),
    defineRoute({
      method: 'GET', path: '/notifications', tag: 'notifications', access: 'session',
      summary: 'Notifications (price changes, account events), newest first',
      query: z.strictObject({ limit, unread: z.enum(['true', 'false']).optional().describe('true: unread ones only') }),
      response: listOf(NotificationView),
      handler: async ({ session, query }) => {
        const items = await s.store.notifications.list(session.userId, { limit: query.limit, unreadOnly: query.unread === 'true' });
        return { object: 'list' as const, data: items.map(notificationView), next_cursor: null };
      },
    }),
    defineRoute({
      method: 'POST', path: '/notifications/{id}/read', tag: 'notifications', access: 'session',
      summary: 'Mark a notification read',
      params: z.strictObject({ id: z.string().min(1).max(64) }),
      response: z.strictObject({ id: z.string(), read: z.literal(true) }),
      errors: ['not_found'],
      handler: async ({ session, params }) => {
        if (!(await s.store.notifications.markRead(session.userId, params.id))) {
          throw new GatewayError('not_found', `No notification with id '${params.id}'.`, { param: 'id' });
        }
        return { id: params.id, read: true as const };
      },
    }),
  ];
}
