import fc from 'fast-check';
import { describe, it } from 'vitest';
import * as kv from '../../../core/kv/index.ts';
import { checkAgainstModel, checkReplicasAgree, timedOpsArb } from './model.ts';

// Both properties are shown to catch planted bugs in mutants.test.ts.
describe('kv store properties', () => {
  it('agrees with the reference model on random operation sequences', () => {
    fc.assert(
      fc.property(timedOpsArb, (ops) => {
        checkAgainstModel(kv, ops);
      }),
      { numRuns: 300 },
    );
  });

  it('two replicas applying the same commands (one forked from a checkpoint) agree byte for byte', () => {
    fc.assert(
      fc.property(timedOpsArb, fc.nat(80), (ops, forkAt) => {
        checkReplicasAgree(kv, ops, forkAt);
      }),
      { numRuns: 300 },
    );
  });
});
