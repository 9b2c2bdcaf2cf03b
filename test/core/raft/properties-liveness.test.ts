// Durability of acknowledged writes and liveness after healing: every schedule ends by healing the network and
// restarting every node; a leader must then commit a fresh proposal within a bounded number of rounds, and its
// state must hold every write a client was told succeeded.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as core from '../../../core/raft/index.ts';
import { assertProperty, propertyNamed, runScenario } from './harness.ts';

// Cases are cheap (about a millisecond each), so CI runs 500 per property; RAFT_PROPERTY_RUNS changes it.
const RUNS = Number(process.env.RAFT_PROPERTY_RUNS ?? 500);

describe('raft durability and liveness properties', () => {
  for (const name of ['acknowledged-writes-survive', 'liveness']) {
    const property = propertyNamed(name);
    it(`${name}: ${property.claim}`, () => assertProperty(core, property, RUNS));
  }

  // Compaction and crashes must leave some followers so far behind that they need InstallSnapshot.
  it('the generated schedules install snapshots', () => {
    let withSnapshot = 0;
    fc.assert(
      fc.property(propertyNamed('acknowledged-writes-survive').arbitrary, (scenario) => {
        if (runScenario(core, scenario, [], 'stabilize').stats.snapshotsApplied > 0) withSnapshot++;
      }),
      { numRuns: 100, seed: 3 },
    );
    expect(withSnapshot).toBeGreaterThan(3);
  });
});
