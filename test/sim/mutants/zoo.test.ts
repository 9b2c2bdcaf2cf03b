// The bug zoo: every entry is a mutant that still applies to this tree, exactly once per edit, with a config the
// simulator accepts; and a small fixed budget of seeds catches a representative subset, each by the check the
// entry names, on a seed whose run passes with the real code. The full figures (every bug, up to 200 seeds,
// shrunk sizes) come from bench/zoo.ts.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../sim/config.ts';
import { applyEdits } from '../../../sim/mutants/mutate.ts';
import { raftMutants } from '../../../sim/mutants/raft.ts';
import { catchBug, notInZoo, zoo, zooBugNamed, zooConfig, zooMutant } from '../../../sim/mutants/zoo.ts';
import { runSimulation } from '../../../sim/run.ts';
import { withRunner } from '../../../sim/trace/record.ts';

const root = resolve(import.meta.dirname, '../../..');

describe('the zoo', () => {
  it('has at least 12 bugs, named once each, with the history and the catching check filled in', () => {
    expect(zoo.length).toBeGreaterThanOrEqual(12);
    expect(new Set(zoo.map((b) => b.name)).size).toBe(zoo.length);
    for (const bug of zoo) {
      expect(bug.history.length, bug.name).toBeGreaterThan(40);
      expect(bug.how.length, bug.name).toBeGreaterThan(10);
      expect(zooBugNamed(bug.name)).toBe(bug);
    }
  });

  it('holds the bugs the issue names', () => {
    for (const name of [
      'replica-quorum-read-served-locally',
      'vote-sent-before-sync',
      'commit-old-term-by-counting',
      'replica-expiry-on-follower-clock',
      'replica-watch-skips-event-on-leader-change',
    ]) {
      expect(zooBugNamed(name), name).toBeDefined();
    }
  });

  it('accounts for every Raft mutant: a zoo bug, or left out for a stated reason', () => {
    for (const m of raftMutants) {
      const inZoo = zooBugNamed(m.name) !== undefined;
      const leftOut = notInZoo.find((x) => x.name === m.name);
      expect(inZoo !== (leftOut !== undefined), m.name).toBe(true);
      if (leftOut) expect(leftOut.why.length, m.name).toBeGreaterThan(30);
    }
  });

  it('every bug is a mutant whose every edit applies exactly once to the current tree', () => {
    for (const bug of zoo) {
      const mutant = zooMutant(bug);
      for (const file of new Set(mutant.edits.map((e) => e.file))) {
        const source = readFileSync(join(root, file), 'utf8');
        expect(applyEdits(mutant, file, source), `${bug.name} on ${file}`).not.toBe(source);
      }
    }
  });

  it('every catching config is a valid run config', () => {
    for (const bug of zoo) expect(() => resolveConfig(zooConfig(bug)), bug.name).not.toThrow();
  });

  it('a sweep that finds nothing says so, with the seeds it ran', () => {
    const quiet = catchBug({ ...zoo[0]!, config: { nodes: 3, durationMs: 300, settleMs: 100, nemesis: { kind: 'none' } } }, runSimulation, { maxSeeds: 2 });
    expect(quiet).toMatchObject({ seed: null, seedsRun: 2, failed: [] });
  });
});

// One bug per check, and Figure 8, each caught within a small fixed budget of seeds. Seeds are deterministic,
// so the budget does not flake; a change that moves a catch past it fails here loudly.
const BUDGET = 30;
const REPRESENTATIVE = [
  'replica-quorum-read-served-locally', // linearizability
  'vote-sent-before-sync', // raft-safety
  'commit-old-term-by-counting', // raft-safety, staged
  'replica-watch-skips-event-on-leader-change', // watch
  'replica-expiry-on-follower-clock', // store-agreement
  'kv-expiry-ignores-command-time', // ttl
  'heartbeat-commit-beyond-match', // invariants
  'fixed-election-timeout', // liveness
];

describe(`a budget of ${BUDGET} seeds catches`, () => {
  for (const name of REPRESENTATIVE) {
    it(name, async () => {
      const bug = zooBugNamed(name)!;
      const caught = await withRunner(name, (run) => catchBug(bug, run, { maxSeeds: BUDGET, budgetMs: 120_000 }));
      expect(caught.seed, `${name}: no failing run in seeds 1..${BUDGET}`).not.toBeNull();
      expect(caught.failed, name).toContain(bug.caughtBy);
      // The same seed with the real code holds every check: the failure is the bug's, not the config's.
      const real = runSimulation({ seed: caught.seed!, config: zooConfig(bug) });
      expect(real.verdicts.filter((v) => !v.ok).map((v) => v.summary), `${name} seed ${caught.seed} with the real code`).toEqual([]);
    }, 180_000);
  }
});
