// Small pieces shared by the admin routes: body/query validation.
import type { z } from 'zod';
import { GatewayError } from '../../../domain/errors.ts';

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue?.path.map(String).join('.') || null;
  throw new GatewayError('invalid_request', `Invalid value for '${param ?? 'body'}': ${issue?.message ?? 'invalid'}`, { param });
}
