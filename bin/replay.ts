// `raftsim replay <trace>`: re-runs a trace and checks the run hash after every event against the recorded one.
// A difference is nondeterminism (or a changed tree): it names the first diverging event. Otherwise it prints
// the verdicts the original run had, re-judged.
import { describeExpectation, meetsExpectation } from '../scenarios/index.ts';
import { RAFTSIM_VERSION, type TraceEvent } from '../sim/trace/format.ts';
import { replayTrace } from '../sim/trace/record.ts';
import { parseFlags } from './args.ts';
import { readTraceArgument } from './trace-argument.ts';
import { UsageError } from './usage.ts';

export const usage = 'replay <trace> [--quiet]';

const show = (e: TraceEvent | null): string => (e === null ? '(no event: the run ended here)' : `${e.text} [hash ${e.hash}]`);

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { quiet: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(`expected one trace file, got ${positionals.length}; usage: raftsim ${usage}`);
  const file = positionals[0]!;
  const trace = readTraceArgument(file);
  const { header, end } = trace;
  const say = (line: string): void => void process.stdout.write(line + '\n');
  say(`replaying ${file}: scenario ${header.scenario}, seed ${header.seed}${header.mutant ? `, mutant ${header.mutant}` : ''}, ${end.events} events, written by raftsim ${header.raftsim}`);
  if (header.raftsim !== RAFTSIM_VERSION) process.stderr.write(`raftsim replay: warning: the trace was written by raftsim ${header.raftsim}, this is ${RAFTSIM_VERSION}; a divergence may be a change of code, not nondeterminism\n`);
  const progress = !values.quiet && process.stderr.isTTY === true;
  const started = performance.now();
  const outcome = await replayTrace(trace, progress ? (n) => process.stderr.write(`\r  ${n}/${end.events} events identical`) : undefined);
  if (progress) process.stderr.write('\n');
  const d = outcome.divergence;
  if (d !== null) {
    say(`DIVERGED at event ${d.index} (after ${outcome.replayedEvents} identical events)`);
    say(`  recorded: ${show(d.recorded)}`);
    say(`  replayed: ${show(d.replayed)}`);
    if (d.recorded === null && d.replayed === null) say(`  every event matched, but the final run hash differs: recorded ${end.hash}, replayed ${outcome.result?.hash}`);
    process.stderr.write(`raftsim replay: the run is not reproducible from ${file}\n`);
    return 1;
  }
  const result = outcome.result!;
  say(`identical: ${outcome.replayedEvents} events, run hash ${result.hash} (${((performance.now() - started) / 1000).toFixed(1)}s)`);
  for (const v of result.verdicts) say(`${v.ok ? 'ok  ' : 'FAIL'}  ${v.summary}`);
  const asExpected = meetsExpectation(header.expect, result.verdicts);
  // A checker added since the trace was written has no recorded verdict to differ from.
  const same = result.verdicts.every((v) => {
    const recorded = end.verdicts.find((w) => w.checker === v.checker);
    return recorded === undefined || recorded.ok === v.ok;
  });
  say(`expected: ${describeExpectation(header.expect)}: ${asExpected ? 'yes' : 'NO'}; verdicts ${same ? 'the same as' : 'DIFFERENT from'} the original run`);
  if (!same) return 1;
  return asExpected ? 0 : 1;
}
