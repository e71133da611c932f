// The `server:` config section: safe defaults, the file, environment overrides, and bad values named.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { trustProxy } from '../../src/http/edge/index.ts';

const load = (env: Record<string, string> = {}, yamlText = '') => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-server-config-'));
  return loadConfig({ env: { SWITCHYARD_DATA_DIR: dir, ...env }, cwd: dir, yamlText });
};

describe('server config', () => {
  it('has bounded defaults: no timeout is "never", no proxy trusted, a connection cap', () => {
    expect(load().server).toEqual({
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 300_000,
      bodyIdleTimeoutMs: 20_000,
      bodyMinBytesPerSecond: 1024,
      bodyRateGraceMs: 10_000,
      keepAliveTimeoutMs: 65_000,
      streamStallTimeoutMs: 60_000,
      maxConnectionsPerIp: 1024,
      trustedProxies: 0,
      maxJsonDepth: 128,
      maxUrlBytes: 8192,
    });
  });

  it('reads the file and lets each environment variable win', () => {
    const yaml = 'server:\n  headers_timeout_ms: 5000\n  body_idle_timeout_ms: 7000\n  trusted_proxies: [10.0.0.0/8, "::1"]\n  max_json_depth: 64\n';
    expect(load({}, yaml).server).toMatchObject({ headersTimeoutMs: 5000, bodyIdleTimeoutMs: 7000, trustedProxies: ['10.0.0.0/8', '::1'], maxJsonDepth: 64 });
    const env = {
      SWITCHYARD_HEADERS_TIMEOUT_MS: '3000',
      SWITCHYARD_REQUEST_TIMEOUT_MS: '60000',
      SWITCHYARD_BODY_MIN_BYTES_PER_SECOND: '0',
      SWITCHYARD_KEEP_ALIVE_TIMEOUT_MS: '75000',
      SWITCHYARD_MAX_CONNECTIONS_PER_IP: '0',
      SWITCHYARD_TRUSTED_PROXIES: '2',
      SWITCHYARD_MAX_URL_BYTES: '4096',
    };
    expect(load(env, yaml).server).toMatchObject({
      headersTimeoutMs: 3000, requestTimeoutMs: 60_000, bodyMinBytesPerSecond: 0, keepAliveTimeoutMs: 75_000, maxConnectionsPerIp: 0, trustedProxies: 2, maxUrlBytes: 4096,
    });
  });

  it('turns the connection cap off behind a proxy unless it is set', () => {
    expect(load({ SWITCHYARD_TRUSTED_PROXIES: '10.0.0.0/8,192.168.1.5' }).server).toMatchObject({ trustedProxies: ['10.0.0.0/8', '192.168.1.5'], maxConnectionsPerIp: 0 });
    expect(load({ SWITCHYARD_TRUSTED_PROXIES: '1', SWITCHYARD_MAX_CONNECTIONS_PER_IP: '5000' }).server.maxConnectionsPerIp).toBe(5000);
  });

  it('keeps SWITCHYARD_TRUST_PROXY and accounts.trust_proxy as one hop; the new setting wins', () => {
    expect(load({ SWITCHYARD_TRUST_PROXY: 'true' }).server.trustedProxies).toBe(1);
    expect(load({ SWITCHYARD_TRUST_PROXY: '0' }, 'accounts: { trust_proxy: true }').server.trustedProxies).toBe(0);
    expect(load({}, 'accounts: { trust_proxy: true }').server.trustedProxies).toBe(1);
    expect(load({ SWITCHYARD_TRUST_PROXY: 'true' }, 'server: { trusted_proxies: "10.0.0.0/8" }').server.trustedProxies).toEqual(['10.0.0.0/8']);
  });

  it('refuses bad values, naming the setting', () => {
    expect(() => load({ SWITCHYARD_TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(/SWITCHYARD_TRUSTED_PROXIES.*10\.0\.0\.0\/33/);
    expect(() => load({}, 'server: { trusted_proxies: [proxy.internal] }')).toThrow(/server\.trusted_proxies/);
    expect(() => load({ SWITCHYARD_TRUSTED_PROXIES: '99' })).toThrow(/SWITCHYARD_TRUSTED_PROXIES/);
    expect(() => load({ SWITCHYARD_BODY_IDLE_TIMEOUT_MS: '0' })).toThrow(/SWITCHYARD_BODY_IDLE_TIMEOUT_MS/);
    expect(() => load({ SWITCHYARD_MAX_JSON_DEPTH: 'deep' })).toThrow(/SWITCHYARD_MAX_JSON_DEPTH/);
    expect(() => load({}, 'server: { keep_alive_timeout_ms: -1 }')).toThrow(/server\.keep_alive_timeout_ms/);
    expect(() => load({}, 'server: { timeout: 1 }')).toThrow(ConfigError);
    expect(() => load({ SWITCHYARD_HEADERS_TIMEOUT_MS: '90000', SWITCHYARD_REQUEST_TIMEOUT_MS: '60000' })).toThrow(/headers_timeout_ms/);
    expect(() => load({ SWITCHYARD_TRUST_PROXY: 'yes please' })).toThrow(/SWITCHYARD_TRUST_PROXY/);
  });

  it('gives Fastify a hop-count function (never `true`, never a bare number) or the list', () => {
    expect(trustProxy(0)).toBe(false);
    const twoHops = trustProxy(2);
    expect(typeof twoHops).toBe('function');
    if (typeof twoHops === 'function') expect([0, 1, 2].map((hop) => twoHops('203.0.113.1', hop))).toEqual([true, true, false]);
    expect(trustProxy(['10.0.0.0/8'])).toEqual(['10.0.0.0/8']);
  });
});
