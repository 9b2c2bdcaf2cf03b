// Raft's safety properties (Figure 2 of the Raft paper, plus the persistence contract) over generated fault
// schedules: message reordering, loss, duplication, partitions, crashes that lose unsynced writes, clock jumps.
// A failure prints fast-check's seed and path; replay with `fc.assert(..., { seed, path })`.
import { describe, expect, it } from 'vitest';
import * as core from '../../../core/raft/index.ts';
import { assertProperty, runScenario, propertyNamed, scenarioArbitrary } from './harness.ts';
import fc from 'fast-check';

// Cases are cheap (about a millisecond each), so CI runs 500 per property; RAFT_PROPERTY_RUNS changes it.
const RUNS = Number(process.env.RAFT_PROPERTY_RUNS ?? 500);

describe('raft safety properties', () => {
  for (const name of [
    'election-safety',
    'log-matching',
    'leader-completeness',
    'state-machine-safety',
    'commit-monotonic',
    'apply-after-durable',
    'sync-before-send',
    'limits-respected',
  ]) {
    const property = propertyNamed(name);
    it(`${name}: ${property.claim}`, () => assertProperty(core, property, RUNS));
  }

  // A suite whose schedules never elect a leader or commit anything would pass vacuously.
  it('the generated schedules elect leaders, commit, crash and recover', () => {
    const totals = { scenarios: 0, withLeader: 0, withCommits: 0, withAcks: 0, crashes: 0 };
    fc.assert(
      fc.property(scenarioArbitrary(), (scenario) => {
        const cluster = runScenario(core, scenario, [], 'none');
        totals.scenarios++;
        if (cluster.stats.leadersElected > 0) totals.withLeader++;
        if (cluster.stats.committedEntries > scenario.voters + 1) totals.withCommits++;
        if (cluster.stats.acknowledged > 0) totals.withAcks++;
        totals.crashes += cluster.stats.crashes;
      }),
      { numRuns: 100, seed: 42 },
    );
    expect(totals.withLeader / totals.scenarios).toBeGreaterThan(0.9);
    expect(totals.withCommits / totals.scenarios).toBeGreaterThan(0.3);
    expect(totals.withAcks / totals.scenarios).toBeGreaterThan(0.18);
    expect(totals.crashes).toBeGreaterThan(50);
  });
});
