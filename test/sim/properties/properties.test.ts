// Property tests over whole simulated runs: fast-check generates the cluster size, the workload, the Raft and
// disk knobs and the fault schedule (not only a seed), runs the simulation and judges it with every checker.
// A failure is shrunk to a small schedule; the message prints fast-check's seed and path, the command that
// re-runs the case, and `bin/raftsim replay` of the counterexample's trace (written to out/properties/).
//
// Fresh fast-check seeds every run, a fixed budget of cases per property (about 0.1-0.3 s of CPU each);
// SIM_PROPERTY_RUNS=500 (say) for a long local hunt. docs/PROPERTIES.md.
import { describe, it } from 'vitest';
import { assertSimProperty, propertyRuns } from '../../../sim/properties/runner.ts';
import { simProperties } from './properties.ts';

/** Cases per property in CI; `deterministic` runs each case twice. */
const CI_BUDGET: Record<string, number> = {
  'checkers-hold': 60,
  'quorum-reads-linearizable': 40,
  'crash-recovery': 40,
  deterministic: 20,
};

// A failing property shrinks (up to 100 more runs) and records a trace before it reports: allow for that.
const TIMEOUT_MS = 600_000;

describe('whole-run properties', () => {
  for (const property of simProperties) {
    it(`${property.name}: ${property.claim}`, async () => {
      await assertSimProperty(property, propertyRuns(CI_BUDGET[property.name] ?? 30));
    }, TIMEOUT_MS);
  }
});
