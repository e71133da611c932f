// Shares breaker transitions between replicas through Redis (ARCHITECTURE §7: channel health is shared state).
// It lives in routing/ beside the breaker it feeds — ARCHITECTURE §2 puts "health … shared health store" there;
// limits/ holds rate-limit stores, which are consulted on every request, whereas this is not.
//
// What travels is only the rare transitions, never per-request statistics (those stay local, with no Redis
// round trip on the request path):
//   open        SET <prefix>breaker:<channel> {cooldownMs,reason,origin} PX <remaining>  + PUBLISH <prefix>health
//   close       DEL <prefix>breaker:<channel>                                             + PUBLISH
//   retry_after SET <prefix>retry:<channel> 1 PX <remaining>                              + PUBLISH
// (one MULTI each). Every replica subscribes on a second connection and applies others' messages at once, so one
// replica's discovery protects the others within milliseconds. The keys are for replicas that were not listening:
// on start-up and after every reconnect a replica reads them (PTTL = the time left, so clocks need not agree).
// Transitions that could not be published while Redis was down are published when it is back.
//
// Redis down: commands fail fast (no offline queue, short timeouts), health is local to the replica, one warning
// is logged per outage, and ioredis reconnects in the background. Serving never waits for Redis.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { closeRedis, newRedis } from '../storage/redis.ts';
import type { Logger } from 'pino';
import type { ChannelHealth, HealthEvent } from './health.ts';

export interface RedisHealthOptions {
  logger: Logger;
  /** Prefix of keys and of the pub/sub channel (default `sy:`; tests use a unique one). */
  prefix?: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/** A remote duration beyond this is garbage, not a cooldown. */
const MAX_REMOTE_MS = 24 * 3600_000;

interface Wire {
  v: 1;
  o: string;
  t: HealthEvent['type'];
  c: string;
  ms?: number;
  cd?: number;
  r?: string;
}

const isDuration = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_REMOTE_MS;

/** A message from the wire, or undefined when it is not one of ours. */
export function parseHealthMessage(text: string): { origin: string; event: HealthEvent } | undefined {
  let wire: Partial<Wire>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    wire = parsed as Partial<Wire>;
  } catch {
    return undefined;
  }
  if (wire.v !== 1 || typeof wire.o !== 'string' || typeof wire.c !== 'string') return undefined;
  const channel = wire.c;
  if (wire.t === 'close') return { origin: wire.o, event: { type: 'close', channel } };
  if (!isDuration(wire.ms)) return undefined;
  if (wire.t === 'retry_after') return { origin: wire.o, event: { type: 'retry_after', channel, remainingMs: wire.ms } };
  if (wire.t === 'open' && isDuration(wire.cd)) {
    return { origin: wire.o, event: { type: 'open', channel, remainingMs: wire.ms, cooldownMs: wire.cd, reason: typeof wire.r === 'string' ? wire.r : 'remote' } };
  }
  return undefined;
}

export class RedisHealthSync {
  /** Tells this replica's own messages apart from the others'. */
  readonly origin = randomBytes(8).toString('hex');
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly prefix: string;
  private readonly topic: string;
  private readonly logger: Logger;
  /** Channels whose latest transition could not be published (Redis was down). */
  private readonly unpublished = new Map<string, HealthEvent['type']>();
  private down = false;
  private closed = false;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly health: ChannelHealth,
    url: string,
    options: RedisHealthOptions,
  ) {
    this.logger = options.logger;
    this.prefix = options.prefix ?? 'sy:';
    this.topic = `${this.prefix}health`;
    // Visible in CLIENT LIST: which replica and which of its two connections. Subscribing again is done by hand
    // on every `ready`, followed by a re-read of the keys.
    const open = (role: string): Redis =>
      newRedis(url, { name: `switchyard:health:${role}:${this.origin}`, connectTimeoutMs: options.connectTimeoutMs, commandTimeoutMs: options.commandTimeoutMs });
    this.cmd = open('cmd');
    this.sub = open('sub');
  }

  keyOf(kind: 'breaker' | 'retry', channel: string): string {
    return `${this.prefix}${kind}:${channel}`;
  }

  connected(): boolean {
    return this.cmd.status === 'ready' && this.sub.status === 'ready';
  }

  /** Connects, subscribes and loads the current state; resolves (with a warning) when Redis is unreachable. */
  async start(): Promise<void> {
    for (const connection of [this.cmd, this.sub]) {
      connection.on('error', (error: Error) => this.markDown(error.message));
      connection.on('reconnecting', () => this.markDown('reconnecting'));
    }
    this.sub.on('message', (topic: string, text: string) => this.onMessage(topic, text));
    this.cmd.on('ready', () => this.queue(() => this.onCommandReady()));
    this.sub.on('ready', () => this.queue(() => this.onSubscriberReady()));
    this.health.onEvent((event) => this.publish(event));
    this.health.sharing = () => ({ backend: 'redis', connected: this.connected() });
    // The `ready` handlers above run first (registered before connect's own), queueing the initial sync.
    await Promise.allSettled([this.cmd.connect(), this.sub.connect()]);
    await this.pending;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.health.onEvent(undefined);
    this.health.sharing = () => ({ backend: 'local', connected: true });
    await this.pending;
    await Promise.all([closeRedis(this.cmd), closeRedis(this.sub)]);
  }

  /** Runs connection work one step at a time, never rejecting. */
  private queue(step: () => Promise<void>): void {
    this.pending = this.pending.then(step).catch((error: unknown) => this.markDown(error instanceof Error ? error.message : String(error)));
  }

  private markDown(reason: string): void {
    if (this.closed || this.down) return;
    this.down = true;
    this.logger.warn({ reason }, 'Redis unavailable: channel health is local to this replica until it is back');
  }

  private markUp(): void {
    if (!this.down || !this.connected()) return;
    this.down = false;
    this.logger.info('Redis reachable again: channel health is shared');
  }

  private async onSubscriberReady(): Promise<void> {
    if (this.closed) return;
    await this.sub.subscribe(this.topic);
    // Messages sent while this connection was away are lost: the keys say what is open now.
    await this.resync();
    this.markUp();
  }

  private async onCommandReady(): Promise<void> {
    if (this.closed) return;
    await this.resync();
    await this.flushUnpublished();
    this.markUp();
  }

  /** Applies every open breaker and Retry-After window recorded in Redis (one pipelined round trip). */
  private async resync(): Promise<void> {
    const ids = this.health.ids();
    if (ids.length === 0 || this.cmd.status !== 'ready') return;
    const pipeline = this.cmd.pipeline();
    for (const id of ids) pipeline.pttl(this.keyOf('breaker', id)).get(this.keyOf('breaker', id)).pttl(this.keyOf('retry', id));
    const replies = (await pipeline.exec()) ?? [];
    ids.forEach((id, i) => {
      const [breakerTtl, breakerValue, retryTtl] = [replies[3 * i]?.[1], replies[3 * i + 1]?.[1], replies[3 * i + 2]?.[1]];
      if (typeof breakerTtl === 'number' && breakerTtl > 0 && typeof breakerValue === 'string') {
        const stored = parseStored(breakerValue);
        if (stored && stored.origin !== this.origin) {
          this.health.applyRemote({ type: 'open', channel: id, remainingMs: Math.min(breakerTtl, MAX_REMOTE_MS), cooldownMs: stored.cooldownMs, reason: stored.reason });
        }
      }
      if (typeof retryTtl === 'number' && retryTtl > 0) this.health.applyRemote({ type: 'retry_after', channel: id, remainingMs: Math.min(retryTtl, MAX_REMOTE_MS) });
    });
  }

  /** Publishes what happened while Redis was down, if it still holds. */
  private async flushUnpublished(): Promise<void> {
    const entries = [...this.unpublished.entries()];
    this.unpublished.clear();
    for (const [channel, type] of entries) {
      const view = this.health.view(channel);
      if (type === 'open' && view.openUntil !== null) {
        const remainingMs = view.openUntil - this.health.now();
        if (remainingMs > 0) this.publish({ type: 'open', channel, remainingMs, cooldownMs: view.cooldownMs, reason: view.openReason ?? 'open' });
      } else if (type === 'close' && view.state === 'closed') {
        this.publish({ type: 'close', channel });
      } else if (type === 'retry_after' && view.retryAfterUntil !== null) {
        this.publish({ type: 'retry_after', channel, remainingMs: view.retryAfterUntil - this.health.now() });
      }
    }
  }

  /** Called on the request path by the breaker: fire and forget, never throws, never waits. */
  private publish(event: HealthEvent): void {
    if (this.closed) return;
    if (this.cmd.status !== 'ready') {
      this.remember(event);
      return;
    }
    const wire: Wire = { v: 1, o: this.origin, t: event.type, c: event.channel };
    const multi = this.cmd.multi();
    if (event.type === 'open') {
      wire.ms = Math.round(event.remainingMs);
      wire.cd = event.cooldownMs;
      wire.r = event.reason;
      const stored = JSON.stringify({ cooldownMs: event.cooldownMs, reason: event.reason, origin: this.origin });
      multi.set(this.keyOf('breaker', event.channel), stored, 'PX', Math.max(1, wire.ms));
    } else if (event.type === 'close') {
      multi.del(this.keyOf('breaker', event.channel));
    } else {
      wire.ms = Math.round(event.remainingMs);
      multi.set(this.keyOf('retry', event.channel), '1', 'PX', Math.max(1, wire.ms));
    }
    multi.publish(this.topic, JSON.stringify(wire));
    multi.exec().then(
      () => this.markUp(),
      (error: unknown) => {
        this.remember(event);
        this.markDown(error instanceof Error ? error.message : String(error));
      },
    );
  }

  private remember(event: HealthEvent): void {
    this.unpublished.set(event.channel, event.type);
    this.markDown('not connected');
  }

  private onMessage(topic: string, text: string): void {
    if (topic !== this.topic) return;
    const message = parseHealthMessage(text);
    if (!message || message.origin === this.origin) return;
    this.health.applyRemote(message.event);
  }
}

function parseStored(text: string): { cooldownMs: number; reason: string; origin: string } | undefined {
  try {
    const value = JSON.parse(text) as { cooldownMs?: unknown; reason?: unknown; origin?: unknown };
    if (!isDuration(value.cooldownMs)) return undefined;
    return { cooldownMs: value.cooldownMs, reason: typeof value.reason === 'string' ? value.reason : 'remote', origin: typeof value.origin === 'string' ? value.origin : '' };
  } catch {
    return undefined;
  }
}
