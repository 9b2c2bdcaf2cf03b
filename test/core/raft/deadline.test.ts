// nextTickDeadline lets a driver skip ticks (the simulator wakes an idle member once per heartbeat or election
// timeout instead of every 10 ms). That is sound only if a tick before the deadline never makes the node act,
// and worth it only if a tick at the deadline does. Both are checked on every node after every action of
// generated fault schedules, on fixed seeds; the mutants below show each half failing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as realCore from '../../../core/raft/index.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { deadlineProblem, type Core } from './deadline.ts';
import { runScenario, scenarioArbitrary } from './harness.ts';

function deadlinesHold(core: Core, runs: number): boolean {
  const result = fc.check(
    fc.property(scenarioArbitrary({ sizes: [1, 3, 5], spares: 1 }), (scenario) => {
      runScenario(core, scenario, [], 'none', (cluster, a) => {
        for (const node of cluster.nodes) {
          if (node.state === null) continue;
          const problem = deadlineProblem(core, node.state);
          if (problem !== null) throw new Error(`after ${JSON.stringify(a)}: ${problem}`);
        }
      });
    }),
    // A mutant only needs to be caught, not shrunk.
    { numRuns: runs, seed: 5, endOnFailure: core !== realCore },
  );
  if (result.failed && core === realCore) throw new Error(fc.defaultReportMessage(result) ?? 'deadline property failed');
  return !result.failed;
}

describe('nextTickDeadline', () => {
  it('a tick before the deadline never makes a node act, a tick at it does (leaders, followers, candidates, non-voters)', () => {
    expect(deadlinesHold(realCore, 300)).toBe(true);
  });

  const FILE = 'core/raft/node.ts';
  const mutants: Mutant[] = [
    {
      name: 'deadline-late-heartbeat',
      description: "a leader's deadline is its quorum check, so it would miss heartbeats while the driver sleeps",
      edits: [{ file: FILE, find: 'return state.clockMs + Math.max(0, Math.min(heartbeat, quorumCheck));', replace: 'return state.clockMs + Math.max(0, quorumCheck);' }],
    },
    {
      name: 'deadline-early-election',
      description: "a follower's deadline is half its election timeout: ticks that do nothing",
      edits: [{ file: FILE, find: 'return state.clockMs + Math.max(0, state.randomizedElectionTimeoutMs - state.electionElapsedMs);', replace: 'return state.clockMs + Math.max(0, (state.randomizedElectionTimeoutMs - state.electionElapsedMs) / 2);' }],
    },
  ];
  for (const mutant of mutants) {
    it(`catches ${mutant.name}: ${mutant.description}`, async () => {
      const held = await withMutant<Core, boolean>(mutant, 'core/raft/index.ts', (core) => deadlinesHold(core, 300));
      expect(held).toBe(false);
    });
  }
});
