import fc from 'fast-check';
import { describe, it } from 'vitest';
import { batchedHistoryArbitrary, replicaProperty } from './property.ts';

describe('replica property', () => {
  // On failure fast-check prints the seed and path that replay the shrunk history.
  it('stores agree at equal applied index and ok writes apply exactly once, under reordering, loss, duplication and restarts', () => {
    fc.assert(replicaProperty(), { numRuns: 200 });
  }, 120_000);

  it('the same holds when writes and quorum reads also arrive in batches', () => {
    fc.assert(replicaProperty(undefined, batchedHistoryArbitrary), { numRuns: 150 });
  }, 120_000);
});
