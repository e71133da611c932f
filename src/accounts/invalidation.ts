// Cross-replica auth invalidation: an eviction on one replica (key revoked, user suspended, scopes changed) is
// published on `<prefix>auth` and every other replica evicts the same entries from its auth cache at once, so a
// revoked key stops working everywhere within milliseconds instead of the cache TTL (docs/decisions/0004 and 0014).
//
// Redis away: evictions are still applied locally and other replicas fall back to the cache TTL (5 s); one
// warning per outage. When the subscription comes back, the replica clears its whole auth cache, since it may
// have missed messages meanwhile (it costs one key lookup per active key).
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedis, newRedis } from '../storage/redis.ts';
import type { Eviction, KeyAuthenticator } from './authenticator.ts';

export interface AuthInvalidationOptions {
  logger: Logger;
  /** Prefix of the pub/sub channel (default `sy:`). */
  prefix?: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

interface Wire {
  v: 1;
  /** The publishing replica. */
  o: string;
  k: Eviction['kind'];
  id: string;
}

export function parseEviction(text: string): { origin: string; eviction: Eviction } | undefined {
  try {
    const wire = JSON.parse(text) as Partial<Wire>;
    if (wire.v !== 1 || typeof wire.o !== 'string' || typeof wire.id !== 'string') return undefined;
    if (wire.k !== 'key' && wire.k !== 'user') return undefined;
    return { origin: wire.o, eviction: { kind: wire.k, id: wire.id } };
  } catch {
    return undefined;
  }
}

export class RedisAuthInvalidation {
  readonly origin = randomBytes(8).toString('hex');
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly topic: string;
  private readonly logger: Logger;
  private down = false;
  private closed = false;
  /** start() is over: a later subscription follows an outage, during which messages may have been missed. */
  private started = false;

  constructor(
    private readonly authenticator: KeyAuthenticator,
    url: string,
    options: AuthInvalidationOptions,
  ) {
    this.logger = options.logger;
    this.topic = `${options.prefix ?? 'sy:'}auth`;
    const timeouts = { connectTimeoutMs: options.connectTimeoutMs, commandTimeoutMs: options.commandTimeoutMs };
    this.pub = newRedis(url, { name: `switchyard:auth:pub:${this.origin}`, ...timeouts });
    this.sub = newRedis(url, { name: `switchyard:auth:sub:${this.origin}`, ...timeouts });
  }

  connected(): boolean {
    return this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  /** Connects and subscribes; resolves (with a warning) when Redis is unreachable. */
  async start(): Promise<void> {
    for (const connection of [this.pub, this.sub]) {
      connection.on('error', (error: Error) => this.markDown(error.message));
      connection.on('reconnecting', () => this.markDown('reconnecting'));
    }
    this.sub.on('message', (topic: string, text: string) => {
      if (topic !== this.topic) return;
      const message = parseEviction(text);
      if (message && message.origin !== this.origin) this.authenticator.applyEviction(message.eviction);
    });
    this.pub.on('ready', () => this.markUp());
    this.authenticator.shareEvictions((eviction) => this.publish(eviction));
    await Promise.allSettled([this.pub.connect(), this.sub.connect()]);
    await this.subscribe();
    this.started = true;
    this.sub.on('ready', () => void this.subscribe());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.authenticator.shareEvictions(undefined);
    await Promise.all([closeRedis(this.pub), closeRedis(this.sub)]);
  }

  private async subscribe(): Promise<void> {
    if (this.closed || this.sub.status !== 'ready') return;
    try {
      await this.sub.subscribe(this.topic);
    } catch (error) {
      this.markDown(error instanceof Error ? error.message : String(error));
      return;
    }
    // Messages published while this connection was away are lost: forget every cached key instead.
    if (this.started) this.authenticator.evictAll();
    this.markUp();
  }

  private publish(eviction: Eviction): void {
    if (this.closed) return;
    if (this.pub.status !== 'ready') {
      this.markDown('not connected');
      return;
    }
    const wire: Wire = { v: 1, o: this.origin, k: eviction.kind, id: eviction.id };
    this.pub.publish(this.topic, JSON.stringify(wire)).catch((error: unknown) => this.markDown(error instanceof Error ? error.message : String(error)));
  }

  private markDown(reason: string): void {
    if (this.closed || this.down) return;
    this.down = true;
    this.logger.warn({ reason }, 'Redis unavailable: auth evictions reach other replicas only through the cache TTL until it is back');
  }

  private markUp(): void {
    if (!this.down || !this.connected()) return;
    this.down = false;
    this.logger.info('Redis reachable again: auth evictions are shared');
  }
}
