// `raftsim sweep [<scenario>...|--all] [--seeds A..B] [--workers N] [--shard K/N] [--out DIR]`: many seeded runs
// on all cores, a progress bar, a table per scenario, and a trace for every run that missed its expectation.
import { availableParallelism } from 'node:os';
import { describeExpectation, scenarioNamed, scenarioNames, scenarios } from '../scenarios/index.ts';
import { allMutants, mutantNamed } from '../sim/mutants/index.ts';
import type { SweepJob, SweepJobResult } from '../sim/sweep/job.ts';
import { runSweepJobs } from '../sim/sweep/pool.ts';
import { parseFlags, parseInteger } from './args.ts';
import { parseDuration } from './run.ts';
import { UsageError } from './usage.ts';

export const usage = 'sweep [<scenario>...|--all] [--seeds A..B] [--workers N] [--shard K/N] [--out DIR] [--duration D] [--mutant BUG] [--trace-all] [--json]';

export function parseSeeds(text: string | undefined): { from: number; to: number } {
  if (text === undefined) return { from: 1, to: 5 };
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`--seeds takes A..B or one seed, got '${text}'`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (to > 0xffffffff) throw new UsageError(`--seeds: seeds must be below 2^32, got '${text}'`);
  if (to < from) throw new UsageError(`--seeds: ${to} is below ${from}`);
  if (to - from >= 1_000_000) throw new UsageError(`--seeds: at most 1,000,000 seeds per sweep, got ${to - from + 1}`);
  return { from, to };
}

export function parseShard(text: string | undefined): { k: number; n: number } {
  if (text === undefined) return { k: 1, n: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const k = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || n < 1 || k < 1 || k > n) throw new UsageError(`--shard takes K/N with 1 <= K <= N, got '${text}'`);
  return { k, n };
}

/** Jobs in a fixed order (scenario by scenario, seed by seed); shard K of N takes every N-th from the K-th. */
export function sweepJobs(names: readonly string[], seeds: { from: number; to: number }, shard: { k: number; n: number }, rest: Omit<SweepJob, 'index' | 'scenario' | 'seed'>): SweepJob[] {
  const jobs: SweepJob[] = [];
  let index = 0;
  for (const scenario of names) {
    for (let seed = seeds.from; seed <= seeds.to; seed++, index++) {
      if (index % shard.n === shard.k - 1) jobs.push({ index, scenario, seed, ...rest });
    }
  }
  return jobs;
}

const clock = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

function bar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return '#'.repeat(filled) + '-'.repeat(width - filled);
}

interface ScenarioRow {
  runs: number;
  asExpected: number;
  ops: number;
  simulatedMs: number;
  wallMs: number;
}

export function formatTable(results: readonly SweepJobResult[]): string {
  const rows = new Map<string, ScenarioRow>();
  for (const r of results) {
    const row = rows.get(r.scenario) ?? { runs: 0, asExpected: 0, ops: 0, simulatedMs: 0, wallMs: 0 };
    row.runs++;
    if (r.asExpected) row.asExpected++;
    row.ops += r.ops;
    row.simulatedMs += r.simulatedMs;
    row.wallMs += r.wallMs;
    rows.set(r.scenario, row);
  }
  const width = Math.max(8, ...[...rows.keys()].map((k) => k.length));
  const expectationOf = (name: string): string => describeExpectation(scenarioNamed(name)?.expect ?? { kind: 'pass' });
  const ew = Math.max(11, ...[...rows.keys()].map((k) => expectationOf(k).length));
  const head = `${'scenario'.padEnd(width)}  runs  expected  unexpected  ${'expectation'.padEnd(ew)}     ops   sim/run  wall/run`;
  const lines = [head, '-'.repeat(head.length)];
  for (const [name, row] of rows) {
    lines.push(
      `${name.padEnd(width)}  ${String(row.runs).padStart(4)}  ${String(row.asExpected).padStart(8)}  ${String(row.runs - row.asExpected).padStart(10)}  ${expectationOf(name).padEnd(ew)}  ${String(row.ops).padStart(6)}  ${(row.simulatedMs / row.runs / 1000).toFixed(1).padStart(6)}s  ${(row.wallMs / row.runs / 1000).toFixed(1).padStart(7)}s`,
    );
  }
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    all: { type: 'boolean' },
    seeds: { type: 'string' },
    workers: { type: 'string' },
    shard: { type: 'string' },
    out: { type: 'string' },
    duration: { type: 'string' },
    mutant: { type: 'string' },
    'trace-all': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.all && positionals.length > 0) throw new UsageError('give scenario names or --all, not both');
  for (const name of positionals) {
    if (scenarioNamed(name) === undefined) throw new UsageError(`unknown scenario '${name}' (known: ${scenarioNames().join(', ')})`);
  }
  const names = positionals.length > 0 ? [...new Set(positionals)] : scenarios.map((s) => s.name);
  const seeds = parseSeeds(values.seeds);
  const shard = parseShard(values.shard);
  const workers = parseInteger('--workers', values.workers, availableParallelism(), 1);
  if (workers > 256) throw new UsageError(`--workers must be at most 256, got '${values.workers}'`);
  const mutant = values.mutant ?? null;
  if (mutant !== null && mutantNamed(mutant) === undefined) throw new UsageError(`unknown --mutant '${mutant}' (known: ${allMutants.map((m) => m.name).join(', ')})`);
  const durationMs = values.duration === undefined ? undefined : parseDuration('--duration', values.duration, 0);
  const outDir = values.out ?? 'out';
  const jobs = sweepJobs(names, seeds, shard, { durationMs, mutant, outDir, traceAll: values['trace-all'] === true });

  const tty = process.stderr.isTTY === true && !values.json;
  const say = (line: string): void => void process.stdout.write(line + '\n');
  const note = (line: string): void => void process.stderr.write(line + '\n');
  note(`sweep: ${jobs.length} runs (${names.length} scenario(s) x seeds ${seeds.from}..${seeds.to}${shard.n > 1 ? `, shard ${shard.k}/${shard.n}` : ''}) on ${Math.min(workers, Math.max(jobs.length, 1))} worker(s)${mutant ? ` with mutant ${mutant}` : ''}`);
  const started = performance.now();
  const results: SweepJobResult[] = [];
  let unexpected = 0;
  const onResult = (r: SweepJobResult): void => {
    results.push(r);
    if (!r.asExpected) unexpected++;
    const elapsed = performance.now() - started;
    const eta = results.length === 0 ? 0 : (elapsed / results.length) * (jobs.length - results.length);
    const status = `[${bar(results.length, jobs.length)}] ${results.length}/${jobs.length} runs, ${unexpected} unexpected, elapsed ${clock(elapsed)}, ETA ${clock(eta)}`;
    const outcome = r.error !== null ? `ERROR ${r.error}` : r.asExpected ? (r.ok ? 'ok' : 'violation found, as expected') : `UNEXPECTED ${r.failed[0] ?? 'no violation found'}`;
    if (values.json) say(JSON.stringify(r));
    if (tty) process.stderr.write(`\r\x1b[K${status}  ${r.scenario} seed ${r.seed}: ${outcome.slice(0, 60)}`);
    else note(`${status} | ${r.scenario} seed ${r.seed}: ${outcome}`);
  };
  await runSweepJobs(jobs, { workers, mutant, onResult });
  if (tty) process.stderr.write('\n');

  results.sort((a, b) => a.index - b.index);
  const wall = performance.now() - started;
  if (!values.json) {
    say(formatTable(results));
    for (const r of results.filter((x) => !x.asExpected)) {
      say(`UNEXPECTED ${r.scenario} seed ${r.seed}: ${r.error ?? (r.failed.join('; ') || 'the expected violation was not found')}`);
      if (r.trace !== null) say(`  trace ${r.trace}: raftsim replay ${r.trace} | raftsim shrink ${r.trace} | raftsim view ${r.trace}`);
    }
  }
  const summary = `${results.length} runs in ${clock(wall)}: ${results.length - unexpected} as expected, ${unexpected} unexpected`;
  if (values.json) say(JSON.stringify({ runs: results.length, asExpected: results.length - unexpected, unexpected, wallMs: Math.round(wall) }));
  else say(summary);
  return unexpected === 0 ? 0 : 1;
}
