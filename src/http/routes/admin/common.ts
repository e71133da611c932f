// Small pieces shared by the admin routes: body/query validation and paging.
import { z } from 'zod';
import { GatewayError } from '../../../domain/errors.ts';

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue?.path.map(String).join('.') || null;
  throw new GatewayError('invalid_request', `Invalid value for '${param ?? 'body'}': ${issue?.message ?? 'invalid'}`, { param });
}

export const limitSchema = z.coerce.number().int().min(1).max(1000).default(100);

/** A page of `limit` rows read as limit + 1: the extra row only says whether there is more. */
export function page<T>(rows: T[], limit: number): { object: 'list'; data: T[]; has_more: boolean } {
  return { object: 'list', data: rows.slice(0, limit), has_more: rows.length > limit };
}
