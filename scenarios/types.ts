// A scenario is plain data: a named run configuration (merged over sim/config.ts's defaults) and what a run of
// it must show. Runs are a function of (scenario, seed), so a scenario plus a seed names one run exactly.
import type { PartialRunConfig } from '../sim/config.ts';

/** Names of the checkers a run's verdicts carry (sim/run.ts). */
export type CheckerName = 'linearizability' | 'raft-safety' | 'ttl' | 'watch' | 'store-agreement' | 'queue-order' | 'invariants' | 'liveness';

export type ScenarioExpectation =
  /** Every checker holds. */
  | { kind: 'pass' }
  /** The named checker reports a violation (others may too): the scenario demonstrates a known failure. */
  | { kind: 'violation'; checker: CheckerName };

export interface Scenario {
  /** kebab-case, unique; the file is scenarios/<name>.ts. */
  name: string;
  /** One line, shown by `raftsim scenarios`. */
  description: string;
  /** What the cluster, workload and faults are, and why the expectation follows; a few sentences. */
  details: string;
  config: PartialRunConfig;
  expect: ScenarioExpectation;
}

/** Whether a run's verdicts are what the scenario expects. */
export function meetsExpectation(expectation: ScenarioExpectation, verdicts: ReadonlyArray<{ checker: string; ok: boolean }>): boolean {
  if (expectation.kind === 'pass') return verdicts.every((v) => v.ok);
  return verdicts.some((v) => v.checker === expectation.checker && !v.ok);
}

export function describeExpectation(expectation: ScenarioExpectation): string {
  return expectation.kind === 'pass' ? 'all checks hold' : `${expectation.checker} violation found`;
}
