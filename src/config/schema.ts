// The YAML file's schema (snake_case, as users write it). Validation errors name the offending field.
import { z } from 'zod';

const usd = z.union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?$/, 'a decimal USD amount')]);

const usdBySize = z.record(z.string().min(1), usd);

/** A model's prices in USD (converted exactly to micro-credits; docs/billing.md "Prices"). */
export const priceFields = {
  input_per_mtok_usd: usd.optional(),
  output_per_mtok_usd: usd.optional(),
  cached_input_per_mtok_usd: usd.optional(),
  cache_write_per_mtok_usd: usd.optional(),
  /** Unset: reasoning tokens cost what output tokens cost. */
  reasoning_per_mtok_usd: usd.optional(),
  /** A flat fee per billed request. */
  request_usd: usd.optional(),
  /** Per image: size → quality → USD, e.g. {"1024x1024": {low: 0.011, high: 0.167}}. */
  images: z.record(z.string().min(1), usdBySize).optional(),
  /** Per second of video: resolution → USD, e.g. {"720p": 0.1}. */
  video_per_second_usd: usdBySize.optional(),
  audio_input_per_minute_usd: usd.optional(),
  audio_output_per_minute_usd: usd.optional(),
};

export const priceSchema = z.strictObject(priceFields);

/** When a scheduled price starts: a date (UTC midnight) or an ISO 8601 instant with its offset. */
export const effectiveFromSchema = z.union([z.string().min(1), z.date()]);

/** A scheduled price change: the prices that apply from `effective_from` on. */
export const priceChangeSchema = z.strictObject({
  ...priceFields,
  effective_from: effectiveFromSchema,
  /** Less than 14 days' notice: only with force and a reason, recorded on the price version. */
  force: z.boolean().optional(),
  reason: z.string().min(1).max(500).optional(),
});

export type PriceFields = z.infer<typeof priceSchema>;

export const providerSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-"'),
  type: z.string().min(1),
  /** Optional when the type has a default (a hosted vendor); the channel resolver requires it otherwise. */
  base_url: z.url({ protocol: /^https?$/ }).optional(),
  api_key: z.string().optional(),
  /** Read by types that declare it (Azure OpenAI: a dated version, `v1` or `preview`). */
  api_version: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  timeouts: z
    .strictObject({
      connect_ms: z.number().int().positive().optional(),
      first_byte_ms: z.number().int().positive().optional(),
      idle_ms: z.number().int().positive().optional(),
      /** First-byte deadline from the channel's observed p95 (first_byte_ms stays the ceiling). */
      adaptive_first_byte: z.boolean().optional(),
    })
    .optional(),
});

export const channelSchema = z.strictObject({
  provider: z.string().min(1),
  upstream_model: z.string().min(1).optional(),
  priority: z.number().int().default(0),
  weight: z.number().int().positive().default(1),
});

export const modelSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/, 'a model id without spaces'),
  aliases: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/, 'a model id without spaces')).optional(),
  kind: z.enum(['chat', 'embeddings']).default('chat'),
  description: z.string().optional(),
  context_window: z.number().int().positive().optional(),
  max_output_tokens: z.number().int().positive().default(4096),
  /** Opt-in hedging: no byte from the first channel after the delay → the next channel starts too. */
  hedge: z.strictObject({ delay_ms: z.union([z.number().int().positive(), z.literal('adaptive')]) }).optional(),
  channels: z.array(channelSchema).min(1),
  price: priceSchema,
  price_changes: z.array(priceChangeSchema).optional(),
});

/** Channel health (routing/health.ts): when a channel's circuit breaker opens and for how long. */
export const healthSchema = z.strictObject({
  consecutive_failures: z.number().int().positive().optional(),
  error_rate: z.number().gt(0).max(1).optional(),
  min_requests: z.number().int().positive().optional(),
  window_ms: z.number().int().min(1000).optional(),
  cooldown_ms: z.number().int().positive().optional(),
  max_cooldown_ms: z.number().int().positive().optional(),
  auth_cooldown_ms: z.number().int().positive().optional(),
  max_retry_after_ms: z.number().int().nonnegative().optional(),
});

/** Failover inside one request (routing/dispatch.ts). */
export const routingSchema = z.strictObject({
  max_attempts: z.number().int().min(1).max(10).optional(),
  deadline_ms: z.number().int().positive().optional(),
});

/** Holds whose request died with its process (billing/sweeper.ts): when they expire, how often they are swept. */
export const holdsSchema = z.strictObject({
  ttl_ms: z.number().int().min(1000).optional(),
  sweep_interval_ms: z.number().int().min(100).optional(),
  sweep_batch: z.number().int().min(1).max(10_000).optional(),
});

/**
 * How requests are paid for (docs/billing.md "Billing modes"): prepaid (default) holds the worst case from the
 * balance before dispatch and settles on the outcome; metered records each request's usage and cost but moves
 * no credits (a self-hosted front door on one's own provider accounts: no balance, no 402).
 */
export const billingSchema = z.strictObject({
  mode: z.enum(['prepaid', 'metered']).optional(),
});

const perMinute = z.number().int().min(1).max(1_000_000_000);

/** Rate limits (limits/): every account's, by default; keys add their own in their scopes. */
export const limitsSchema = z.strictObject({
  account: z.strictObject({ rpm: perMinute.optional(), tpm: perMinute.optional(), concurrency: perMinute.optional() }).optional(),
  /** A concurrent-request slot not renewed for this long is freed (a crashed replica's). */
  concurrency_lease_ms: z.number().int().min(3_000).max(3_600_000).optional(),
});

/** Self-service accounts and the console API (src/accounts, src/http/routes/console). */
export const accountsSchema = z.strictObject({
  /** Where the gateway is reached from outside: the base of every link in a mail. */
  public_url: z.url({ protocol: /^https?$/ }).optional(),
  /** Deprecated: `true` is server.trusted_proxies: 1 (one proxy hop); server.trusted_proxies wins when set. */
  trust_proxy: z.boolean().optional(),
  /** smtp://user:pass@host:587 or smtps://…; unset: mails are written to outbox_dir. */
  smtp_url: z.url({ protocol: /^smtps?$/ }).optional(),
  mail_from: z.string().min(3).optional(),
  outbox_dir: z.string().min(1).optional(),
  /** Deadline of one mail delivery (connect, greeting and the whole SMTP exchange). */
  mail_timeout_ms: z.number().int().positive().optional(),
  /** How often each replica mails pending notifications (price changes). */
  notification_mail_interval_ms: z.number().int().min(100).optional(),
  session_ttl_hours: z.number().int().positive().optional(),
  session_idle_hours: z.number().int().positive().optional(),
  throttle: z
    .strictObject({
      /** Failed logins per account (any IP) in 15 minutes before the account's logins are refused for 15 minutes. */
      login_failures_per_account: z.number().int().positive().optional(),
      /** Login attempts per client IP in 15 minutes. */
      login_attempts_per_ip: z.number().int().positive().optional(),
      /** Password-reset mails per account per hour. */
      reset_requests_per_account: z.number().int().positive().optional(),
      /** Password-reset requests per client IP per hour. */
      reset_requests_per_ip: z.number().int().positive().optional(),
      /** Sign-ups per client IP per hour. */
      signups_per_ip: z.number().int().positive().optional(),
      /** Redis key prefix when REDIS_URL is set, after SWITCHYARD_REDIS_PREFIX (default `auth:`). */
      redis_prefix: z.string().min(1).optional(),
    })
    .optional(),
});

const ms = z.number().int().min(1).max(86_400_000);

/**
 * The HTTP edge (src/http/edge): how long a client may take to send a request, how many connections one
 * address may hold, which proxies are trusted for X-Forwarded-*, and input limits. Defaults in config/server.ts.
 */
export const serverSchema = z.strictObject({
  /** The request line and headers must arrive within this long of the connection (or of the previous response). */
  headers_timeout_ms: ms.optional(),
  /** The whole request, body included, must arrive within this long (the response is not bounded by it). */
  request_timeout_ms: ms.optional(),
  /** No byte of the body for this long: 408 and the connection is closed. */
  body_idle_timeout_ms: ms.optional(),
  /** After body_rate_grace_ms, the body's average rate must stay above this (0: no minimum). */
  body_min_bytes_per_second: z.number().int().min(0).max(1_000_000_000).optional(),
  body_rate_grace_ms: ms.optional(),
  /** A streamed answer whose client reads nothing for this long (its 1 MB buffer full) is closed and billed as delivered so far. */
  stream_stall_timeout_ms: ms.optional(),
  /** An idle keep-alive connection is closed after this long (keep it above a load balancer's idle timeout). */
  keep_alive_timeout_ms: ms.optional(),
  /** Concurrent connections per socket peer address (behind a proxy: per proxy); 0: no cap. */
  max_connections_per_ip: z.number().int().min(0).max(1_000_000).optional(),
  /** Trusted proxies: a hop count (0: none), or addresses/CIDR ranges as a list or a comma-separated string. */
  trusted_proxies: z.union([z.number().int().min(0).max(16), z.string(), z.array(z.string().min(1))]).optional(),
  /** JSON request bodies nested deeper than this answer 400. */
  max_json_depth: z.number().int().min(8).max(1000).optional(),
  /** A longer request target (path and query) answers 414. */
  max_url_bytes: z.number().int().min(256).max(65_536).optional(),
});

/** The gateway's database (src/storage): every call bounded, an unreachable database answers 503 (config/database.ts). */
export const databaseSchema = z.strictObject({
  /** Opening a PostgreSQL connection, or waiting for a free pooled one. */
  connect_timeout_ms: z.number().int().min(100).max(600_000).optional(),
  /** PostgreSQL statement_timeout (the client gives up 1 s later). */
  statement_timeout_ms: z.number().int().min(100).max(3_600_000).optional(),
  /** PostgreSQL reachability probe: its bound, and how long a call may stall before one runs (GET /readyz too). */
  probe_timeout_ms: z.number().int().min(100).max(60_000).optional(),
  /** SQLite: how long a write waits for another process's lock before answering 503. */
  busy_timeout_ms: z.number().int().min(0).max(600_000).optional(),
});

export const fileSchema = z.strictObject({
  providers: z.array(providerSchema).default([]),
  models: z.array(modelSchema).default([]),
  health: healthSchema.optional(),
  routing: routingSchema.optional(),
  holds: holdsSchema.optional(),
  billing: billingSchema.optional(),
  limits: limitsSchema.optional(),
  accounts: accountsSchema.optional(),
  server: serverSchema.optional(),
  database: databaseSchema.optional(),
});

export type FileConfig = z.infer<typeof fileSchema>;
