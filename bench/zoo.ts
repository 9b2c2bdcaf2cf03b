// The bug zoo, measured: for each bug of sim/mutants/zoo.ts, seeds of its catching run are swept with the bug's
// mutant until a run fails a check; the failing run is then shrunk (`raftsim shrink`). Prints one JSON line: per
// bug the first failing seed, seeds run and wall time to it, the checks that failed, and the shrunk trace's size
// (fault events + client requests, see docs/TRACE.md), world events and shrink time. Progress goes to stderr.
// Bugs run in parallel on worker threads, one bug per worker at a time; every figure is wall time on a machine
// that may be shared, so the load average at the start is printed too.
// Run: npx tsx bench/zoo.ts [--bugs a,b] [--seeds 200] [--catch-budget 60s] [--shrink-budget 60s]
//                           [--shrink-runs 400] [--workers N] [--out out/zoo]
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { parseDuration } from '../bin/run.ts';
import { zoo } from '../sim/mutants/zoo.ts';
import { zooJob, type ZooJobOptions, type ZooJobResult } from './zoo-job.ts';

const USAGE = 'bench/zoo.ts [--bugs a,b] [--seeds N] [--catch-budget 60s] [--shrink-budget 60s] [--shrink-runs N] [--workers N] [--out DIR]';

function fail(message: string): never {
  process.stderr.write(`bench/zoo: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): { bugs: string[]; workers: number; options: ZooJobOptions } {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    if (!['--bugs', '--seeds', '--catch-budget', '--shrink-budget', '--shrink-runs', '--workers', '--out'].includes(flag)) fail(`unknown argument ${flag} (usage: ${USAGE})`);
    const value = argv[i + 1];
    if (value === undefined) fail(`${flag} needs a value (usage: ${USAGE})`);
    values.set(flag, value);
  }
  const positive = (flag: string, fallback: number): number => {
    const text = values.get(flag);
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) < 1) fail(`${flag} must be a positive integer, got ${text}`);
    return Number(text);
  };
  const duration = (flag: string, fallback: number): number => {
    try {
      return parseDuration(flag, values.get(flag), fallback);
    } catch (err) {
      return fail((err as Error).message);
    }
  };
  const names = zoo.map((b) => b.name);
  const bugs = values.get('--bugs')?.split(',') ?? names;
  for (const b of bugs) if (!names.includes(b)) fail(`--bugs: no zoo bug named ${b} (known: ${names.join(', ')})`);
  return {
    bugs,
    workers: positive('--workers', Math.min(2, availableParallelism())),
    options: {
      maxSeeds: positive('--seeds', 200),
      catchBudgetMs: duration('--catch-budget', 60_000),
      shrinkBudgetMs: duration('--shrink-budget', 60_000),
      shrinkMaxRuns: positive('--shrink-runs', 400),
      outDir: values.get('--out') ?? 'out/zoo',
    },
  };
}

function runOnWorkers(bugs: readonly string[], workers: number, options: ZooJobOptions, onResult: (r: ZooJobResult) => void): Promise<void> {
  const queue = [...bugs];
  let remaining = bugs.length;
  return new Promise((resolve) => {
    for (let i = 0; i < Math.min(workers, bugs.length); i++) {
      const worker = new Worker(new URL('./zoo-worker.mjs', import.meta.url), { workerData: options });
      let current: string | null = null;
      const next = (): void => {
        current = queue.shift() ?? null;
        worker.postMessage(current);
      };
      worker.on('message', (message: ZooJobResult | 'ready') => {
        if (message !== 'ready') {
          current = null;
          onResult(message);
          if (--remaining === 0) resolve();
        }
        next();
      });
      worker.on('error', (err) => {
        if (current !== null) onResult({ name: current, caughtBy: '', seed: null, seedsRun: 0, catchMs: 0, failed: [], shrink: null, error: `worker died: ${err.message}` });
        if (current !== null && --remaining === 0) resolve();
      });
    }
  });
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

const { bugs, workers, options } = parseArgs(process.argv.slice(2));
const load = Math.round(loadavg()[0]! * 10) / 10;
process.stderr.write(`bench/zoo: ${bugs.length} bugs, up to ${options.maxSeeds} seeds and ${options.catchBudgetMs / 1000}s each, shrink budget ${options.shrinkBudgetMs / 1000}s, ${workers} worker(s), load average ${load}\n`);
const started = performance.now();
const results: ZooJobResult[] = [];
const onResult = (r: ZooJobResult): void => {
  results.push(r);
  const caught = r.seed === null ? `NOT CAUGHT in ${r.seedsRun} seeds (${(r.catchMs / 1000).toFixed(1)}s)` : `caught at seed ${r.seed} in ${(r.catchMs / 1000).toFixed(1)}s by ${r.failed.join(', ')}`;
  const shrunk = r.shrink === null ? '' : `; shrunk ${r.shrink.before.size} -> ${r.shrink.after.size} (${r.shrink.after.events} world events) in ${(r.shrink.ms / 1000).toFixed(1)}s`;
  process.stderr.write(`  [${results.length}/${bugs.length}] ${r.name}: ${r.error ?? caught + shrunk}\n`);
};
if (workers === 1) for (const name of bugs) onResult(await zooJob(name, options));
else await runOnWorkers(bugs, workers, options, onResult);

const ordered = bugs.map((name) => results.find((r) => r.name === name)!);
const caught = ordered.filter((r) => r.seed !== null);
const shrunk = caught.filter((r) => r.shrink !== null).map((r) => r.shrink!.after.size);
console.log(
  JSON.stringify({
    bench: 'zoo',
    bugs: ordered.length,
    caught: caught.length,
    missed: ordered.filter((r) => r.seed === null).map((r) => r.name),
    maxSeedsToCatch: caught.length === 0 ? null : Math.max(...caught.map((r) => r.seedsRun)),
    medianCatchMs: median(caught.map((r) => r.catchMs)),
    maxCatchMs: caught.length === 0 ? null : Math.max(...caught.map((r) => r.catchMs)),
    medianShrunkSize: median(shrunk),
    maxShrunkSize: shrunk.length === 0 ? null : Math.max(...shrunk),
    workers,
    loadAverage: load,
    wallMs: Math.round(performance.now() - started),
    limits: options,
    results: ordered.map((r) => ({
      name: r.name,
      caughtBy: r.caughtBy,
      seed: r.seed,
      seedsRun: r.seedsRun,
      catchMs: r.catchMs,
      failed: r.failed,
      shrink:
        r.shrink === null
          ? null
          : {
              checker: r.shrink.checker,
              verdict: r.shrink.verdict.slice(0, 200),
              sizeBefore: r.shrink.before.size,
              sizeAfter: r.shrink.after.size,
              faultsAfter: r.shrink.after.faults,
              requestsAfter: r.shrink.after.requests,
              nodesAfter: r.shrink.after.nodes,
              eventsBefore: r.shrink.before.events,
              eventsAfter: r.shrink.after.events,
              simulatedMsAfter: r.shrink.after.simulatedMs,
              bytesAfter: r.shrink.after.bytes,
              runs: r.shrink.runs,
              ms: r.shrink.ms,
              stoppedBy: r.shrink.stoppedBy,
              trace: r.shrink.trace,
            },
      error: r.error,
    })),
  }),
);
