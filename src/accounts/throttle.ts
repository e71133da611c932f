// Throttling of the console's unauthenticated doors (login, password reset, sign-up), per account and per
// client IP, with rate-limiter-flexible: in memory for one process, in Redis (shared by every replica) when
// REDIS_URL is set — with an in-memory insurance limiter, so a Redis outage degrades to per-replica limits
// instead of no limits or failed logins. Redis commands time out after 500 ms and are never queued offline; a
// Redis that stops answering trips the connection's breaker (../storage/redis.ts), after which the insurance
// limiter answers at once (rejectIfRedisNotReady) until Redis is back.
//
// Accounts are keyed by an HMAC of the normalized email (never the address itself, in memory or in Redis),
// counted whether or not the account exists, so a 429 tells nothing about which addresses are registered.
import type { Redis } from 'ioredis';
import { closeRedis, newRedis } from '../storage/redis.ts';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { ThrottleConfig } from '../config/index.ts';
import { GatewayError } from '../domain/errors.ts';
import { hmacHex } from './secrets.ts';

const FIFTEEN_MINUTES = 15 * 60;
const HOUR = 3600;

interface LimiterSpec {
  name: string;
  points: number;
  duration: number;
  blockDuration?: number;
}

export class AuthThrottle {
  private readonly redis: Redis | undefined;
  private readonly loginIp: RateLimiterAbstract;
  private readonly loginAccount: RateLimiterAbstract;
  private readonly resetIp: RateLimiterAbstract;
  private readonly resetAccount: RateLimiterAbstract;
  private readonly signupIp: RateLimiterAbstract;
  private readonly loginAccountPoints: number;

  constructor(
    config: Readonly<ThrottleConfig>,
    private readonly options: { secret: string; redisUrl?: string | undefined; logger: Logger },
  ) {
    if (options.redisUrl) {
      this.redis = newRedis(options.redisUrl, { name: 'switchyard:auth-throttle', commandTimeoutMs: 500 });
      let down = false;
      this.redis.on('error', (error: Error) => {
        if (!down) options.logger.warn({ err: error.message }, 'auth throttle: Redis unavailable, limiting per replica');
        down = true;
      });
      this.redis.on('ready', () => {
        if (down) options.logger.info('auth throttle: Redis reachable again, limits are shared');
        down = false;
      });
    }
    const make = (spec: LimiterSpec): RateLimiterAbstract => {
      const base = { keyPrefix: `${config.redisPrefix}${spec.name}`, points: spec.points, duration: spec.duration, blockDuration: spec.blockDuration ?? 0 };
      if (!this.redis) return new RateLimiterMemory(base);
      return new RateLimiterRedis({ ...base, storeClient: this.redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(base) });
    };
    this.loginAccountPoints = config.loginFailuresPerAccount;
    this.loginIp = make({ name: 'login-ip', points: config.loginAttemptsPerIp, duration: FIFTEEN_MINUTES });
    this.loginAccount = make({ name: 'login-account', points: config.loginFailuresPerAccount, duration: FIFTEEN_MINUTES, blockDuration: FIFTEEN_MINUTES });
    this.resetIp = make({ name: 'reset-ip', points: config.resetRequestsPerIp, duration: HOUR });
    this.resetAccount = make({ name: 'reset-account', points: config.resetRequestsPerAccount, duration: HOUR });
    this.signupIp = make({ name: 'signup-ip', points: config.signupsPerIp, duration: HOUR });
  }

  /** Connects to Redis (when configured); resolves, with a warning logged, when Redis is unreachable. */
  async start(): Promise<void> {
    await this.redis?.connect().catch(() => undefined);
  }

  private account(email: string): string {
    return hmacHex(this.options.secret, `switchyard:throttle:${email}`);
  }

  /** Counts a login attempt from `ip` and refuses it while the IP or the account is over its limit. */
  async beforeLogin(ip: string, email: string): Promise<void> {
    const failures = await this.loginAccount.get(this.account(email));
    if (failures && failures.consumedPoints >= this.loginAccountPoints) throw tooMany(failures.msBeforeNext, 'Too many failed logins for this account.');
    await take(this.loginIp, ip, 'Too many login attempts from this address.');
  }

  async loginFailed(email: string): Promise<void> {
    await this.loginAccount.consume(this.account(email)).catch(rejectedOrThrow);
  }

  async loginSucceeded(email: string): Promise<void> {
    await this.loginAccount.delete(this.account(email));
  }

  async beforeReset(ip: string, email: string): Promise<void> {
    await take(this.resetIp, ip, 'Too many password-reset requests from this address.');
    await take(this.resetAccount, this.account(email), 'Too many password-reset requests for this account.');
  }

  async beforeSignup(ip: string): Promise<void> {
    await take(this.signupIp, ip, 'Too many sign-ups from this address.');
  }

  async close(): Promise<void> {
    if (this.redis) await closeRedis(this.redis);
  }
}

function tooMany(msBeforeNext: number, message: string): GatewayError {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new GatewayError('rate_limit_exceeded', `${message} Try again in ${seconds} seconds.`, { retryAfter: seconds });
}

/** A limiter rejects with a RateLimiterRes when over the limit: that is not an error here. */
function rejectedOrThrow(error: unknown): void {
  if (!(error instanceof RateLimiterRes)) throw error;
}

async function take(limiter: RateLimiterAbstract, key: string, message: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (error) {
    if (error instanceof RateLimiterRes) throw tooMany(error.msBeforeNext, message);
    throw error;
  }
}
