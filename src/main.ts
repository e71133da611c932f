// The CLI and the only place that starts things: `switchyard serve | migrate | admin …`.
import { chmodSync, existsSync } from 'node:fs';
import { Command } from 'commander';
import { loadConfig, ConfigError, type Config } from './config/index.ts';
import { createGateway } from './gateway.ts';
import { registerAdminCommands } from './admin-cli.ts';
import { openStore } from './storage/index.ts';

/** A config error (also one found against the database at start-up, e.g. an unscheduled price change) exits 2. */
function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`switchyard: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

function config(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (error) {
    return exitOnConfigError(error);
  }
}

async function serve(): Promise<void> {
  const cfg = config();
  // The data directory holds the database, the secrets and the mail outbox: the gateway's alone (an install
  // made before this was enforced is tightened here; new directories and files are created private).
  if (existsSync(cfg.dataDir)) chmodSync(cfg.dataDir, 0o700);
  const gateway = await createGateway(cfg).catch(exitOnConfigError);
  await gateway.app.listen({ host: cfg.host, port: cfg.port });
  const base = `http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${cfg.port}`;
  const firstModel = cfg.models.find((m) => m.kind === 'chat')?.id ?? 'MODEL';
  process.stdout.write(
    [
      `Switchyard listening on ${base}  (database: ${cfg.databaseUrl.startsWith('sqlite:') ? cfg.databaseUrl : 'postgres'})`,
      `  config: ${cfg.configPath ?? 'none (no switchyard.yaml: no models yet; see README)'}; ${cfg.models.length} model(s), ${cfg.providers.length} provider(s)`,
      `  admin token: ${cfg.adminTokenSource}`,
      `  console API: ${cfg.accounts.publicUrl}/console/v1 (OpenAPI: /console/v1/openapi.json); mail: ${cfg.accounts.smtpUrl ? 'SMTP' : `no SMTP_URL, written to ${cfg.accounts.outboxDir}`}`,
      `  create a user and a key:  npx switchyard admin users create you@example.com  →  npx switchyard admin keys create <user id>`,
      `  try it:  curl ${base}/v1/chat/completions -H "Authorization: Bearer $SWITCHYARD_KEY" -H 'content-type: application/json' -d '{"model":"${firstModel}","messages":[{"role":"user","content":"Hello"}]}'`,
      '',
    ].join('\n'),
  );
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    process.stdout.write(`\n${signal}: closing…\n`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

const program = new Command('switchyard').description('Switchyard AI API gateway');
program.command('serve', { isDefault: true }).description('run the gateway').action(serve);
program
  .command('migrate')
  .description('create or update the database schema')
  .action(async () => {
    const store = await openStore(config().databaseUrl);
    await store.migrate();
    await store.close();
    process.stdout.write('database is up to date\n');
  });
registerAdminCommands(program, config);

await program.parseAsync(process.argv);
