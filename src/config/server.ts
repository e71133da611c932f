// The `server:` section (the HTTP edge, src/http/edge): timeouts, the per-address connection cap, trusted
// proxies and input limits. Each setting's environment variable wins over the file.
import { isIP } from 'node:net';
import { ConfigError } from './errors.ts';
import { serverSchema, type FileConfig } from './schema.ts';
import { integerSetting } from './settings.ts';

/** A hop count (0: no proxy trusted) or the proxies' addresses / CIDR ranges (proxy-addr notation). */
export type TrustedProxies = number | readonly string[];

export interface ServerConfig {
  /** Request line and headers must arrive within this long. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this long; the response is not bounded by it. */
  requestTimeoutMs: number;
  /** No body byte for this long → 408, connection closed. */
  bodyIdleTimeoutMs: number;
  /** After bodyRateGraceMs the body's average rate must stay at or above this (0: no minimum). */
  bodyMinBytesPerSecond: number;
  bodyRateGraceMs: number;
  keepAliveTimeoutMs: number;
  /** A streamed answer whose client has read nothing for this long, with its buffer full, is closed. */
  streamStallTimeoutMs: number;
  /** Concurrent connections per socket peer address; 0: no cap. */
  maxConnectionsPerIp: number;
  trustedProxies: TrustedProxies;
  maxJsonDepth: number;
  maxUrlBytes: number;
}

export const DEFAULT_SERVER: Readonly<ServerConfig> = Object.freeze({
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  bodyIdleTimeoutMs: 20_000,
  bodyMinBytesPerSecond: 1024,
  bodyRateGraceMs: 10_000,
  // Above the 60 s idle timeout of common load balancers, so they never reuse a connection we just closed.
  keepAliveTimeoutMs: 65_000,
  streamStallTimeoutMs: 60_000,
  maxConnectionsPerIp: 1024,
  trustedProxies: 0,
  maxJsonDepth: 128,
  maxUrlBytes: 8192,
});

type Env = Readonly<Record<string, string | undefined>>;
type Section = NonNullable<FileConfig['server']>;
type NumericKey = { [K in keyof Section]-?: NonNullable<Section[K]> extends number ? K : never }[keyof Section];

/** A numeric `server:` setting: its environment variable (within the file field's bounds) wins over the file. */
function numberSetting(env: Env, name: string, file: Section, key: NumericKey): number | undefined {
  return integerSetting(env, name, file[key], serverSchema.shape[key]);
}

const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `10.0.0.0/8`, `192.168.1.5`, `::1/128`, or a proxy-addr name (loopback, linklocal, uniquelocal). */
function proxyEntry(entry: string, where: string): string {
  const value = entry.trim();
  if (NAMED_RANGES.has(value)) return value;
  const slash = value.lastIndexOf('/');
  const address = slash === -1 ? value : value.slice(0, slash);
  const family = isIP(address);
  const prefix = slash === -1 ? undefined : value.slice(slash + 1);
  const maxPrefix = family === 6 ? 128 : 32;
  if (family === 0 || (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > maxPrefix))) {
    throw new ConfigError(`${where}: "${value}" is not an IP address or CIDR range (e.g. 10.0.0.0/8, 192.168.1.5, loopback)`);
  }
  return value;
}

function parseTrustedProxies(value: number | string | readonly string[], where: string): TrustedProxies {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) {
    const hops = Number(value);
    if (hops > 16) throw new ConfigError(`${where}: ${hops} hops is more than 16`);
    return hops;
  }
  const entries = (typeof value === 'string' ? value.split(',') : value).map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 0) return 0;
  return Object.freeze(entries.map((e) => proxyEntry(e, where)));
}

/** SWITCHYARD_TRUST_PROXY / accounts.trust_proxy, kept working: `true` means one proxy hop. */
function legacyTrustProxy(env: Env, fileValue: boolean | undefined): TrustedProxies | undefined {
  const raw = env.SWITCHYARD_TRUST_PROXY;
  if (raw !== undefined && raw !== '') {
    if (!['true', 'false', '1', '0'].includes(raw)) throw new ConfigError(`SWITCHYARD_TRUST_PROXY: expected true or false, got "${raw}"`);
    return raw === 'true' || raw === '1' ? 1 : 0;
  }
  return fileValue === undefined ? undefined : fileValue ? 1 : 0;
}

export function serverConfig(file: Section, env: Env, legacyTrust: boolean | undefined): Readonly<ServerConfig> {
  const d = DEFAULT_SERVER;
  const rawProxies = env.SWITCHYARD_TRUSTED_PROXIES;
  const trustedProxies =
    rawProxies !== undefined && rawProxies !== ''
      ? parseTrustedProxies(rawProxies, 'SWITCHYARD_TRUSTED_PROXIES')
      : file.trusted_proxies !== undefined
        ? parseTrustedProxies(file.trusted_proxies, 'server.trusted_proxies')
        : (legacyTrustProxy(env, legacyTrust) ?? d.trustedProxies);
  const behindProxy = trustedProxies !== 0;
  const config: ServerConfig = {
    headersTimeoutMs: numberSetting(env, 'SWITCHYARD_HEADERS_TIMEOUT_MS', file, 'headers_timeout_ms') ?? d.headersTimeoutMs,
    requestTimeoutMs: numberSetting(env, 'SWITCHYARD_REQUEST_TIMEOUT_MS', file, 'request_timeout_ms') ?? d.requestTimeoutMs,
    bodyIdleTimeoutMs: numberSetting(env, 'SWITCHYARD_BODY_IDLE_TIMEOUT_MS', file, 'body_idle_timeout_ms') ?? d.bodyIdleTimeoutMs,
    bodyMinBytesPerSecond: numberSetting(env, 'SWITCHYARD_BODY_MIN_BYTES_PER_SECOND', file, 'body_min_bytes_per_second') ?? d.bodyMinBytesPerSecond,
    bodyRateGraceMs: numberSetting(env, 'SWITCHYARD_BODY_RATE_GRACE_MS', file, 'body_rate_grace_ms') ?? d.bodyRateGraceMs,
    keepAliveTimeoutMs: numberSetting(env, 'SWITCHYARD_KEEP_ALIVE_TIMEOUT_MS', file, 'keep_alive_timeout_ms') ?? d.keepAliveTimeoutMs,
    streamStallTimeoutMs: numberSetting(env, 'SWITCHYARD_STREAM_STALL_TIMEOUT_MS', file, 'stream_stall_timeout_ms') ?? d.streamStallTimeoutMs,
    // Behind a proxy every connection comes from the proxy: no cap unless the operator sets one.
    maxConnectionsPerIp: numberSetting(env, 'SWITCHYARD_MAX_CONNECTIONS_PER_IP', file, 'max_connections_per_ip') ?? (behindProxy ? 0 : d.maxConnectionsPerIp),
    trustedProxies,
    maxJsonDepth: numberSetting(env, 'SWITCHYARD_MAX_JSON_DEPTH', file, 'max_json_depth') ?? d.maxJsonDepth,
    maxUrlBytes: numberSetting(env, 'SWITCHYARD_MAX_URL_BYTES', file, 'max_url_bytes') ?? d.maxUrlBytes,
  };
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new ConfigError(`server.headers_timeout_ms (${config.headersTimeoutMs}) is longer than server.request_timeout_ms (${config.requestTimeoutMs})`);
  }
  return Object.freeze(config);
}
