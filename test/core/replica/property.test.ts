import fc from 'fast-check';
import { describe, it } from 'vitest';
import { replicaProperty } from './property.ts';

describe('replica property', () => {
  // On failure fast-check prints the seed and path that replay the shrunk history.
  it('stores agree at equal applied index and ok writes apply exactly once, under reordering, loss, duplication and restarts', () => {
    fc.assert(replicaProperty(), { numRuns: 200 });
  }, 120_000);
});
