// One bug of the zoo, start to finish: sweep seeds of its catching run with the mutant applied until a run fails
// a check, record that run as a trace, shrink it, and write the shrunk trace. bench/zoo.ts runs one job per bug,
// on worker threads (bench/zoo-worker.mjs) or inline.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { catchBug, zooBugNamed, zooConfig } from '../sim/mutants/zoo.ts';
import { writeTraceFile } from '../sim/trace/format.ts';
import { recordTrace, withRunner } from '../sim/trace/record.ts';
import { shrinkTrace, type RunSize } from '../sim/trace/shrink.ts';

export interface ZooJobOptions {
  maxSeeds: number;
  catchBudgetMs: number;
  shrinkBudgetMs: number;
  shrinkMaxRuns: number;
  /** Where shrunk traces go; null: not written. */
  outDir: string | null;
}

export interface ZooJobResult {
  name: string;
  caughtBy: string;
  /** First failing seed, or null when no run within the budget failed a check. */
  seed: number | null;
  seedsRun: number;
  /** Wall time from the start of the job (mutant copy included) to the first failing run's verdicts. */
  catchMs: number;
  failed: string[];
  shrink: {
    checker: string;
    /** The shrunk run's verdict for that checker (its first violation). */
    verdict: string;
    before: RunSize & { bytes: number };
    after: RunSize & { bytes: number };
    runs: number;
    ms: number;
    stoppedBy: string;
    trace: string | null;
  } | null;
  error: string | null;
}

export async function zooJob(name: string, options: ZooJobOptions): Promise<ZooJobResult> {
  const started = performance.now();
  const bug = zooBugNamed(name);
  const base: ZooJobResult = { name, caughtBy: bug?.caughtBy ?? '', seed: null, seedsRun: 0, catchMs: 0, failed: [], shrink: null, error: null };
  if (bug === undefined) return { ...base, error: `no zoo bug named ${name}` };
  try {
    const caught = await withRunner(name, (run) => catchBug(bug, run, { maxSeeds: options.maxSeeds, budgetMs: options.catchBudgetMs }));
    const result: ZooJobResult = { ...base, seed: caught.seed, seedsRun: caught.seedsRun, catchMs: Math.round(performance.now() - started), failed: caught.failed };
    if (caught.seed === null) return result;
    const { trace } = await recordTrace({ scenario: `zoo/${name}`, seed: caught.seed, config: zooConfig(bug), expect: { kind: 'pass' }, mutant: name });
    const shrinkStarted = performance.now();
    const shrunk = await shrinkTrace(trace, {
      checker: caught.failed.includes(bug.caughtBy) ? bug.caughtBy : undefined,
      budgetMs: options.shrinkBudgetMs,
      maxRuns: options.shrinkMaxRuns,
    });
    const ms = Math.round(performance.now() - shrinkStarted);
    let file: string | null = null;
    if (options.outDir !== null) {
      file = join(options.outDir, `${name}-seed${caught.seed}.shrunk.trace`);
      writeTraceFile(file, shrunk.trace);
    }
    const verdict = shrunk.trace.end.verdicts.find((v) => v.checker === shrunk.target.checker)?.summary ?? '';
    result.shrink = { checker: shrunk.target.checker, verdict, before: shrunk.before, after: shrunk.after, runs: shrunk.runs, ms, stoppedBy: shrunk.stoppedBy, trace: file };
    return result;
  } catch (err) {
    return { ...base, catchMs: Math.round(performance.now() - started), error: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}
