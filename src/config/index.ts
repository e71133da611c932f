// The ONLY reader of process.env and of the config file. Produces one frozen, typed Config.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import type { PriceRates } from '../domain/usage.ts';
import { ConfigError } from './errors.ts';
import { parseEffectiveFrom, ratesFromFields } from './prices.ts';
import { fileSchema, type FileConfig } from './schema.ts';
import { serverConfig, type ServerConfig } from './server.ts';
import { databaseConfig, type DatabaseConfig } from './database.ts';

export { ConfigError } from './errors.ts';
export type { ServerConfig, TrustedProxies } from './server.ts';
export type { DatabaseConfig } from './database.ts';

export interface Timeouts {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
  /** The first-byte deadline follows the channel's observed p95 (1.5 × p95, at least 250 ms, at most firstByteMs). */
  adaptiveFirstByte: boolean;
}

export interface ProviderConfig {
  id: string;
  type: string;
  /** Undefined when omitted: the channel resolver then uses the type's default base URL, if it has one. */
  baseUrl: string | undefined;
  apiKey: string | undefined;
  apiVersion: string | undefined;
  headers: Readonly<Record<string, string>>;
  timeouts: Timeouts;
}

export interface ChannelConfig {
  /** `${provider}/${upstreamModel}` — stable name used in usage events and headers. */
  id: string;
  provider: string;
  upstreamModel: string;
  priority: number;
  weight: number;
}

/** A model's rates in micro-credits (see domain/usage.ts). */
export type PriceConfig = PriceRates;

/** A price change written in the config: the rates that apply from `effectiveFrom` on. */
export interface PriceChangeConfig {
  effectiveFrom: Date;
  price: PriceConfig;
  /** Less than 14 days' notice is accepted only forced, with a reason (recorded on the version). */
  force: boolean;
  reason: string | undefined;
}

export interface ModelConfig {
  id: string;
  /** Other ids clients may use for this model (same channels, same price). */
  aliases: readonly string[];
  kind: 'chat' | 'embeddings';
  description: string | undefined;
  contextWindow: number | undefined;
  maxOutputTokens: number;
  /** Hedge delay: fixed milliseconds, or 'adaptive' (the channel's time-to-first-byte p95; 1 s until known). */
  hedgeDelayMs: number | 'adaptive' | undefined;
  channels: readonly ChannelConfig[];
  /** The price when the model is first seen; any later change is a scheduled one (billing/prices.ts). */
  price: PriceConfig;
  /** Scheduled changes, oldest first (`price_changes`). */
  priceChanges: readonly PriceChangeConfig[];
}

/** Failover inside one request (routing/dispatch.ts). */
export interface RoutingConfig {
  /** Channels tried at most, the first included. */
  maxAttempts: number;
  /** No new channel is tried once this long has passed since the request started (before its first byte). */
  deadlineMs: number;
}

/** When a channel's circuit breaker opens and for how long (routing/health.ts). */
export interface HealthConfig {
  /** Blamed failures in a row that open the breaker. */
  consecutiveFailures: number;
  /** Share of blamed failures over the window (0..1] that opens it, once the window holds `minRequests`. */
  errorRate: number;
  minRequests: number;
  /** The error-rate window (six buckets of windowMs / 6). */
  windowMs: number;
  /** First cooldown; doubled by each failed probe up to `maxCooldownMs`. */
  cooldownMs: number;
  maxCooldownMs: number;
  /** Cooldown after the upstream refused the channel's credentials (401/403): a key does not fix itself. */
  authCooldownMs: number;
  /** An upstream's Retry-After is honoured up to this long. */
  maxRetryAfterMs: number;
}

export const DEFAULT_HEALTH: Readonly<HealthConfig> = Object.freeze({
  consecutiveFailures: 5,
  errorRate: 0.5,
  minRequests: 20,
  windowMs: 60_000,
  cooldownMs: 5_000,
  maxCooldownMs: 60_000,
  authCooldownMs: 60_000,
  maxRetryAfterMs: 300_000,
});

/** prepaid: hold, then settle against the balance; metered: usage and cost recorded, no credits moved. */
export type BillingMode = 'prepaid' | 'metered';

export interface HoldSweepConfig {
  intervalMs: number;
  batch: number;
}

export const DEFAULT_HOLD_TTL_MS = 15 * 60 * 1000;
export const DEFAULT_HOLD_SWEEP: Readonly<HoldSweepConfig> = Object.freeze({ intervalMs: 30_000, batch: 500 });

/** Rate limits (limits/limiter.ts). */
export interface LimitsConfig {
  /** Every account's limits (null: none of that kind); a key's scopes add its own. */
  account: Readonly<{ rpm: number | null; tpm: number | null; concurrency: number | null }>;
  /** A concurrent-request slot held in Redis and not renewed for this long is freed (a crashed replica's). */
  concurrencyLeaseMs: number;
}

/** Login / reset / sign-up throttling (src/accounts/throttle.ts). */
export interface ThrottleConfig {
  loginFailuresPerAccount: number;
  loginAttemptsPerIp: number;
  resetRequestsPerAccount: number;
  resetRequestsPerIp: number;
  signupsPerIp: number;
  redisPrefix: string;
}

/** Self-service accounts, their mail and the console's sessions. */
export interface AccountsConfig {
  /** Base of every link in a mail, without a trailing slash. */
  publicUrl: string;
  /** undefined: mails go to outboxDir as .eml files. */
  smtpUrl: string | undefined;
  mailFrom: string;
  outboxDir: string;
  /** Deadline of one mail delivery. */
  mailTimeoutMs: number;
  /** How often each replica mails the notifications not yet mailed (YAML accounts.notification_mail_interval_ms). */
  notificationMailIntervalMs: number;
  /** Absolute session lifetime. */
  sessionTtlMs: number;
  /** A session unused for this long ends. */
  sessionIdleMs: number;
  verifyTokenTtlMs: number;
  resetTokenTtlMs: number;
  throttle: Readonly<ThrottleConfig>;
}

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string;
  redisUrl: string | undefined;
  /** Prefix of every Redis key and pub/sub channel (SWITCHYARD_REDIS_PREFIX; replicas of one gateway share it). */
  redisPrefix: string;
  adminToken: string;
  /** Where the admin token was read from (printed at start-up; never the token itself). */
  adminTokenSource: string;
  secret: string;
  /** Bearer token for GET /metrics (SWITCHYARD_METRICS_TOKEN); unset: the admin token is required. */
  metricsToken: string | undefined;
  bodyLimitBytes: number;
  /** A hold expires this long after it was taken (YAML holds.ttl_ms; SWITCHYARD_HOLD_TTL_MS overrides). */
  holdTtlMs: number;
  /** YAML billing.mode, SWITCHYARD_BILLING_MODE overrides (docs/billing.md "Billing modes"). */
  billingMode: BillingMode;
  /** How often the sweeper releases expired holds, and how many per statement batch (YAML holds.*). */
  holdSweep: Readonly<HoldSweepConfig>;
  logLevel: string;
  configPath: string | undefined;
  providers: readonly ProviderConfig[];
  models: readonly ModelConfig[];
  health: Readonly<HealthConfig>;
  routing: Readonly<RoutingConfig>;
  limits: Readonly<LimitsConfig>;
  accounts: Readonly<AccountsConfig>;
  /** The HTTP edge: timeouts, connection cap, trusted proxies (X-Forwarded-*), input limits (config/server.ts). */
  server: Readonly<ServerConfig>;
  /** Database timeouts (YAML database.*, SWITCHYARD_DB_* override; config/database.ts). */
  database: Readonly<DatabaseConfig>;
}

const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 1_000, firstByteMs: 60_000, idleMs: 60_000, adaptiveFirstByte: false };

type Env = Readonly<Record<string, string | undefined>>;

/** `${VAR}` → env value; `$${` escapes. An unset variable is an error naming it. */
export function interpolate(text: string, env: Env, where: string): string {
  return text.replace(/\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, escape: string, name: string) => {
    if (escape) return whole.slice(1);
    const value = env[name];
    if (value === undefined) throw new ConfigError(`${where}: environment variable ${name} is not set`);
    return value;
  });
}

function interpolateDeep(value: unknown, env: Env, path: string): unknown {
  if (typeof value === 'string') return interpolate(value, env, path);
  if (Array.isArray(value)) return value.map((v, i) => interpolateDeep(v, env, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateDeep(v, env, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

function formatIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.reduce<string>(
      (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
      '',
    );
    return `  ${path || '(root)'}: ${issue.message}`;
  });
  return `invalid config in ${source}:\n${lines.join('\n')}`;
}

function intEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${name}: expected a non-negative integer, got "${raw}"`);
  return n;
}

/** Reads a secret from env or from a file under dataDir, creating it (mode 0600) when absent. */
function persistentSecret(env: Env, name: string, file: string): { value: string; source: string } {
  const fromEnv = env[name];
  if (fromEnv) return { value: fromEnv, source: `$${name}` };
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), source: file };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const value = randomBytes(32).toString('base64url');
  writeFileSync(file, value + '\n', { mode: 0o600 });
  return { value, source: file };
}

export interface LoadOptions {
  env?: Env;
  cwd?: string;
  /** Inline YAML text instead of a file (tests). */
  yamlText?: string;
}

export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const dataDir = resolve(cwd, env.SWITCHYARD_DATA_DIR ?? 'data');

  let yamlText = options.yamlText;
  let configPath: string | undefined;
  if (yamlText === undefined) {
    const explicit = env.SWITCHYARD_CONFIG;
    const candidate = explicit ? (isAbsolute(explicit) ? explicit : resolve(cwd, explicit)) : resolve(cwd, 'switchyard.yaml');
    if (existsSync(candidate)) {
      configPath = candidate;
      yamlText = readFileSync(candidate, 'utf8');
    } else if (explicit) {
      throw new ConfigError(`SWITCHYARD_CONFIG: file not found: ${candidate}`);
    }
  }
  const source = configPath ?? (options.yamlText !== undefined ? 'inline config' : 'defaults');
  let parsedYaml: unknown = {};
  if (yamlText !== undefined) {
    try {
      parsedYaml = parseYaml(yamlText) ?? {};
    } catch (e) {
      throw new ConfigError(`${source}: not valid YAML: ${(e as Error).message}`);
    }
  }
  const result = fileSchema.safeParse(interpolateDeep(parsedYaml, env, ''));
  if (!result.success) throw new ConfigError(formatIssues(result.error, source));
  const file = result.data;

  const providerIds = new Set<string>();
  const providers: ProviderConfig[] = file.providers.map((p, i) => {
    if (providerIds.has(p.id)) throw new ConfigError(`providers[${i}].id: duplicate provider id "${p.id}"`);
    providerIds.add(p.id);
    return Object.freeze({
      id: p.id,
      type: p.type,
      baseUrl: p.base_url?.replace(/\/+$/, ''),
      apiKey: p.api_key,
      apiVersion: p.api_version,
      headers: Object.freeze({ ...(p.headers ?? {}) }),
      timeouts: Object.freeze({
        connectMs: p.timeouts?.connect_ms ?? DEFAULT_TIMEOUTS.connectMs,
        firstByteMs: p.timeouts?.first_byte_ms ?? DEFAULT_TIMEOUTS.firstByteMs,
        adaptiveFirstByte: p.timeouts?.adaptive_first_byte ?? DEFAULT_TIMEOUTS.adaptiveFirstByte,
        idleMs: p.timeouts?.idle_ms ?? DEFAULT_TIMEOUTS.idleMs,
      }),
    });
  });

  const modelIds = new Set<string>();
  const models: ModelConfig[] = file.models.map((m, i) => {
    if (modelIds.has(m.id)) throw new ConfigError(`models[${i}].id: duplicate model id "${m.id}"`);
    modelIds.add(m.id);
    const channels = m.channels.map((c, j) => {
      if (!providerIds.has(c.provider)) {
        throw new ConfigError(`models[${i}].channels[${j}].provider: no provider with id "${c.provider}"`);
      }
      const upstreamModel = c.upstream_model ?? m.id;
      return Object.freeze({ id: `${c.provider}/${upstreamModel}`, provider: c.provider, upstreamModel, priority: c.priority, weight: c.weight });
    });
    const priceChanges = m.price_changes ?? [];
    const changes = priceChanges.map((change, j): PriceChangeConfig => {
      const at = `models[${i}].price_changes[${j}]`;
      const effectiveFrom = parseEffectiveFrom(change.effective_from, `${at}.effective_from`);
      const previous = j > 0 ? priceChanges[j - 1] : undefined;
      if (previous && effectiveFrom.getTime() <= parseEffectiveFrom(previous.effective_from, at).getTime()) {
        throw new ConfigError(`${at}.effective_from: must be later than the change before it`);
      }
      if (change.force && !change.reason) throw new ConfigError(`${at}.reason: a forced change needs a reason`);
      const { effective_from: _from, force, reason, ...fields } = change;
      return Object.freeze({ effectiveFrom, price: Object.freeze(ratesFromFields(fields, m.kind, `${at}.`)), force: force ?? false, reason });
    });
    for (const [j, alias] of (m.aliases ?? []).entries()) {
      if (modelIds.has(alias)) throw new ConfigError(`models[${i}].aliases[${j}]: "${alias}" is already a model id or alias`);
      modelIds.add(alias);
    }
    return Object.freeze({
      id: m.id,
      aliases: Object.freeze([...(m.aliases ?? [])]),
      kind: m.kind,
      description: m.description,
      contextWindow: m.context_window,
      maxOutputTokens: m.max_output_tokens,
      hedgeDelayMs: m.hedge?.delay_ms,
      channels: Object.freeze(channels),
      price: Object.freeze(ratesFromFields(m.price, m.kind, `models[${i}].price.`)),
      priceChanges: Object.freeze(changes),
    });
  });

  const h = file.health ?? {};
  const maxCooldownMs = h.max_cooldown_ms ?? Math.max(DEFAULT_HEALTH.maxCooldownMs, h.cooldown_ms ?? 0);
  const health: HealthConfig = {
    consecutiveFailures: h.consecutive_failures ?? DEFAULT_HEALTH.consecutiveFailures,
    errorRate: h.error_rate ?? DEFAULT_HEALTH.errorRate,
    minRequests: h.min_requests ?? DEFAULT_HEALTH.minRequests,
    windowMs: h.window_ms ?? DEFAULT_HEALTH.windowMs,
    cooldownMs: h.cooldown_ms ?? Math.min(DEFAULT_HEALTH.cooldownMs, maxCooldownMs),
    maxCooldownMs,
    authCooldownMs: h.auth_cooldown_ms ?? Math.min(DEFAULT_HEALTH.authCooldownMs, maxCooldownMs),
    maxRetryAfterMs: h.max_retry_after_ms ?? DEFAULT_HEALTH.maxRetryAfterMs,
  };
  for (const [field, value] of [['cooldown_ms', health.cooldownMs], ['auth_cooldown_ms', health.authCooldownMs]] as const) {
    if (value > maxCooldownMs) throw new ConfigError(`health.${field}: ${value} is longer than health.max_cooldown_ms (${maxCooldownMs})`);
  }

  const holdTtlMs = intEnv(env, 'SWITCHYARD_HOLD_TTL_MS', file.holds?.ttl_ms ?? DEFAULT_HOLD_TTL_MS);
  if (holdTtlMs < 1000) throw new ConfigError(`SWITCHYARD_HOLD_TTL_MS: ${holdTtlMs} is shorter than 1000 ms`);

  const billingMode = env.SWITCHYARD_BILLING_MODE || file.billing?.mode || 'prepaid';
  if (billingMode !== 'prepaid' && billingMode !== 'metered') {
    throw new ConfigError(`SWITCHYARD_BILLING_MODE: expected prepaid or metered, got "${billingMode}"`);
  }

  const port = intEnv(env, 'PORT', 8080);
  if (port > 65535) throw new ConfigError(`PORT: ${port} is not a TCP port`);
  const admin = persistentSecret(env, 'SWITCHYARD_ADMIN_TOKEN', resolve(dataDir, 'admin-token'));
  const secret = persistentSecret(env, 'SWITCHYARD_SECRET', resolve(dataDir, 'secret'));
  const databaseUrl = env.DATABASE_URL ?? `sqlite:${resolve(dataDir, 'switchyard.db')}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL: expected sqlite:<path> or postgres://…, got "${databaseUrl.replace(/\/\/[^@]*@/, '//…@')}"`);
  }

  const host = env.HOST ?? '127.0.0.1';
  const redisPrefix = env.SWITCHYARD_REDIS_PREFIX || 'sy:';
  const accounts = accountsConfig(file.accounts ?? {}, env, { cwd, dataDir, host, port, redisPrefix });

  return Object.freeze({
    host,
    port,
    dataDir,
    databaseUrl,
    redisUrl: env.REDIS_URL || undefined,
    redisPrefix,
    adminToken: admin.value,
    adminTokenSource: admin.source,
    secret: secret.value,
    metricsToken: env.SWITCHYARD_METRICS_TOKEN || undefined,
    bodyLimitBytes: intEnv(env, 'SWITCHYARD_BODY_LIMIT_BYTES', 20 * 1024 * 1024),
    holdTtlMs,
    billingMode,
    holdSweep: Object.freeze({
      intervalMs: file.holds?.sweep_interval_ms ?? DEFAULT_HOLD_SWEEP.intervalMs,
      batch: file.holds?.sweep_batch ?? DEFAULT_HOLD_SWEEP.batch,
    }),
    logLevel: env.LOG_LEVEL ?? 'info',
    configPath,
    providers: Object.freeze(providers),
    models: Object.freeze(models),
    health: Object.freeze(health),
    routing: Object.freeze({ maxAttempts: file.routing?.max_attempts ?? 3, deadlineMs: file.routing?.deadline_ms ?? 120_000 }),
    limits: Object.freeze({
      account: Object.freeze({
        rpm: file.limits?.account?.rpm ?? null,
        tpm: file.limits?.account?.tpm ?? null,
        concurrency: file.limits?.account?.concurrency ?? null,
      }),
      concurrencyLeaseMs: file.limits?.concurrency_lease_ms ?? 60_000,
    }),
    accounts,
    server: serverConfig(file.server ?? {}, env, file.accounts?.trust_proxy),
    database: databaseConfig(file.database ?? {}, env),
  });
}

const HOUR_MS = 3_600_000;

/** The public URL's host when it is a domain name; a placeholder for an IP address or a bare host name. */
function mailDomain(hostname: string): string {
  return hostname.includes('.') && isIP(hostname.replace(/^\[|\]$/g, '')) === 0 ? hostname : 'localhost.localdomain';
}

/** The `accounts:` section; each setting's environment variable wins over the file. */
function accountsConfig(
  file: NonNullable<FileConfig['accounts']>,
  env: Env,
  at: { cwd: string; dataDir: string; host: string; port: number; redisPrefix: string },
): Readonly<AccountsConfig> {
  const hostForUrl = at.host === '0.0.0.0' || at.host === '::' ? '127.0.0.1' : at.host.includes(':') ? `[${at.host}]` : at.host;
  const publicUrl = env.SWITCHYARD_PUBLIC_URL || file.public_url || `http://${hostForUrl}:${at.port}`;
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(publicUrl);
  } catch {
    throw new ConfigError(`SWITCHYARD_PUBLIC_URL: not a URL: "${publicUrl}"`);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') throw new ConfigError('SWITCHYARD_PUBLIC_URL: expected an http(s) URL');
  const smtpUrl = env.SMTP_URL || file.smtp_url || undefined;
  if (smtpUrl !== undefined && !/^smtps?:\/\//.test(smtpUrl)) throw new ConfigError('SMTP_URL: expected smtp://… or smtps://…');
  const outbox = env.SWITCHYARD_OUTBOX_DIR || file.outbox_dir;
  const t = file.throttle ?? {};
  return Object.freeze({
    publicUrl: publicUrl.replace(/\/+$/, ''),
    smtpUrl,
    mailFrom: env.MAIL_FROM || file.mail_from || `Switchyard <no-reply@${mailDomain(parsedUrl.hostname)}>`,
    outboxDir: outbox ? resolve(at.cwd, outbox) : resolve(at.dataDir, 'outbox'),
    mailTimeoutMs: file.mail_timeout_ms ?? 20_000,
    notificationMailIntervalMs: file.notification_mail_interval_ms ?? 15_000,
    sessionTtlMs: (file.session_ttl_hours ?? 30 * 24) * HOUR_MS,
    sessionIdleMs: (file.session_idle_hours ?? 7 * 24) * HOUR_MS,
    verifyTokenTtlMs: 48 * HOUR_MS,
    resetTokenTtlMs: HOUR_MS,
    throttle: Object.freeze({
      loginFailuresPerAccount: t.login_failures_per_account ?? 10,
      loginAttemptsPerIp: t.login_attempts_per_ip ?? 100,
      resetRequestsPerAccount: t.reset_requests_per_account ?? 3,
      resetRequestsPerIp: t.reset_requests_per_ip ?? 20,
      signupsPerIp: t.signups_per_ip ?? 20,
      // Under the gateway's prefix like every other key: two gateways on one Redis never share counters.
      redisPrefix: `${at.redisPrefix}${t.redis_prefix ?? 'auth:'}`,
    }),
  });
}
