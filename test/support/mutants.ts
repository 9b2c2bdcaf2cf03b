// The one shape of a "this test catches that mutant" table: each entry is a deliberately broken copy of one
// module and the check that must notice it, run against the mutated copy.
import { expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../sim/mutants/mutate.ts';

export interface CaughtMutant<M> {
  mutant: Mutant;
  /** True when the check notices the mutant; it runs against the mutated copy of the module. */
  caughtBy: (mutated: M) => boolean | Promise<boolean>;
}

/**
 * One test per mutant: `modulePath` is imported from a copy of the tree with the mutant's edits applied, and
 * `caughtBy` must return true for it. `dirs` are the folders the copy needs (the module's and its imports').
 */
export function itCatchesEachMutant<M>(modulePath: string, mutants: readonly CaughtMutant<M>[], dirs: string[]): void {
  for (const { mutant, caughtBy } of mutants) {
    it(`catches mutant ${mutant.name}: ${mutant.description}`, async () => {
      expect(await withMutant(mutant, modulePath, (mutated: M) => caughtBy(mutated), { dirs })).toBe(true);
    });
  }
}

/** For checks written as assertions: true when `check` throws. */
export function throws(check: () => void): boolean {
  try {
    check();
    return false;
  } catch {
    return true;
  }
}
