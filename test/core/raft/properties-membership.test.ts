// Membership changes: single-server add (voter or learner), promote and remove, proposed at any node at any
// time, interleaved with faults and compaction; the safety invariants and post-heal liveness must hold.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as core from '../../../core/raft/index.ts';
import { assertProperty, runScenario, propertyNamed } from './harness.ts';

// Cases are cheap (about a millisecond each), so CI runs 500 per property; RAFT_PROPERTY_RUNS changes it.
const RUNS = Number(process.env.RAFT_PROPERTY_RUNS ?? 500);

describe('raft membership property', () => {
  const property = propertyNamed('membership-safety');
  it(`membership-safety: ${property.claim}`, () => assertProperty(core, property, RUNS));

  it('the generated schedules change the membership', () => {
    let changed = 0;
    let committed = 0;
    fc.assert(
      fc.property(property.arbitrary, (scenario) => {
        const cluster = runScenario(core, scenario, [], 'none');
        const leader = cluster.currentLeader();
        if (leader?.state && leader.state.membershipIndex > scenario.voters) changed++;
        committed += cluster.stats.confChangesCommitted;
      }),
      { numRuns: 100, seed: 11 },
    );
    expect(changed).toBeGreaterThan(10);
    expect(committed).toBeGreaterThan(15);
  });
});
