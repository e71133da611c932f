// The shipped example config is valid as written.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.ts';
import { resolveChannels } from '../src/routing/channels.ts';

describe('switchyard.example.yaml', () => {
  it('loads and resolves every channel', () => {
    const yamlText = readFileSync(new URL('../switchyard.example.yaml', import.meta.url), 'utf8');
    const config = loadConfig({ env: { OPENAI_API_KEY: 'sk-x', SWITCHYARD_DATA_DIR: mkdtempSync(join(tmpdir(), 'sy-ex-')) }, yamlText });
    expect(config.models.map((m) => m.id)).toEqual(['gpt-4o-mini', 'llama-3.1-8b', 'text-embedding-3-small']);
    expect(resolveChannels(config).get('llama-3.1-8b')?.[0]?.upstreamModel).toBe('meta-llama/Llama-3.1-8B-Instruct');
  });
});
