// The scenario catalogue: every file in scenarios/ exports one `scenario`, listed here in the order
// `raftsim scenarios` prints them.
import type { Scenario } from './types.ts';
import { scenario as defaultScenario } from './default.ts';
import { scenario as calm } from './calm.ts';
import { scenario as quorumOnly } from './quorum-only.ts';

export type { Scenario, ScenarioExpectation, CheckerName } from './types.ts';
export { meetsExpectation, describeExpectation } from './types.ts';

export const scenarios: readonly Scenario[] = [defaultScenario, calm, quorumOnly];

export function scenarioNamed(name: string): Scenario | undefined {
  return scenarios.find((s) => s.name === name);
}

export function scenarioNames(): string[] {
  return scenarios.map((s) => s.name);
}
