// The property suite must catch every mutant of sim/mutants/raft.ts, and every property must catch at least
// one mutant (a property no planted bug can fail is not trusted). Each mutant is applied to a copy of core/
// and the suite runs against the copy, its designated property first, stopping at the first failure.
import { afterAll, describe, expect, it } from 'vitest';
import { materialize } from '../../../sim/mutants/mutate.ts';
import { raftMutants } from '../../../sim/mutants/raft.ts';
import { checkProperty, propertyNamed, raftProperties, type PropertyOutcome, type RaftCore } from './harness.ts';

// Fewer runs than the main suite: a mutant is usually caught within a few dozen cases, and the suite runs once
// per mutant. RAFT_MUTANT_RUNS raises it when hunting a mutant that escapes.
const RUNS = Number(process.env.RAFT_MUTANT_RUNS ?? 150);
// A fixed seed keeps the mutant suite reproducible run to run; the main suite explores fresh seeds.
const SEED = Number(process.env.RAFT_MUTANT_SEED ?? 20261125);

/** The property each mutant is designed to trip, tried first. */
const designedKiller: Record<string, string> = {
  'vote-twice-in-a-term': 'election-safety',
  'commit-old-term-by-counting': 'acknowledged-writes-survive',
  'skip-log-consistency-check': 'log-matching',
  'vote-not-persisted': 'sync-before-send',
  'step-down-without-term-update': 'election-safety',
  'apply-before-durable': 'apply-after-durable',
  'apply-before-commit': 'state-machine-safety',
  'read-index-before-leader-commits': 'read-linearizable',
  'conf-change-before-leader-commits': 'membership-safety',
  'fixed-election-timeout': 'liveness',
  'accept-stale-term-append': 'election-safety',
  'leader-counts-undurable-own-log': 'leader-completeness',
  'heartbeat-commit-beyond-match': 'state-machine-safety',
  'restart-forgets-commit': 'commit-monotonic',
  'append-ignores-entry-limit': 'limits-respected',
  'non-voter-lease-never-expires': 'membership-safety',
  'vote-sent-before-sync': 'sync-before-send',
  'quorum-too-small': 'election-safety',
  'learners-count-toward-commit': 'membership-safety',
  'election-jitter-outside-state': 'deterministic-replay',
};

const killedBy = new Map<string, PropertyOutcome>();

describe('raft mutants', () => {
  it('every mutant has a designated property', () => {
    for (const m of raftMutants) expect(designedKiller[m.name], m.name).toBeDefined();
    expect(raftMutants.length).toBeGreaterThanOrEqual(8);
  });

  for (const mutant of raftMutants) {
    it(`${mutant.name}: ${mutant.description}`, async () => {
      const copy = materialize(mutant, { dirs: ['core'] });
      try {
        const core = await copy.import<RaftCore>('core/raft/index.ts');
        const first = propertyNamed(designedKiller[mutant.name]!);
        const order = [first, ...raftProperties.filter((p) => p !== first)];
        const tried: string[] = [];
        for (const property of order) {
          const outcome = checkProperty(core, property, RUNS, SEED);
          tried.push(`${property.name}: ${outcome.failed ? 'failed' : 'held'}`);
          if (outcome.failed) {
            killedBy.set(mutant.name, outcome);
            // One line per kill: which property, the shrunk violation, and how to replay it.
            console.log(`mutant ${mutant.name} killed by ${outcome.property} (seed ${outcome.seed}, path ${outcome.path}): ${outcome.error?.split('\n')[0]}`);
            return;
          }
        }
        expect.fail(`mutant ${mutant.name} survived every property (${RUNS} runs each): ${tried.join('; ')}`);
      } finally {
        copy.remove();
      }
    });
  }

  it('every property catches at least one mutant, by its own invariant', () => {
    // A kill counts for a property only when its own check fired, not the core's assertions (core-error).
    const killers = new Set(
      [...killedBy.values()]
        .filter((o) => o.error !== null && !o.error.startsWith('core-error') && !o.error.startsWith('persist-contract'))
        .map((o) => o.property),
    );
    const idle = raftProperties.map((p) => p.name).filter((name) => !killers.has(name));
    expect(idle, `properties no mutant failed: ${idle.join(', ')}`).toEqual([]);
  });

  afterAll(() => {
    const table = [...killedBy].map(([m, o]) => `${m} -> ${o.property}`).join('\n');
    console.log(`raft mutant kills:\n${table}`);
  });
});
