import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyEdits, materialize, withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'raftsim-mutate-'));
  mkdirSync(join(root, 'lib'));
  writeFileSync(join(root, 'lib', 'quorum.ts'), 'export const quorum = (n: number): number => Math.floor(n / 2) + 1;\n');
  writeFileSync(join(root, 'lib', 'uses.ts'), "import { quorum } from './quorum.ts';\nexport const five = quorum(5);\n");
  return root;
}

const offByOne: Mutant = {
  name: 'quorum-off-by-one',
  description: 'a quorum one smaller than a majority',
  edits: [{ file: 'lib/quorum.ts', find: 'Math.floor(n / 2) + 1', replace: 'Math.floor(n / 2)' }],
};

describe('mutant mechanism', () => {
  it('applies edits to a copy and imports the mutated module, leaving the original alone', async () => {
    const root = tree();
    const copy = materialize(offByOne, { root, dirs: ['lib'] });
    const mod = await copy.import<{ five: number }>('lib/uses.ts');
    expect(mod.five).toBe(2);
    expect(readFileSync(join(root, 'lib', 'quorum.ts'), 'utf8')).toContain('+ 1');
    const original = await import(join(root, 'lib', 'uses.ts'));
    expect(original.five).toBe(3);
    copy.remove();
  });

  it('refuses an edit that does not match exactly once', () => {
    const stale: Mutant = { ...offByOne, edits: [{ file: 'lib/quorum.ts', find: 'n / 3', replace: 'n' }] };
    expect(() => applyEdits(stale, 'lib/quorum.ts', 'n / 2')).toThrow(/matches 0 times/);
    expect(() => applyEdits(offByOne, 'lib/quorum.ts', 'Math.floor(n / 2) + 1; Math.floor(n / 2) + 1')).toThrow(
      /matches 2 times/,
    );
  });

  it('supports regular expressions and cleans up with withMutant', async () => {
    const root = tree();
    const regex: Mutant = { ...offByOne, edits: [{ file: 'lib/quorum.ts', find: /\+ 1;/, replace: '+ 2;' }] };
    const five = await withMutant(regex, 'lib/uses.ts', (m: { five: number }) => m.five, { root, dirs: ['lib'] });
    expect(five).toBe(4);
  });
});
