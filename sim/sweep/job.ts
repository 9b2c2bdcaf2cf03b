// One run of a sweep: a scenario and a seed, judged against the scenario's expectation. A run that fails a
// check or misses its expectation is run again with recording on and written as a trace (runs are
// deterministic, so the re-run is the same run; healthy runs pay nothing for tracing).
import { join } from 'node:path';
import { meetsExpectation, scenarioNamed } from '../../scenarios/index.ts';
import type { PartialRunConfig } from '../config.ts';
import { writeTraceFile } from '../trace/format.ts';
import { recordTrace, withRunner, type RunSimulation } from '../trace/record.ts';

export interface SweepJob {
  index: number;
  scenario: string;
  seed: number;
  /** Overrides the scenario's durationMs (quick sweeps in CI). */
  durationMs?: number;
  mutant: string | null;
  /** Where failing runs' traces go; null: none are written. */
  outDir: string | null;
  /** Write a trace for every run, not only failing ones. */
  traceAll: boolean;
}

export interface SweepJobResult {
  index: number;
  scenario: string;
  seed: number;
  ok: boolean;
  asExpected: boolean;
  /** Summaries of the checks that failed. */
  failed: string[];
  ops: number;
  simulatedMs: number;
  wallMs: number;
  events: number;
  hash: string;
  trace: string | null;
  /** The run could not be made at all (bad config, a crash in the simulator): a bug, reported as a failure. */
  error: string | null;
}

export function traceFileName(job: Pick<SweepJob, 'scenario' | 'seed' | 'mutant'>): string {
  return `${job.scenario}${job.mutant ? `-${job.mutant}` : ''}-seed${job.seed}.trace`;
}

function configOf(job: SweepJob): PartialRunConfig {
  const scenario = scenarioNamed(job.scenario);
  if (scenario === undefined) throw new Error(`unknown scenario '${job.scenario}'`);
  return job.durationMs === undefined ? scenario.config : { ...scenario.config, durationMs: job.durationMs };
}

/** Runs one job with the given runner (the real tree's or a mutant's). Never throws. */
export async function runJob(job: SweepJob, run: RunSimulation): Promise<SweepJobResult> {
  const started = performance.now();
  const base = { index: job.index, scenario: job.scenario, seed: job.seed };
  try {
    const scenario = scenarioNamed(job.scenario)!;
    const config = configOf(job);
    const result = run({ seed: job.seed, config });
    const asExpected = meetsExpectation(scenario.expect, result.verdicts);
    let trace: string | null = null;
    if (job.outDir !== null && (job.traceAll || !asExpected || !result.ok)) {
      trace = join(job.outDir, traceFileName(job));
      const recorded = await recordTrace({ scenario: job.scenario, seed: job.seed, config, expect: scenario.expect, mutant: job.mutant });
      if (recorded.result.hash !== result.hash) throw new Error(`the recorded re-run differs from the first run (hash ${recorded.result.hash} vs ${result.hash}): nondeterminism`);
      writeTraceFile(trace, recorded.trace);
    }
    return {
      ...base,
      ok: result.ok,
      asExpected,
      failed: result.verdicts.filter((v) => !v.ok).map((v) => v.summary),
      ops: result.summary.operations.total,
      simulatedMs: result.summary.simulatedMs,
      wallMs: performance.now() - started,
      events: result.summary.events,
      hash: result.hash,
      trace,
      error: null,
    };
  } catch (err) {
    const error = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    return { ...base, ok: false, asExpected: false, failed: [], ops: 0, simulatedMs: 0, wallMs: performance.now() - started, events: 0, hash: '', trace: null, error };
  }
}

/** Runs jobs one after another in this thread, with the mutant's tree materialized once for all of them. */
export async function runJobsInline(jobs: readonly SweepJob[], mutant: string | null, onResult: (r: SweepJobResult) => void): Promise<void> {
  await withRunner(mutant, async (run) => {
    for (const job of jobs) onResult(await runJob(job, run));
  });
}
