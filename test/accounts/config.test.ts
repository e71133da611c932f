// The `accounts:` config section and its environment variables (each variable wins over the file).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const dataDir = () => mkdtempSync(join(tmpdir(), 'switchyard-config-'));

describe('accounts config', () => {
  it('has offline defaults: links to the gateway itself, mail to ./data/outbox, no proxy trusted', () => {
    const dir = dataDir();
    const config = loadConfig({ env: { SWITCHYARD_DATA_DIR: dir, PORT: '9000' }, cwd: dir, yamlText: '' });
    expect(config.accounts).toMatchObject({
      publicUrl: 'http://127.0.0.1:9000',
      smtpUrl: undefined,
      mailFrom: 'Switchyard <no-reply@localhost.localdomain>',
      outboxDir: join(dir, 'outbox'),
      sessionTtlMs: 30 * 86_400_000,
      sessionIdleMs: 7 * 86_400_000,
      resetTokenTtlMs: 3_600_000,
      verifyTokenTtlMs: 48 * 3_600_000,
    });
    expect(config.server.trustedProxies).toBe(0);
    expect(config.accounts.throttle).toMatchObject({ loginFailuresPerAccount: 10, loginAttemptsPerIp: 100, redisPrefix: 'sy:auth:' });
  });

  it('reads the file and lets the environment win', () => {
    const dir = dataDir();
    const yamlText = `accounts:
  public_url: https://ai.example.com/
  trust_proxy: true
  smtp_url: smtp://mailer:2525
  mail_from: AI <ai@example.com>
  outbox_dir: mails
  session_ttl_hours: 12
  throttle: { login_failures_per_account: 4 }
`;
    const fromFile = loadConfig({ env: { SWITCHYARD_DATA_DIR: dir }, cwd: dir, yamlText });
    expect(fromFile.accounts).toMatchObject({
      publicUrl: 'https://ai.example.com', smtpUrl: 'smtp://mailer:2525', mailFrom: 'AI <ai@example.com>',
      outboxDir: join(dir, 'mails'), sessionTtlMs: 12 * 3_600_000,
    });
    expect(fromFile.accounts.throttle.loginFailuresPerAccount).toBe(4);
    expect(fromFile.server.trustedProxies).toBe(1); // the deprecated accounts.trust_proxy: true is one hop
    const fromEnv = loadConfig({
      env: { SWITCHYARD_DATA_DIR: dir, SWITCHYARD_PUBLIC_URL: 'https://other.example', SWITCHYARD_TRUST_PROXY: 'false', SMTP_URL: 'smtps://u:p@smtp.example:465', MAIL_FROM: 'x@example.com' },
      cwd: dir,
      yamlText,
    });
    expect(fromEnv.server.trustedProxies).toBe(0);
    expect(fromEnv.accounts).toMatchObject({ publicUrl: 'https://other.example', smtpUrl: 'smtps://u:p@smtp.example:465', mailFrom: 'x@example.com' });
  });

  it('refuses bad values, naming the field', () => {
    const dir = dataDir();
    const load = (env: Record<string, string>, yamlText = '') => () => loadConfig({ env: { SWITCHYARD_DATA_DIR: dir, ...env }, cwd: dir, yamlText });
    expect(load({ SWITCHYARD_TRUST_PROXY: 'yes please' })).toThrow(/SWITCHYARD_TRUST_PROXY/);
    expect(load({ SMTP_URL: 'http://mail' })).toThrow(/SMTP_URL/);
    expect(load({ SWITCHYARD_PUBLIC_URL: 'not a url' })).toThrow(ConfigError);
    expect(load({}, 'accounts: { smtp_url: "ftp://x" }')).toThrow(/accounts\.smtp_url/);
    expect(load({}, 'accounts: { throttle: { login_attempts_per_ip: 0 } }')).toThrow(/accounts\.throttle\.login_attempts_per_ip/);
    expect(load({}, 'accounts: { unknown: 1 }')).toThrow(/accounts/);
  });

  it('accepts the accounts block shown in the README', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /```yaml\n(accounts:\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const config = loadConfig({ env: { SWITCHYARD_DATA_DIR: dataDir() }, yamlText: block ?? '' });
    expect(config.accounts).toMatchObject({ publicUrl: 'https://ai.example.com', mailFrom: 'AI Gateway <ai@example.com>' });
    expect(config.server.trustedProxies).toBe(1);
  });
});
