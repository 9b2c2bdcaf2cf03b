// Running a property over whole simulated runs, and reporting a failure so that it can be replayed two ways:
// fast-check's seed and path regenerate and re-shrink the case (SIM_PROPERTY_SEED / SIM_PROPERTY_PATH), and the
// trace of the shrunk counterexample replays the very run event for event (`bin/raftsim replay <file>`).
//
// Shrinking a run costs a run per candidate, so it has a budget: after `maxShrinkRuns` judged candidates every
// further candidate counts as passing (without running), which ends the shrink deterministically at the smallest
// failing case found so far. A fixed seed therefore gives the same counterexample every time.
import { join } from 'node:path';
import fc from 'fast-check';
import type { RunResult } from '../run.ts';
import { writeTraceFile } from '../trace/format.ts';
import { recordTrace, withRunner, type RunSimulation } from '../trace/record.ts';
import { describeNemesis } from '../world/nemesis.ts';
import { firstDivergence } from '../world/world.ts';
import { caseConfig, describeCase, faultSchedule, type SimCase } from './arbitraries.ts';

/** Why a case broke a property: the checkers (or `determinism`) that failed and what they said. */
export interface CaseFailure {
  checkers: string[];
  explanation: string;
}

export interface SimProperty {
  /** kebab-case; names the test, the trace file and the trace's scenario (`property:<name>`). */
  name: string;
  /** What holds for every generated case, in one sentence. */
  claim: string;
  arbitrary: fc.Arbitrary<SimCase>;
  /** Runs the case with `run` (the real runSimulation or a mutant's); null when the property held. */
  judge(run: RunSimulation, c: SimCase): CaseFailure | null;
}

/** The failing checkers of a run, each with its first violations. */
export function verdictFailure(result: RunResult): CaseFailure | null {
  if (result.ok) return null;
  const failed = result.verdicts.filter((v) => !v.ok);
  const lines = failed.map((v) =>
    v.violations.length === 0
      ? v.summary.split('\n')[0]
      : [`${v.checker}: ${v.violations.length} violation(s)`, ...v.violations.slice(0, 3).map((x) => `  ${x.property}: ${x.explanation.split('\n')[0]}`)].join('\n    '),
  );
  return { checkers: failed.map((v) => v.checker), explanation: lines.join('\n    ') };
}

/** Every checker holds: the run of a case, judged by all of sim/run.ts's checkers. */
export function everyCheckerHolds(name: string): SimProperty['judge'] {
  return (run, c) => verdictFailure(run({ seed: c.seed, config: caseConfig(c, `property:${name}`) }));
}

/** The same case run twice in one process gives the same run hash (and, when it does not, the first event where the runs part). */
export function runsAreDeterministic(name: string): SimProperty['judge'] {
  return (run, c) => {
    const config = caseConfig(c, `property:${name}`);
    const a = run({ seed: c.seed, config });
    const b = run({ seed: c.seed, config });
    if (a.hash === b.hash) return null;
    // Again with trails, to name where the runs part (these two may differ elsewhere: the code is nondeterministic).
    const d = firstDivergence(run({ seed: c.seed, config, trail: true }).trail!, run({ seed: c.seed, config, trail: true }).trail!);
    const where = d === null ? 'a second pair of runs agreed' : `another pair first differs at event ${d.index}: ${d.a ?? '(no event)'} / ${d.b ?? '(no event)'}`;
    return { checkers: ['determinism'], explanation: `the same case ran twice gave run hashes ${a.hash} and ${b.hash}; ${where}` };
  };
}

export interface CheckOptions {
  /** Cases to generate. */
  numRuns: number;
  /** fast-check seed; fresh (and printed) when absent. */
  seed?: number;
  /** fast-check path, to replay one case (and shrink on from it). */
  path?: string;
  /** Run a mutant's tree (sim/mutants) instead of the real one. */
  mutant?: string | null;
  /** Candidates judged while shrinking before the shrink stops. */
  maxShrinkRuns?: number;
  /** Where the counterexample's trace goes (default `out/properties`). */
  traceDir?: string;
  /** The command that re-runs this test (the failure message adds the env vars that replay the case). */
  rerun?: string;
}

export interface PropertyOutcome {
  property: string;
  mutant: string | null;
  failed: boolean;
  seed: number;
  path: string | null;
  /** Cases run up to and including the first failure (all of them when the property held). */
  numRuns: number;
  numShrinks: number;
  /** Cases run in all, counting shrink candidates. */
  casesJudged: number;
  firstFailing: SimCase | null;
  counterexample: SimCase | null;
  failure: CaseFailure | null;
  tracePath: string | null;
  /** Everything a person needs: the shrunk case, what failed, and both ways to replay it. */
  message: string;
}

export const DEFAULT_TRACE_DIR = 'out/properties';
export const DEFAULT_MAX_SHRINK_RUNS = 100;

/** Nemesis events of a case: the measure of how far a counterexample shrank. */
export function faultEventCount(c: SimCase): number {
  return faultSchedule(c.faults, c.nodes, c.durationMs).length;
}

/** Runs the property; on failure shrinks, writes the counterexample's trace and builds the failure message. */
export async function checkSimProperty(property: SimProperty, options: CheckOptions): Promise<PropertyOutcome> {
  const mutant = options.mutant ?? null;
  const maxShrinkRuns = options.maxShrinkRuns ?? DEFAULT_MAX_SHRINK_RUNS;
  // Runs are deterministic, so a case judged once need not run again: shrink candidates that differ only in
  // what the case ignores (a switched-off fault's timing) cost nothing and do not count against the budget.
  const judged = new Map<string, CaseFailure | null>();
  let firstFailing: SimCase | null = null;
  let casesJudged = 0;
  let shrinkRuns = 0;
  const details = await withRunner(mutant, (run) =>
    fc.check(
      fc.property(property.arbitrary, (c) => {
        const key = JSON.stringify(c);
        const known = judged.get(key);
        if (known !== undefined) return known === null;
        if (firstFailing !== null && shrinkRuns++ >= maxShrinkRuns) return true;
        casesJudged++;
        let failure: CaseFailure | null;
        try {
          failure = property.judge(run, c);
        } catch (err) {
          failure = { checkers: ['crash'], explanation: `the run threw: ${err instanceof Error ? (err.stack ?? err.message).split('\n').slice(0, 4).join('\n    ') : String(err)}` };
        }
        judged.set(key, failure);
        if (failure === null) return true;
        firstFailing ??= c;
        return false;
      }),
      {
        numRuns: options.numRuns,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        ...(options.path === undefined ? {} : { path: options.path }),
      },
    ),
  );
  const base = {
    property: property.name,
    mutant,
    seed: details.seed,
    numRuns: details.numRuns,
    numShrinks: details.numShrinks,
    casesJudged,
    firstFailing,
  };
  if (!details.failed || details.counterexample === null) {
    return { ...base, failed: false, path: null, counterexample: null, failure: null, tracePath: null, message: `${property.name}: held for ${details.numRuns} case(s) (seed ${details.seed})` };
  }
  const counterexample = details.counterexample[0];
  const failure = judged.get(JSON.stringify(counterexample)) ?? { checkers: ['unknown'], explanation: String(details.errorInstance) };
  const path = details.counterexamplePath;
  let tracePath: string | null = join(options.traceDir ?? DEFAULT_TRACE_DIR, `${property.name}${mutant === null ? '' : `-${mutant}`}-${details.seed}.trace`);
  let traceNote: string;
  try {
    const { trace } = await recordTrace({ scenario: `property:${property.name}`, seed: counterexample.seed, config: caseConfig(counterexample, `property:${property.name}`), expect: { kind: 'pass' }, mutant });
    writeTraceFile(tracePath, trace);
    traceNote = `  trace of the shrunk run: ${tracePath}\n  replay it: bin/raftsim replay ${tracePath}`;
  } catch (err) {
    traceNote = `  no trace written: ${err instanceof Error ? err.message : String(err)}`;
    tracePath = null;
  }
  const rerun = options.rerun ?? `npx vitest run test/sim/properties/properties.test.ts -t '${property.name}:'`;
  const schedule = faultSchedule(counterexample.faults, counterexample.nodes, counterexample.durationMs);
  const message = [
    `property ${property.name}${mutant === null ? '' : ` (mutant ${mutant})`} failed after ${details.numRuns} case(s), shrunk ${details.numShrinks} time(s): ${property.claim}`,
    `  counterexample: ${describeCase(counterexample)}`,
    ...schedule.map((e) => `    t=${e.atMs} ${describeNemesis(e)}`),
    `  shrunk from ${firstFailing === null ? '?' : faultEventCount(firstFailing)} to ${schedule.length} nemesis event(s)`,
    `  failed: ${failure.checkers.join(', ')}`,
    `    ${failure.explanation}`,
    `  fast-check seed ${details.seed}, path ${JSON.stringify(path)}`,
    `  re-run the case: SIM_PROPERTY_SEED=${details.seed} SIM_PROPERTY_PATH='${path}' ${rerun}`,
    traceNote,
    `  case: ${JSON.stringify(counterexample)}`,
  ].join('\n');
  return { ...base, failed: true, path, counterexample, failure, tracePath, message };
}

function integerFromEnv(name: string, min: number): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** Cases per property: the CI budget unless SIM_PROPERTY_RUNS says otherwise (for long local runs). */
export function propertyRuns(ciBudget: number): number {
  return integerFromEnv('SIM_PROPERTY_RUNS', 1) ?? ciBudget;
}

/**
 * The test form: runs `numRuns` cases (fresh seed, or SIM_PROPERTY_SEED / SIM_PROPERTY_PATH to replay a
 * reported failure) against the real tree and throws the failure message.
 */
export async function assertSimProperty(property: SimProperty, numRuns: number, options: Omit<CheckOptions, 'numRuns' | 'seed' | 'path'> = {}): Promise<PropertyOutcome> {
  const seed = integerFromEnv('SIM_PROPERTY_SEED', -(2 ** 31));
  const path = process.env.SIM_PROPERTY_PATH;
  const outcome = await checkSimProperty(property, {
    ...options,
    numRuns,
    ...(seed === undefined ? {} : { seed }),
    ...(path === undefined || path === '' ? {} : { path }),
  });
  if (outcome.failed) throw new Error(outcome.message);
  return outcome;
}
