// One way to open every Redis connection (rate limits, shared channel health, auth invalidation, login
// throttling): lazily connected, short timeouts, no offline queue — a command fails at once while Redis is away
// instead of waiting, and the caller falls back (docs/decisions/0014-rate-limits-and-invalidation.md). ioredis
// reconnects in the background; subscriptions are renewed by their owners on `ready` (no auto-resubscribe).
import { Redis } from 'ioredis';

export interface RedisClientOptions {
  /** Shown in CLIENT LIST, e.g. `switchyard:limits:<origin>`. */
  name: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

export function newRedis(url: string, options: RedisClientOptions): Redis {
  return new Redis(url, {
    connectionName: options.name,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 1_000,
    commandTimeout: options.commandTimeoutMs ?? 1_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResubscribe: false,
    retryStrategy: (attempt) => Math.min(250 * attempt, 5_000),
  });
}

/** Closes a connection politely when it is up, at once otherwise. */
export async function closeRedis(connection: Redis): Promise<void> {
  if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect());
  else connection.disconnect();
}
