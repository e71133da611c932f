// The data directory and everything the gateway writes there are private to its user: directories 0700,
// the SQLite database (with its -wal and -shm files) and the secrets 0600, an existing database tightened.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { openStore } from '../src/storage/index.ts';

const mode = (path: string): number => statSync(path).mode & 0o777;
const dirs: string[] = [];
const scratch = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-modes-'));
  dirs.push(dir);
  return dir;
};

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('file modes', () => {
  it('creates the data directory 0700 and its secrets 0600', () => {
    const dataDir = join(scratch(), 'data');
    loadConfig({ env: { SWITCHYARD_DATA_DIR: dataDir }, cwd: dataDir, yamlText: '' });
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(join(dataDir, 'admin-token'))).toBe(0o600);
    expect(mode(join(dataDir, 'secret'))).toBe(0o600);
  });

  it('creates the SQLite database, its WAL and shared-memory files 0600 in a 0700 directory', async () => {
    const dir = join(scratch(), 'nested', 'db');
    const file = join(dir, 'switchyard.db');
    const store = await openStore(`sqlite:${file}`);
    try {
      await store.migrate();
      await store.users.create('modes@example.com');
      expect(mode(dir)).toBe(0o700);
      for (const path of [file, `${file}-wal`, `${file}-shm`]) expect([path, mode(path)]).toEqual([path, 0o600]);
    } finally {
      await store.close();
    }
  });

  it('tightens a database file that an older install left world-readable', async () => {
    const file = join(scratch(), 'old.db');
    writeFileSync(file, '', { mode: 0o644 });
    expect(mode(file)).toBe(0o644);
    const store = await openStore(`sqlite:${file}`);
    await store.close();
    expect(mode(file)).toBe(0o600);
  });
});
