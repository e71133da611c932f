// One way to open every Redis connection (rate limits, shared channel health, auth invalidation, login
// throttling): lazily connected, short timeouts, no offline queue — a command fails at once while Redis is away
// instead of waiting, and the caller falls back (docs/decisions/0014-rate-limits-and-invalidation.md). ioredis
// reconnects in the background; subscriptions are renewed by their owners on `ready` (no auto-resubscribe).
//
// The breaker is the connection's own state. A Redis that stops answering (partitioned, black-holed) leaves the
// socket open, so a command would wait out its timeout on every request; instead the socket timeout destroys a
// connection that owes replies and has heard nothing for `commandTimeoutMs`. The connection is then not `ready`:
// every command fails at once (no offline queue) and callers use their local fallback without waiting. It closes
// again by itself: ioredis reconnects, and the connection is `ready` only once Redis answers its ready check
// (which is bounded by the same timeout). A connection that owes nothing (a subscriber, an idle one) would never
// notice a silent peer, so each pings every `heartbeatMs` while ready: the socket timeout then applies to it too.
import { Redis } from 'ioredis';

export interface RedisClientOptions {
  /** Shown in CLIENT LIST, e.g. `switchyard:limits:<origin>`. */
  name: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** PING period while ready (default 5 s). */
  heartbeatMs?: number;
}

/** Longest pause between two reconnection attempts: how late a recovered Redis may be noticed. */
const MAX_RECONNECT_DELAY_MS = 1_000;

export function newRedis(url: string, options: RedisClientOptions): Redis {
  const commandTimeout = options.commandTimeoutMs ?? 1_000;
  const connection = new Redis(url, {
    connectionName: options.name,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 1_000,
    commandTimeout,
    socketTimeout: commandTimeout,
    keepAlive: 10_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResubscribe: false,
    retryStrategy: (attempt) => Math.min(100 * attempt, MAX_RECONNECT_DELAY_MS),
  });
  let heartbeat: NodeJS.Timeout | undefined;
  const stop = (): void => {
    clearInterval(heartbeat);
    heartbeat = undefined;
  };
  connection.on('ready', () => {
    stop();
    // A failed PING is the socket timeout's business (and the owner's 'error' listener's): nothing to do here.
    heartbeat = setInterval(() => void connection.ping().catch(() => undefined), options.heartbeatMs ?? 5_000);
    heartbeat.unref();
  });
  connection.on('close', stop);
  connection.on('end', stop);
  return connection;
}

/** Closes a connection politely when it is up, at once otherwise. */
export async function closeRedis(connection: Redis): Promise<void> {
  if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect());
  else connection.disconnect();
}

/** Does Redis answer on this connection now? Never waits longer than the connection's command timeout. */
export async function pingRedis(connection: Redis): Promise<boolean> {
  if (connection.status !== 'ready') return false;
  return connection.ping().then(
    () => true,
    () => false,
  );
}
