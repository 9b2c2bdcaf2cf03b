// ReadIndex: a linearizable read is served at an index at or above every entry known committed (anywhere in
// the cluster) before the read was issued, under the same fault schedules as the safety properties.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as core from '../../../core/raft/index.ts';
import { assertProperty, runScenario, propertyNamed, scenarioArbitrary } from './harness.ts';

// Cases are cheap (about a millisecond each), so CI runs 500 per property; RAFT_PROPERTY_RUNS changes it.
const RUNS = Number(process.env.RAFT_PROPERTY_RUNS ?? 500);

describe('raft ReadIndex property', () => {
  const property = propertyNamed('read-linearizable');
  it(`read-linearizable: ${property.claim}`, () => assertProperty(core, property, RUNS));

  it('the generated schedules serve reads', () => {
    let served = 0;
    fc.assert(
      fc.property(scenarioArbitrary({ weights: { reads: 8, proposals: 4 } }), (scenario) => {
        const cluster = runScenario(core, scenario, [], 'none');
        served += cluster.stats.readsServed;
      }),
      { numRuns: 100, seed: 7 },
    );
    expect(served).toBeGreaterThan(25);
  });
});
