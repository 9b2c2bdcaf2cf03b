// The expectations can fail: a planted bug turns "pass" scenarios red, each on a fixed seed whose clean run
// the other files show green.
import { describe, expect, it } from 'vitest';
import { meetsExpectation, type Scenario } from '../../scenarios/index.ts';
import { materialize, type Mutant } from '../../sim/mutants/mutate.ts';
import { raftMutantNamed } from '../../sim/mutants/raft.ts';
import { expiryOnFollowerClock, quorumReadServedLocally, replyBeforeCommit } from '../../sim/mutants/replica.ts';
import { scenario } from './support.ts';

const CASES: Array<{ mutant: Mutant; scenario: string; seed: number; caughtAs: RegExp }> = [
  { mutant: quorumReadServedLocally, scenario: 'stale-read-2014-quorum', seed: 1, caughtAs: /^linearizability: non-linearizable/ },
  { mutant: replyBeforeCommit, scenario: 'kill-leader-mid-commit', seed: 1, caughtAs: /^linearizability: non-linearizable|acked-write-durable/ },
  { mutant: expiryOnFollowerClock, scenario: 'service-discovery', seed: 1, caughtAs: /store-agreement|state-machine-safety/ },
  // A quorum of two out of five lets both sides of the split commit; the core's own assertions stop the run.
  { mutant: raftMutantNamed('quorum-too-small'), scenario: 'majority-partition', seed: 1, caughtAs: /truncating committed entry|election-safety|state-machine-safety/ },
];

/** What a run of the mutated tree shows: 'as expected', the failed verdicts, or the invariant that stopped it. */
async function outcome(mutant: Mutant, s: Scenario, seed: number): Promise<string> {
  const copy = materialize(mutant);
  try {
    const { runSimulation } = await copy.import<typeof import('../../sim/run.ts')>('sim/run.ts');
    try {
      const r = runSimulation({ seed, config: s.config });
      return meetsExpectation(s.expect, r.verdicts) ? 'as expected' : r.verdicts.filter((v) => !v.ok).map((v) => v.summary).join('\n');
    } catch (err) {
      return `threw: ${err instanceof Error ? err.message : String(err)}`;
    }
  } finally {
    copy.remove();
  }
}

describe('planted bugs turn passing scenarios red', () => {
  for (const c of CASES) {
    it(`${c.mutant.name} (${c.mutant.description}) fails ${c.scenario} seed ${c.seed}`, async () => {
      expect(scenario(c.scenario).expect).toEqual({ kind: 'pass' });
      const seen = await outcome(c.mutant, scenario(c.scenario), c.seed);
      expect(seen).not.toBe('as expected');
      expect(seen).toMatch(new RegExp(c.caughtAs.source, 'm'));
    });
  }
});
