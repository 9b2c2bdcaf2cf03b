import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as kvMutants from '../../../sim/mutants/kv.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { checks } from './checks.ts';
import { checkAgainstModel, checkReplicasAgree, timedOpsArb, type KvModule } from './model.ts';

// Each planted bug must be caught by the focused check named for it and, where the bug is visible in
// replies or state, by the reference-model property as well.
const cases: Array<[Mutant, string, 'model' | 'replicas' | null]> = [
  [kvMutants.casIgnoresPrevIndex, 'compare-and-swap honours prevIndex', 'model'],
  [kvMutants.refreshWakesWatchers, 'a refresh wakes no watcher', 'model'],
  [kvMutants.hiddenKeysListed, 'listings leave out hidden names', 'model'],
  [kvMutants.expiryIgnoresCommandTime, 'expiry is decided by the time the tick carries', 'model'],
  [kvMutants.recursiveDeleteLeavesChildren, 'a recursive delete takes the whole subtree with it', 'model'],
  [kvMutants.historyWindowOffByOne, 'the history window holds exactly the last 1000 events', 'model'],
  [kvMutants.treeHashMissesCompareAndSwap, 'the tree hash follows every change', 'model'],
];

const replicaMutants = [kvMutants.applyDependsOnReplicaState, kvMutants.checkpointLosesInvalidBytes];

function propertyFails(kv: KvModule, which: 'model' | 'replicas'): boolean {
  try {
    const params = { numRuns: 300, seed: 42 };
    if (which === 'model') fc.assert(fc.property(timedOpsArb, (ops) => checkAgainstModel(kv, ops)), params);
    else fc.assert(fc.property(timedOpsArb, fc.nat(80), (ops, forkAt) => checkReplicasAgree(kv, ops, forkAt)), params);
    return false;
  } catch {
    return true;
  }
}

describe('kv mutants are killed', () => {
  it('every mutant in sim/mutants/kv.ts is covered here', () => {
    const covered = new Set([...cases.map(([m]) => m.name), ...replicaMutants.map((m) => m.name)]);
    expect(kvMutants.kvMutants.map((m) => m.name).filter((n) => !covered.has(n))).toEqual([]);
  });

  for (const [mutant, checkName, property] of cases) {
    it(`${mutant.name}: caught by "${checkName}"${property ? ` and the ${property} property` : ''}`, async () => {
      await withMutant(mutant, 'core/kv/index.ts', (kv: KvModule) => {
        expect(() => checks[checkName]!(kv)).toThrow();
        if (property) expect(propertyFails(kv, property)).toBe(true);
      });
    });
  }

  for (const mutant of replicaMutants) {
    it(`${mutant.name}: caught by the replicas-agree property`, async () => {
      await withMutant(mutant, 'core/kv/index.ts', (kv: KvModule) => {
        expect(propertyFails(kv, 'replicas')).toBe(true);
      });
    });
  }
});
