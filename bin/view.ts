// `raftsim view <trace> [--out FILE.html]`: draws a trace as one self-contained HTML page (sim/trace/view.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { renderView } from '../sim/trace/view.ts';
import { DEFAULT_MAX_MESSAGES } from '../sim/trace/view-model.ts';
import { parseFlags, parseInteger } from './args.ts';
import { readTraceArgument } from './trace-argument.ts';
import { UsageError } from './usage.ts';

export const usage = 'view <trace> [--out FILE.html] [--max-messages N]';

/** t.trace -> t.html next to it. */
export function defaultOutput(tracePath: string): string {
  return tracePath.replace(/(\.trace)?$/, '.html');
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { out: { type: 'string' }, 'max-messages': { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError(`expected one trace file, got ${positionals.length}; usage: raftsim ${usage}`);
  const file = positionals[0]!;
  const out = values.out ?? defaultOutput(file);
  if (out.length === 0) throw new UsageError('--out needs a file name');
  if (resolve(out) === resolve(file)) throw new UsageError(`--out ${out} is the trace itself; name another file`);
  const maxMessages = parseInteger('--max-messages', values['max-messages'], DEFAULT_MAX_MESSAGES, 0);
  const trace = readTraceArgument(file);
  const started = performance.now();
  const view = renderView(trace, { tracePath: file, maxMessages });
  try {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, view.html);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : code === 'ENOTDIR' || code === 'EEXIST' ? 'a parent of it is a file' : (err as Error).message;
    throw new UsageError(`cannot write ${out}: ${why}`);
  }
  const m = view.data.messages;
  const messages = m.embedded === m.total ? `${m.total} messages` : `${m.embedded} of ${m.total} messages (--max-messages)`;
  process.stdout.write(
    `wrote ${out}: ${(view.bytes / 1e6).toFixed(2)} MB (data ${(view.dataBytes / 1e6).toFixed(2)} MB: ${view.data.nodes.length} node lanes, ${view.data.faults.length} faults, ${messages}, ${view.data.ops.id.length} operations) in ${((performance.now() - started) / 1000).toFixed(1)}s\n`,
  );
  if (view.data.failure !== null) process.stdout.write(`the page opens on the violation: key ${view.data.failure.key}, ${view.data.failure.windowStart.toFixed(3)}..${view.data.failure.windowEnd.toFixed(3)} ms\n`);
  return 0;
}
