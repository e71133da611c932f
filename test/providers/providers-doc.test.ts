// docs/providers.md is generated from the registry (scripts/providers-doc.ts), never maintained by hand:
// this fails when the committed page differs from what the registry produces now.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROVIDERS_DOC, renderProvidersDoc } from '../../scripts/providers-doc.ts';
import { knownProviderTypes } from '../../src/providers/index.ts';

describe('docs/providers.md', () => {
  const generated = renderProvidersDoc();

  it('lists every registered provider type in the table', () => {
    for (const type of knownProviderTypes()) expect(generated).toContain(`| \`${type}\` |`);
  });

  it('is up to date with the registry (regenerate with `npm run docs:providers`)', () => {
    expect(readFileSync(PROVIDERS_DOC, 'utf8'), 'docs/providers.md is stale: run `npm run docs:providers`').toBe(generated);
  });
});
