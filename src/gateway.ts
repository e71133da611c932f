// Wires the parts together from a Config: storage, prices, channels and their health (shared through Redis when
// REDIS_URL is set), upstream agents, auth, sweeper.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { KeyAuthenticator } from './accounts/authenticator.ts';
import { noSubscriptions, type SubscriptionHook } from './accounts/hooks.ts';
import { Mailer } from './accounts/mailer.ts';
import { AccountService } from './accounts/service.ts';
import { AuthThrottle } from './accounts/throttle.ts';
import { buildApp } from './app.ts';
import { Catalogue } from './billing/catalogue.ts';
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

const SWEEP_EVERY_MS = 30_000;
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
  const store = await openStore(config.databaseUrl);
  // Optional: without Redis (or while it is down) each replica keeps its own health.
  const sharedHealth = config.redisUrl ? new RedisHealthSync(health, config.redisUrl, { logger }) : undefined;
  let throttle: AuthThrottle | undefined;
  try {
    await sharedHealth?.start();
    await store.migrate();
    const catalogue = await Catalogue.load(config.models, store.prices);
    const upstream = new UpstreamClient(config.providers);
    const authenticator = new KeyAuthenticator(store.keys);
    const a = config.accounts;
    const mailer = new Mailer({ smtpUrl: a.smtpUrl, from: a.mailFrom, outboxDir: a.outboxDir, timeoutMs: a.mailTimeoutMs, logger });
    throttle = new AuthThrottle(a.throttle, { secret: config.secret, redisUrl: config.redisUrl, logger });
    await throttle.start();
    const accounts = new AccountService({
      store, config: a, secret: config.secret, mailer, throttle, authenticator, subscriptions: options.subscriptions ?? noSubscriptions, logger,
    });
    const deps: AppDeps = { config, store, catalogue, channels, health, upstream, authenticator, accounts, mailer, logger };
    const app = buildApp(deps);
    // Holds whose process died are released once they expire; safe on every replica at once.
    const sweeper = setInterval(() => {
      store.ledger.releaseExpired(new Date(), 500).catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'hold sweep failed'));
    }, SWEEP_EVERY_MS);
    sweeper.unref();
    // Expired sessions and one-time tokens are deleted hourly (they are refused on sight anyway).
    const sessionSweeper = setInterval(() => {
      accounts.sweep().catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'session sweep failed'));
    }, SESSION_SWEEP_EVERY_MS);
    sessionSweeper.unref();
    return {
      app,
      deps,
      async close() {
        clearInterval(sweeper);
        clearInterval(sessionSweeper);
        await app.close();
        await mailer.close();
        await throttle?.close();
        await authenticator.close();
        await upstream.close();
        await sharedHealth?.close();
        await store.close();
      },
    };
  } catch (error) {
    await throttle?.close();
    await sharedHealth?.close();
    await store.close();
    throw error;
  }
}
