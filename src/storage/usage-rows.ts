// A usage event and its usage_events row, both ways: the one mapping both dialects use.
import type { UpstreamSummary } from '../domain/upstream-errors.ts';
import { toBig, toBool, toDate, toNum, toNumOrNull } from './db.ts';
import type { UsageEvent, UsageStatus } from './types.ts';

const USAGE_STATUSES: ReadonlySet<string> = new Set<UsageStatus>(['ok', 'error', 'client_closed', 'expired']);
function toUsageStatus(value: string): UsageStatus {
  if (!USAGE_STATUSES.has(value)) throw new TypeError(`storage: unknown usage status ${value}`);
  return value as UsageStatus;
}

export function mapUsage(row: {
  request_id: string; user_id: string; key_id: string; model: string; provider: string | null;
  channel: string | null; endpoint: string; stream: unknown; input_tokens: unknown;
  cached_input_tokens: unknown; cache_write_tokens: unknown; output_tokens: unknown;
  reasoning_tokens: unknown; held: unknown; cost: unknown; price_version: unknown; status: string;
  http_status: unknown; error_code: string | null; latency_ms: unknown; ttfb_ms: unknown; attempts?: string | null; created_at: unknown;
  upstream_status?: unknown; upstream_code?: string | null; upstream_message?: string | null;
}): UsageEvent {
  return {
    requestId: row.request_id,
    userId: row.user_id,
    keyId: row.key_id,
    model: row.model,
    provider: row.provider,
    channel: row.channel,
    endpoint: row.endpoint,
    stream: toBool(row.stream),
    inputTokens: toNum(row.input_tokens),
    cachedInputTokens: toNum(row.cached_input_tokens),
    cacheWriteTokens: toNum(row.cache_write_tokens),
    outputTokens: toNum(row.output_tokens),
    reasoningTokens: toNum(row.reasoning_tokens),
    held: toBig(row.held),
    cost: toBig(row.cost),
    priceVersion: toNumOrNull(row.price_version),
    status: toUsageStatus(row.status),
    httpStatus: toNum(row.http_status),
    errorCode: row.error_code,
    latencyMs: toNum(row.latency_ms),
    ttfbMs: toNumOrNull(row.ttfb_ms),
    attempts: row.attempts ?? null,
    upstreamError: upstreamOf(row),
    createdAt: toDate(row.created_at),
  };
}

function upstreamOf(row: { upstream_status?: unknown; upstream_code?: string | null; upstream_message?: string | null }): UpstreamSummary | null {
  const status = toNumOrNull(row.upstream_status ?? null);
  const code = row.upstream_code ?? null;
  const message = row.upstream_message ?? null;
  return status === null && code === null && message === null ? null : { status, code, message };
}

/** usage_events columns besides request_id and cost, in the order the PostgreSQL statement binds them. */
export const USAGE_COLUMNS = [
  'user_id', 'key_id', 'model', 'provider', 'channel', 'endpoint', 'stream', 'input_tokens',
  'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens', 'held', 'price_version',
  'status', 'http_status', 'error_code', 'latency_ms', 'ttfb_ms', 'attempts', 'created_at',
  'upstream_status', 'upstream_code', 'upstream_message',
] as const;

export type UsageColumn = (typeof USAGE_COLUMNS)[number];
export type UsageValue = string | number | bigint | boolean | null;

/** A usage event as column values (the one mapping both dialects use). */
export function usageRow(u: UsageEvent): Record<UsageColumn, UsageValue> {
  return {
    user_id: u.userId,
    key_id: u.keyId,
    model: u.model,
    provider: u.provider,
    channel: u.channel,
    endpoint: u.endpoint,
    stream: u.stream,
    input_tokens: u.inputTokens,
    cached_input_tokens: u.cachedInputTokens,
    cache_write_tokens: u.cacheWriteTokens,
    output_tokens: u.outputTokens,
    reasoning_tokens: u.reasoningTokens,
    held: u.held,
    price_version: u.priceVersion,
    status: u.status,
    http_status: u.httpStatus,
    error_code: u.errorCode,
    latency_ms: u.latencyMs,
    ttfb_ms: u.ttfbMs,
    attempts: u.attempts ?? null,
    created_at: u.createdAt.getTime(),
    upstream_status: u.upstreamError?.status ?? null,
    upstream_code: u.upstreamError?.code ?? null,
    upstream_message: u.upstreamError?.message ?? null,
  };
}
