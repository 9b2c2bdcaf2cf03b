// The runner's side of a failure: the shrunk case, fast-check's seed and path, a trace, and the commands that
// replay it, which must really lead back to the same counterexample. A planted property (false whenever a case
// crashes a node) fails without running the cluster, so only the trace costs a run.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { caseArbitrary } from '../../../sim/properties/arbitraries.ts';
import { assertSimProperty, checkSimProperty, propertyRuns, type SimProperty } from '../../../sim/properties/runner.ts';
import { readTraceFile } from '../../../sim/trace/format.ts';

const traceDir = mkdtempSync(join(tmpdir(), 'raftsim-runner-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));

const ENV = ['SIM_PROPERTY_SEED', 'SIM_PROPERTY_PATH', 'SIM_PROPERTY_RUNS'] as const;
afterEach(() => {
  for (const name of ENV) delete process.env[name];
});

const noCrashes: SimProperty = {
  name: 'no-crashes',
  claim: 'no case crashes a node (false on purpose)',
  arbitrary: caseArbitrary(),
  judge: (_run, c) => (c.faults.some((f) => f.action.kind === 'crash') ? { checkers: ['planted'], explanation: 'the case crashes a node' } : null),
};

describe('a failing property', () => {
  it('reports the shrunk case, the seed and path, the re-run and replay commands, and writes the trace', async () => {
    const outcome = await checkSimProperty(noCrashes, { numRuns: 100, seed: 5, traceDir });
    expect(outcome.failed).toBe(true);
    expect(outcome.counterexample!.faults).toEqual([{ startMs: 0, lengthMs: 1, action: { kind: 'crash', node: 0 } }]);
    expect(outcome.message).toContain('property no-crashes failed after');
    expect(outcome.message).toContain('    t=0 crash n1\n    t=1 restart n1\n');
    expect(outcome.message).toContain('failed: planted\n    the case crashes a node');
    expect(outcome.message).toContain(`fast-check seed 5, path "${outcome.path}"`);
    expect(outcome.message).toContain(`re-run the case: SIM_PROPERTY_SEED=5 SIM_PROPERTY_PATH='${outcome.path}' npx vitest run test/sim/properties/properties.test.ts -t 'no-crashes:'`);
    const tracePath = join(traceDir, 'no-crashes-5.trace');
    expect(outcome.tracePath).toBe(tracePath);
    expect(outcome.message).toContain(`replay it: bin/raftsim replay ${tracePath}`);
    const trace = readTraceFile(tracePath);
    expect(trace.header.scenario).toBe('property:no-crashes');
    expect(trace.header.seed).toBe(outcome.counterexample!.seed);
    expect(trace.header.config.nemesis.events).toEqual([
      { atMs: 0, kind: 'crash', node: 'n1' },
      { atMs: 1, kind: 'restart', node: 'n1' },
    ]);
  });

  it('comes back from the printed seed and path through the environment', async () => {
    const first = await checkSimProperty(noCrashes, { numRuns: 100, seed: 9, traceDir });
    process.env.SIM_PROPERTY_SEED = '9';
    process.env.SIM_PROPERTY_PATH = first.path!;
    const error = await assertSimProperty(noCrashes, 100, { traceDir }).then(() => null, (err: Error) => err);
    expect(error?.message).toContain(`case: ${JSON.stringify(first.counterexample)}`);
  });

  it('stops shrinking after its budget of runs, at the smallest failure found so far', async () => {
    let runs = 0;
    const counted: SimProperty = { ...noCrashes, judge: (run, c) => (runs++, noCrashes.judge(run, c)) };
    const outcome = await checkSimProperty(counted, { numRuns: 100, seed: 5, traceDir, maxShrinkRuns: 3 });
    expect(outcome.failed).toBe(true);
    expect(runs).toBe(outcome.numRuns + 3);
    expect(outcome.casesJudged).toBe(runs);
  });

  it('holds quietly when nothing fails', async () => {
    const outcome = await checkSimProperty({ ...noCrashes, judge: () => null }, { numRuns: 20, seed: 1, traceDir });
    expect(outcome).toMatchObject({ failed: false, numRuns: 20, tracePath: null });
  });
});

describe('environment', () => {
  it('SIM_PROPERTY_RUNS overrides the CI budget; nonsense is a one-line error', () => {
    expect(propertyRuns(40)).toBe(40);
    process.env.SIM_PROPERTY_RUNS = '500';
    expect(propertyRuns(40)).toBe(500);
    process.env.SIM_PROPERTY_RUNS = 'lots';
    expect(() => propertyRuns(40)).toThrow('SIM_PROPERTY_RUNS must be an integer >= 1, got "lots"');
  });

  it('a SIM_PROPERTY_SEED that is not an integer is a one-line error, not a random seed', async () => {
    process.env.SIM_PROPERTY_SEED = '12x';
    await expect(assertSimProperty(noCrashes, 1, { traceDir })).rejects.toThrow('SIM_PROPERTY_SEED must be an integer');
    expect(existsSync(join(traceDir, 'no-crashes-12.trace'))).toBe(false);
  });
});
