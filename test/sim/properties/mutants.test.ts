// The whole-run properties can fail: run against planted bugs (sim/mutants) with a fixed fast-check seed, each
// finds a counterexample, shrinks it to a schedule with fewer fault events than the first failing case, and
// reports it with the commands that replay it; the trace it wrote replays event for event with the same
// failing checkers.
//
// The seed is one whose first cases carry 4 to 6 faults (8 to 12 nemesis events), so a shrink has something to
// remove even for a bug that fails without any fault.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSimProperty, faultEventCount, type SimProperty } from '../../../sim/properties/runner.ts';
import { readTraceFile } from '../../../sim/trace/format.ts';
import { replayTrace } from '../../../sim/trace/record.ts';
import { checkersHold, crashRecovery, deterministic, quorumReadsLinearizable } from './properties.ts';

const SEED = Number(process.env.SIM_PROPERTY_SEED ?? 3);
const PATH = process.env.SIM_PROPERTY_PATH || undefined;
/** Enough for every mutant below to fail within its first few cases. */
const RUNS = 30;
/** Shrink candidates judged per mutant: enough to drop most faults, small enough to keep the file fast. */
const SHRINK_RUNS = 20;

const traceDir = mkdtempSync(join(tmpdir(), 'raftsim-properties-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));

const cases: Array<{ mutant: string; property: SimProperty; checker: string }> = [
  { mutant: 'replica-quorum-read-served-locally', property: quorumReadsLinearizable, checker: 'linearizability' },
  { mutant: 'replica-reply-before-commit', property: checkersHold, checker: 'linearizability' },
  { mutant: 'apply-before-commit', property: checkersHold, checker: 'raft-safety' },
  { mutant: 'restart-forgets-commit', property: crashRecovery, checker: 'raft-safety' },
  { mutant: 'election-jitter-outside-state', property: deterministic, checker: 'determinism' },
];

describe('whole-run properties catch planted bugs and shrink them', () => {
  for (const { mutant, property, checker } of cases) {
    it(`${property.name} catches ${mutant}`, async () => {
      const outcome = await checkSimProperty(property, {
        numRuns: RUNS,
        seed: SEED,
        path: PATH,
        mutant,
        maxShrinkRuns: SHRINK_RUNS,
        traceDir,
        rerun: `npx vitest run test/sim/properties/mutants.test.ts -t '${mutant}'`,
      });
      expect(outcome.failed, `${mutant} survived ${RUNS} cases of ${property.name}`).toBe(true);
      const first = faultEventCount(outcome.firstFailing!);
      const shrunk = faultEventCount(outcome.counterexample!);
      console.log(`${mutant}: ${property.name} failed at case ${outcome.numRuns} (${outcome.failure!.checkers.join(', ')}), ${first} -> ${shrunk} fault events in ${outcome.numShrinks} shrinks, ${outcome.casesJudged} runs`);
      expect(outcome.failure!.checkers).toContain(checker);
      expect(shrunk).toBeLessThan(first);

      expect(outcome.tracePath).not.toBeNull();
      expect(outcome.message).toContain(`fast-check seed ${SEED}, path "${outcome.path}"`);
      expect(outcome.message).toContain(`SIM_PROPERTY_SEED=${SEED} SIM_PROPERTY_PATH='${outcome.path}'`);
      expect(outcome.message).toContain(`bin/raftsim replay ${outcome.tracePath}`);

      const trace = readTraceFile(outcome.tracePath!);
      expect(trace.header.mutant).toBe(mutant);
      expect(trace.header.scenario).toBe(`property:${property.name}`);
      expect(trace.header.config.nemesis.events).toHaveLength(shrunk);
      const replay = await replayTrace(trace);
      expect(replay.divergence).toBeNull();
      const failing = replay.result!.verdicts.filter((v) => !v.ok).map((v) => v.checker);
      // Nondeterminism that lives in module state shows between runs in one process, not in a fresh replay.
      if (checker === 'determinism') expect(failing).toEqual([]);
      else expect(failing).toEqual(outcome.failure!.checkers);
    }, 600_000);
  }
});
