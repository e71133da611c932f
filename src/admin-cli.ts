// `switchyard admin …`: a thin client of the running gateway's /admin/v1 API (one implementation of
// every admin operation: the HTTP routes). URL and token come from --url/--token or the gateway's config.
import type { Command } from 'commander';
import { request } from 'undici';
import type { Config } from './config/index.ts';
import { formatCredits, parseCredits } from './domain/money.ts';

interface Target {
  url: string;
  token: string;
}

async function call(target: Target, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<void> {
  const res = await request(`${target.url.replace(/\/+$/, '')}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = await res.body.text();
  let printed = text;
  try {
    printed = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: print as is
  }
  (res.statusCode < 400 ? process.stdout : process.stderr).write(printed + '\n');
  if (res.statusCode >= 400) process.exitCode = 1;
}

interface VerifyPage {
  ok: boolean;
  checked_users: number;
  users_with_drift: number;
  users_with_hold_mismatch: number;
  totals: Record<string, string | number>;
  data: unknown[];
  has_more: boolean;
  next_after: string | null;
}

/** Walks every page of GET /ledger/verify and prints one report: totals over all users and every user that disagrees. */
async function verifyLedger(target: Target, pageSize: string): Promise<void> {
  const report = { ok: true, checked_users: 0, users_with_drift: 0, users_with_hold_mismatch: 0, totals: {} as Record<string, string | number>, data: [] as unknown[] };
  const sums = new Map<string, bigint>();
  let after: string | null = null;
  do {
    const query: string = `limit=${encodeURIComponent(pageSize)}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const res = await request(`${target.url.replace(/\/+$/, '')}/admin/v1/ledger/verify?${query}`, {
      headers: { authorization: `Bearer ${target.token}` },
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) {
      process.stderr.write(text + '\n');
      process.exitCode = 1;
      return;
    }
    const page = JSON.parse(text) as VerifyPage;
    report.ok &&= page.ok;
    report.checked_users += page.checked_users;
    report.users_with_drift += page.users_with_drift;
    report.users_with_hold_mismatch += page.users_with_hold_mismatch;
    report.data.push(...page.data);
    for (const [name, value] of Object.entries(page.totals)) {
      const amount = typeof value === 'number' ? BigInt(value) : (parseCredits(value) ?? 0n);
      sums.set(name, (sums.get(name) ?? 0n) + amount);
    }
    after = page.has_more ? page.next_after : null;
  } while (after);
  for (const [name, value] of sums) report.totals[name] = name.endsWith('_credits') ? formatCredits(value) : Number(value);
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  if (!report.ok) process.exitCode = 1;
}

export function registerAdminCommands(program: Command, config: () => Readonly<Config>): void {
  const admin = program
    .command('admin')
    .description('administer a running gateway over its admin API')
    .option('--url <url>', 'gateway base URL (default: http://$HOST:$PORT)')
    .option('--token <token>', 'admin token (default: $SWITCHYARD_ADMIN_TOKEN or ./data/admin-token)');
  const target = (): Target => {
    const opts = admin.opts<{ url?: string; token?: string }>();
    if (opts.url && opts.token) return { url: opts.url, token: opts.token };
    const cfg = config();
    return { url: opts.url ?? `http://${cfg.host}:${cfg.port}`, token: opts.token ?? cfg.adminToken };
  };

  const query = (params: Record<string, string | undefined>): string =>
    new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  const json = (text: string): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`not valid JSON: ${text}`);
    }
  };

  const users = admin.command('users').description('users');
  users.command('create <email>').action((email: string) => call(target(), 'POST', '/users', { email }));
  users.command('list').option('--limit <n>', 'page size', '100').option('--offset <n>', 'skip', '0')
    .option('--email <text>', 'email contains').option('--status <status>', 'active | suspended').option('--role <role>', 'user | admin')
    .action((o: { limit: string; offset: string; email?: string; status?: string; role?: string }) => call(target(), 'GET', `/users?${query(o)}`));
  users.command('suspend <userId>').description("stop every key of the user at once").action((userId: string) =>
    call(target(), 'PATCH', `/users/${encodeURIComponent(userId)}`, { status: 'suspended' }));
  users.command('unsuspend <userId>').action((userId: string) => call(target(), 'PATCH', `/users/${encodeURIComponent(userId)}`, { status: 'active' }));
  users.command('role <userId> <role>').description('user | admin').action((userId: string, role: string) =>
    call(target(), 'PATCH', `/users/${encodeURIComponent(userId)}`, { role }));
  users.command('limits <userId>')
    .description("the account's rate limits over the config default (limits.account): a number overrides, null clears; no option: show them")
    .option('--rpm <n|null>', 'requests per minute').option('--tpm <n|null>', 'tokens per minute').option('--concurrency <n|null>', 'requests in flight')
    .option('--clear', 'clear every override (back to the config default)')
    .action((userId: string, o: { rpm?: string; tpm?: string; concurrency?: string; clear?: boolean }) => {
      const path = `/users/${encodeURIComponent(userId)}`;
      if (o.clear) return call(target(), 'PATCH', path, { rate_limits: null });
      // "null" clears; anything not a number goes as typed, so the API's 400 names the field.
      const value = (text: string): number | string | null => (text === 'null' ? null : text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text);
      const limits = Object.fromEntries((['rpm', 'tpm', 'concurrency'] as const).filter((f) => o[f] !== undefined).map((f) => [f, value(o[f] ?? '')]));
      return Object.keys(limits).length === 0 ? call(target(), 'GET', path) : call(target(), 'PATCH', path, { rate_limits: limits });
    });

  // Credits go as typed: the API reads them (exact decimal, within ±10^12 credits) and its 400 names the field.
  admin.command('credits <userId> <credits>').description('grant credits (negative: adjustment)').requiredOption('--reason <text>', 'why (kept in the ledger and the audit log)')
    .action((userId: string, credits: string, o: { reason: string }) =>
      call(target(), 'POST', `/users/${encodeURIComponent(userId)}/credits`, { credits, reason: o.reason }));

  const keys = admin.command('keys').description('API keys');
  keys.command('create <userId>').option('--name <name>', 'key name', 'default').option('--scopes <json>', 'scopes, e.g. \'{"rate_limits":{"rpm":60}}\'')
    .action((userId: string, o: { name: string; scopes?: string }) =>
      call(target(), 'POST', `/users/${encodeURIComponent(userId)}/keys`, { ...(o.scopes ? (json(o.scopes) as object) : {}), name: o.name }));
  keys.command('show <keyId>').description('a key with its scopes and current spend').action((keyId: string) => call(target(), 'GET', `/keys/${encodeURIComponent(keyId)}`));
  keys.command('scopes <keyId> <json>').description('change scopes: allowed_models, expires_at, spend_caps, rate_limits (null clears)')
    .action((keyId: string, text: string) => call(target(), 'PATCH', `/keys/${encodeURIComponent(keyId)}`, json(text)));
  keys.command('list <userId>').action((userId: string) => call(target(), 'GET', `/users/${encodeURIComponent(userId)}/keys`));
  keys.command('revoke <keyId>').action((keyId: string) => call(target(), 'DELETE', `/keys/${encodeURIComponent(keyId)}`));

  admin.command('balance <userId>').action((userId: string) => call(target(), 'GET', `/users/${encodeURIComponent(userId)}/balance`));
  admin.command('ledger <userId>').description('ledger entries, newest first').option('--limit <n>', 'entries', '100')
    .option('--before <entryId>', 'entries older than this one (the last id of the previous page)')
    .action((userId: string, o: { limit: string; before?: string }) => call(target(), 'GET', `/users/${encodeURIComponent(userId)}/ledger?${query(o)}`));
  admin.command('verify-ledger').description('check every balance against its ledger and every open hold against its entries')
    .option('--page <n>', 'users per request', '1000')
    .action((o: { page: string }) => verifyLedger(target(), o.page));
  const prices = admin.command('prices').description('model price versions');
  prices.command('list <model>').description("a model's price versions, oldest first")
    .action((model: string) => call(target(), 'GET', `/models/${encodeURIComponent(model)}/prices`));
  prices.command('schedule <model> <effectiveFrom> <prices>')
    .description('schedule a price from a date (14+ days ahead) or instant; <prices> is JSON with the config\'s USD fields, e.g. \'{"input_per_mtok_usd":0.2,"output_per_mtok_usd":0.8}\'')
    .option('--force', 'allow less than 14 days\' notice (needs --reason)').option('--reason <text>')
    .action((model: string, effectiveFrom: string, json: string, o: { force?: boolean; reason?: string }) => {
      let fields: unknown;
      try {
        fields = JSON.parse(json);
      } catch {
        process.stderr.write('prices: <prices> must be a JSON object, e.g. \'{"input_per_mtok_usd":0.2}\'\n');
        process.exitCode = 1;
        return;
      }
      const body = { ...(fields as object), effective_from: effectiveFrom, ...(o.force ? { force: true } : {}), ...(o.reason ? { reason: o.reason } : {}) };
      return call(target(), 'POST', `/models/${encodeURIComponent(model)}/prices`, body);
    });
  prices.command('cancel <model> <version>').description('cancel a scheduled price version').option('--reason <text>')
    .action((model: string, version: string, o: { reason?: string }) =>
      call(target(), 'DELETE', `/models/${encodeURIComponent(model)}/prices/${encodeURIComponent(version)}`, o.reason ? { reason: o.reason } : {}));
  admin.command('audit').description('the admin audit log, newest first').option('--action <action>').option('--target <id>').option('--actor <actor>')
    .option('--limit <n>', 'entries', '100')
    .action((o: { action?: string; target?: string; actor?: string; limit: string }) => call(target(), 'GET', `/audit?${query(o)}`));
  admin.command('usage').option('--user <userId>').option('--limit <n>', 'events', '100')
    .action((o: { user?: string; limit: string }) =>
      call(target(), 'GET', `/usage?limit=${encodeURIComponent(o.limit)}${o.user ? `&user=${encodeURIComponent(o.user)}` : ''}`));
}
