// `raftsim shrink <trace> [--out FILE] [--max-runs N] [--budget 5m] [--checker NAME]`: cuts a failing run down to
// the smallest run found that still fails the same check, re-running every candidate, and writes it as a trace.
import { statSync } from 'node:fs';
import { CHECKERS, TraceError, writeTraceFile } from '../sim/trace/format.ts';
import { NothingToShrink, shrinkTrace, type RunSize } from '../sim/trace/shrink.ts';
import { parseFlags, parseInteger } from './args.ts';
import { parseDuration } from './run.ts';
import { readTraceArgument } from './trace-argument.ts';
import { UsageError } from './usage.ts';

export const usage = 'shrink <trace> [--out FILE] [--max-runs N] [--budget 5m] [--checker NAME] [--json]';

function defaultOut(file: string): string {
  return `${file.endsWith('.trace') ? file.slice(0, -'.trace'.length) : file}.shrunk.trace`;
}

type Sized = RunSize & { bytes: number };

const ROWS: Array<[string, (s: Sized) => string]> = [
  ['size (faults + requests)', (s) => String(s.size)],
  ['fault events', (s) => String(s.faults)],
  ['client workers', (s) => String(s.clients)],
  ['client requests', (s) => String(s.requests)],
  ['history operations', (s) => String(s.operations)],
  ['nodes', (s) => String(s.nodes)],
  ['simulated', (s) => `${(s.simulatedMs / 1000).toFixed(1)}s`],
  ['world events', (s) => String(s.events)],
  ['file bytes', (s) => String(s.bytes)],
];

export function formatSizes(before: Sized, after: Sized): string {
  const width = Math.max(...ROWS.map(([name]) => name.length));
  const lines = [`${''.padEnd(width)}  ${'before'.padStart(10)}  ${'after'.padStart(10)}`];
  for (const [name, show] of ROWS) lines.push(`${name.padEnd(width)}  ${show(before).padStart(10)}  ${show(after).padStart(10)}`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    out: { type: 'string' },
    'max-runs': { type: 'string' },
    budget: { type: 'string' },
    checker: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one trace file, got ${positionals.length}; usage: raftsim ${usage}`);
  const file = positionals[0]!;
  const maxRuns = parseInteger('--max-runs', values['max-runs'], 1000, 1);
  const budgetMs = parseDuration('--budget', values.budget, 5 * 60_000);
  const checker = values.checker;
  if (checker !== undefined && !(CHECKERS as readonly string[]).includes(checker)) throw new UsageError(`unknown --checker '${checker}' (known: ${CHECKERS.join(', ')})`);
  const out = values.out ?? defaultOut(file);
  const trace = readTraceArgument(file);
  const { header } = trace;
  const note = (line: string): void => void process.stderr.write(line + '\n');
  let result;
  try {
    result = await shrinkTrace(trace, {
      maxRuns,
      budgetMs,
      checker,
      onStart: (target, size) =>
        note(`shrinking ${file}: scenario ${header.scenario}, seed ${header.seed}${header.mutant ? `, mutant ${header.mutant}` : ''}: ${target.checker} fails; size ${size.size}, ${size.events} world events; every candidate is a full re-run (budget ${maxRuns} runs, ${Math.round(budgetMs / 1000)}s)`),
      onStep: (step) => note(`  run ${step.runs}: ${step.what} (size ${step.size.size}, ${step.size.events} world events)`),
    });
  } catch (err) {
    if (err instanceof NothingToShrink || err instanceof TraceError) throw new UsageError(err.message);
    throw err;
  }
  writeTraceFile(out, result.trace);
  const after = { ...result.after, bytes: statSync(out).size };
  const before = { ...result.before, bytes: statSync(file).size };
  if (result.originalDiverged) note(`raftsim shrink: warning: ${file} no longer replays to its recorded run hash (a changed tree?); shrank the run this tree makes, which still fails ${result.target.checker}`);
  const stopped = result.stoppedBy === 'done' ? 'no smaller failing run found' : result.stoppedBy === 'budget' ? 'stopped at the time budget' : 'stopped at the run budget';
  if (values.json) {
    process.stdout.write(JSON.stringify({ trace: out, checker: result.target.checker, before, after, runs: result.runs, accepted: result.steps.length, wallMs: Math.round(result.wallMs), stoppedBy: result.stoppedBy }) + '\n');
  } else {
    const say = (line: string): void => void process.stdout.write(line + '\n');
    say(`shrunk: ${result.target.checker} still fails; ${result.runs} runs, ${result.steps.length} accepted, ${(result.wallMs / 1000).toFixed(1)}s (${stopped})`);
    say(formatSizes(before, after));
    const verdict = result.trace.end.verdicts.find((v) => v.checker === result.target.checker);
    if (verdict !== undefined) say(verdict.summary);
    say(`written to ${out}; replay it with: raftsim replay ${out}`);
  }
  return 0;
}
