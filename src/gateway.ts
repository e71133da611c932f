// Wires the parts together from a Config: storage, prices (synced, announced, refreshed), channels and their health (shared through Redis when
// REDIS_URL is set), upstream agents, auth, sweeper.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { KeyAuthenticator } from './accounts/authenticator.ts';
import { buildApp } from './app.ts';
import { Catalogue } from './billing/catalogue.ts';
import { announcePending, syncConfiguredPrices } from './billing/prices.ts';
import { HoldSweeper } from './billing/sweeper.ts';
import type { Config } from './config/index.ts';
import type { AppDeps } from './http/context.ts';
import { createLogger } from './observability/logger.ts';
import { resolveChannels } from './routing/channels.ts';
import { ChannelHealth } from './routing/health.ts';
import { RedisHealthSync } from './routing/health-redis.ts';
import { openStore } from './storage/index.ts';
import { UpstreamClient } from './upstream/client.ts';

export interface Gateway {
  app: FastifyInstance;
  deps: AppDeps;
  close(): Promise<void>;
}

/** How often each replica re-reads the price versions (schedules and cancellations made on other replicas). */
export const PRICE_REFRESH_MS = 10_000;
/** How often, and after how long, a scheduled version whose announcement failed is announced again. */
const ANNOUNCE_RETRY_MS = 60_000;

export async function createGateway(config: Readonly<Config>, options: { logger?: Logger } = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const health = new ChannelHealth(config.health);
  const channels = resolveChannels(config, health);
  const store = await openStore(config.databaseUrl);
  // Optional: without Redis (or while it is down) each replica keeps its own health.
  const sharedHealth = config.redisUrl ? new RedisHealthSync(health, config.redisUrl, { logger }) : undefined;
  try {
    await sharedHealth?.start();
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
    const authenticator = new KeyAuthenticator(store.keys);
    const deps: AppDeps = { config, store, catalogue, channels, health, upstream, authenticator, logger };
    const app = buildApp(deps);
    // Holds whose process died are released once they expire; safe on every replica at once.
    const sweeper = new HoldSweeper(store.ledger, config.holdSweep, logger);
    sweeper.start();
    return {
      app,
      deps,
      async close() {
        await sweeper.stop();
        stopPriceRefresh();
        clearInterval(announcer);
        await app.close();
        await authenticator.close();
        await upstream.close();
        await sharedHealth?.close();
        await store.close();
      },
    };
  } catch (error) {
    await sharedHealth?.close();
    await store.close();
    throw error;
  }
}
