// Wires the parts together from a Config: storage, prices (synced, announced, refreshed), channels and their health, rate limits and auth-cache
// evictions (each shared through Redis when REDIS_URL is set), upstream agents, auth, sweeper.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { KeyAuthenticator } from './accounts/authenticator.ts';
import { noSubscriptions, type SubscriptionHook } from './accounts/hooks.ts';
import { RedisAuthInvalidation } from './accounts/invalidation.ts';
import { Mailer } from './accounts/mailer.ts';
import { NotificationMailer } from './accounts/notification-mail.ts';
import { AccountService } from './accounts/service.ts';
import { AuthThrottle } from './accounts/throttle.ts';
import { buildApp } from './app.ts';
import { Catalogue } from './billing/catalogue.ts';
import { announcePending, syncConfiguredPrices } from './billing/prices.ts';
import { HoldSweeper } from './billing/sweeper.ts';
import type { Config } from './config/index.ts';
import type { AppDeps } from './http/context.ts';
import { Limiter } from './limits/limiter.ts';
import { RedisLimitStore } from './limits/redis.ts';
import { MemoryLimitStore, type LimitStore } from './limits/store.ts';
import { createLogger } from './observability/logger.ts';
import { resolveChannels } from './routing/channels.ts';
import { ChannelHealth } from './routing/health.ts';
import { RedisHealthSync } from './routing/health-redis.ts';
import { openStore } from './storage/index.ts';
import { UpstreamClient } from './upstream/client.ts';
import type { Books } from './billing/session.ts';

export interface Gateway {
  app: FastifyInstance;
  deps: AppDeps;
  close(): Promise<void>;
}

/** How often each replica re-reads the price versions (schedules and cancellations made on other replicas). */
export const PRICE_REFRESH_MS = 10_000;
/** How often, and after how long, a scheduled version whose announcement failed is announced again. */
const ANNOUNCE_RETRY_MS = 60_000;
const SESSION_SWEEP_EVERY_MS = 3_600_000;

export interface GatewayOptions {
  logger?: Logger;
  /** Cancels a user's subscription when they close their account (payments implements it; default: none). */
  subscriptions?: SubscriptionHook;
}

export async function createGateway(config: Readonly<Config>, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const health = new ChannelHealth(config.health);
  const channels = resolveChannels(config, health);
  const store = await openStore(config.databaseUrl, {
    ...config.database,
    // Metadata only: an error code, never a statement or a host.
    onAvailabilityChange: (up, reason) =>
      up ? logger.info({ reason }, 'database reachable again') : logger.warn({ reason }, 'database unreachable: requests answer 503 until it is back'),
  });
  // Optional: without Redis (or while it is down) each replica keeps its own health, limits and auth cache.
  const redis = config.redisUrl;
  const prefix = config.redisPrefix;
  const sharedHealth = redis ? new RedisHealthSync(health, redis, { logger, prefix }) : undefined;
  const sharedLimits = redis ? new RedisLimitStore(redis, { logger, prefix, leaseMs: config.limits.concurrencyLeaseMs }) : undefined;
  const limitStore: LimitStore = sharedLimits ?? new MemoryLimitStore();
  const authenticator = new KeyAuthenticator(store.keys);
  const evictions = redis ? new RedisAuthInvalidation(authenticator, redis, { logger, prefix }) : undefined;
  const closeShared = async (): Promise<void> => {
    await authenticator.close();
    await Promise.all([sharedHealth?.close(), evictions?.close(), limitStore.close()]);
  };
  let throttle: AuthThrottle | undefined;
  try {
    await Promise.all([sharedHealth?.start(), sharedLimits?.start(), evictions?.start()]);
    await store.migrate();
    // The config's prices against the stored versions: a first-seen model gets its price; an edited price
    // without a schedule refuses to start (ConfigError); scheduled changes are announced to their users.
    await syncConfiguredPrices(config.models, store, Date.now(), (level, message) => logger[level](message));
    await announcePending(store, Date.now());
    const catalogue = await Catalogue.load(config.models, store.prices);
    const stopPriceRefresh = catalogue.startRefresh(store.prices, PRICE_REFRESH_MS, (error: unknown) =>
      logger.warn({ err: (error as Error).message }, 'price refresh failed'),
    );
    const announcer = setInterval(() => {
      announcePending(store, Date.now(), ANNOUNCE_RETRY_MS).catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'price announcement failed'));
    }, ANNOUNCE_RETRY_MS);
    announcer.unref();
    const upstream = new UpstreamClient(config.providers);
    const limiter = new Limiter(limitStore);
    const a = config.accounts;
    const mailer = new Mailer({ smtpUrl: a.smtpUrl, from: a.mailFrom, outboxDir: a.outboxDir, timeoutMs: a.mailTimeoutMs, logger });
    throttle = new AuthThrottle(a.throttle, { secret: config.secret, redisUrl: config.redisUrl, logger });
    await throttle.start();
    const accounts = new AccountService({
      store, config: a, secret: config.secret, mailer, throttle, authenticator, subscriptions: options.subscriptions ?? noSubscriptions, logger,
    });
    const books: Books = config.billingMode === 'metered' ? { mode: 'metered', usage: store.usage } : { mode: 'prepaid', ledger: store.ledger };
    const deps: AppDeps = { config, store, catalogue, channels, health, upstream, authenticator, limiter, accounts, mailer, logger, books };
    const app = buildApp(deps);
    // Holds whose process died are released once they expire; safe on every replica at once.
    const sweeper = new HoldSweeper(store.ledger, config.holdSweep, logger);
    sweeper.start();
    // Console notifications (price changes) are mailed too; each by exactly one replica.
    const notificationMails = new NotificationMailer(store, mailer, logger, a.notificationMailIntervalMs);
    notificationMails.start();
    // Expired sessions and one-time tokens are deleted hourly (they are refused on sight anyway).
    const sessionSweeper = setInterval(() => {
      accounts.sweep().catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'session sweep failed'));
    }, SESSION_SWEEP_EVERY_MS);
    sessionSweeper.unref();
    return {
      app,
      deps,
      async close() {
        await sweeper.stop();
        await notificationMails.stop();
        stopPriceRefresh();
        clearInterval(announcer);
        clearInterval(sessionSweeper);
        await app.close();
        await mailer.close();
        await notificationMails.flush(); // mails still queued were given back to be tried again
        await throttle?.close();
        await upstream.close();
        await closeShared();
        await store.close();
      },
    };
  } catch (error) {
    await throttle?.close();
    await closeShared();
    await store.close();
    throw error;
  }
}
