// The `database:` section (src/storage): connect, statement and probe bounds for PostgreSQL, the busy timeout for
// SQLite. Each setting's environment variable wins over the file.
import { databaseSchema, type FileConfig } from './schema.ts';
import { integerSetting } from './settings.ts';

export interface DatabaseConfig {
  /** PostgreSQL: opening a connection, or waiting for a free pooled one. */
  connectTimeoutMs: number;
  /** PostgreSQL statement_timeout (the client's read timeout is 1 s longer). */
  statementTimeoutMs: number;
  /** PostgreSQL: a reachability probe's bound; a call stalled this long triggers one (storage/availability.ts). */
  probeTimeoutMs: number;
  /** SQLite: how long a write waits for another process's lock (past it: 503). */
  busyTimeoutMs: number;
}

export const DEFAULT_DATABASE: Readonly<DatabaseConfig> = Object.freeze({
  connectTimeoutMs: 2_000,
  statementTimeoutMs: 10_000,
  // A black-holed database is answered with 503 after about twice this (a stall, then a failed probe).
  probeTimeoutMs: 1_000,
  busyTimeoutMs: 5_000,
});

type Env = Readonly<Record<string, string | undefined>>;
type Section = NonNullable<FileConfig['database']>;

export function databaseConfig(file: Section, env: Env): Readonly<DatabaseConfig> {
  const d = DEFAULT_DATABASE;
  const setting = (name: string, key: keyof Section): number | undefined => integerSetting(env, name, file[key], databaseSchema.shape[key]);
  return Object.freeze({
    connectTimeoutMs: setting('SWITCHYARD_DB_CONNECT_TIMEOUT_MS', 'connect_timeout_ms') ?? d.connectTimeoutMs,
    statementTimeoutMs: setting('SWITCHYARD_DB_STATEMENT_TIMEOUT_MS', 'statement_timeout_ms') ?? d.statementTimeoutMs,
    probeTimeoutMs: setting('SWITCHYARD_DB_PROBE_TIMEOUT_MS', 'probe_timeout_ms') ?? d.probeTimeoutMs,
    busyTimeoutMs: setting('SWITCHYARD_DB_BUSY_TIMEOUT_MS', 'busy_timeout_ms') ?? d.busyTimeoutMs,
  });
}
