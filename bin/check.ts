// `raftsim check <files...> --format F`: checks recorded histories for linearizability, one line per file.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FORMATS, FormatError, parseHistory, parseRaftsimFile, type FormatName, type RaftsimFile } from '../sim/check/formats.ts';
import type { CheckResult, History } from '../sim/check/history.ts';
import { checkRun } from '../sim/check/index.ts';
import { checkHistory, modelFor, type LinearizabilityResult } from '../sim/check/linearizability.ts';
import { renderReport } from '../sim/check/report.ts';
import { parseFlags, parseInteger } from './args.ts';
import { UsageError } from './usage.ts';

export const usage = 'check <files...> --format jepsen-etcd|porcupine-kv|raftsim [--report DIR] [--timeout-ms N] [--all-keys]';

const MAX_VIOLATION_LINES = 20;

function formatMs(ms: number): string {
  return ms.toFixed(1);
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    format: { type: 'string' },
    report: { type: 'string' },
    'timeout-ms': { type: 'string' },
    'all-keys': { type: 'boolean' },
  });
  const format = values.format;
  if (format === undefined) throw new UsageError(`--format is required (${FORMATS.join('|')}); usage: raftsim ${usage}`);
  if (!FORMATS.includes(format as FormatName)) throw new UsageError(`unknown --format '${format}' (expected ${FORMATS.join(', ')})`);
  if (positionals.length === 0) throw new UsageError(`no history files given; usage: raftsim ${usage}`);
  const timeoutMs = parseInteger('--timeout-ms', values['timeout-ms'], 60_000, 1);

  // Parse everything first: bad input anywhere is exit 2 before any verdict is printed.
  const histories: History[] = [];
  const extras: (RaftsimFile | undefined)[] = [];
  for (const file of positionals) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      process.stderr.write(`raftsim check: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code}\n`);
      return 2;
    }
    try {
      if (format === 'raftsim') {
        const file = parseRaftsimFile(text);
        histories.push(file.history);
        extras.push(file);
      } else {
        histories.push(parseHistory(format as FormatName, text));
        extras.push(undefined);
      }
    } catch (err) {
      if (err instanceof FormatError) {
        process.stderr.write(`raftsim check: ${file}:${err.line}: ${err.reason}\n`);
        return 2;
      }
      throw err;
    }
  }

  let totalMs = 0;
  let allHeld = true;
  for (let i = 0; i < positionals.length; i++) {
    const file = positionals[i]!;
    const history = histories[i]!;
    const started = performance.now();
    const options = { timeoutMs, stopAtFirstFailure: !values['all-keys'] };
    const extra = extras[i];
    let result: LinearizabilityResult;
    let others: CheckResult[] = [];
    if (extra) {
      const verdict = checkRun(extra, options);
      result = verdict.linearizability;
      others = verdict.others.filter((r) => !r.ok);
    } else result = checkHistory(history, options);
    const ms = performance.now() - started;
    totalMs += ms;
    const verdict = result.verdict === 'linearizable' && others.length > 0 ? 'violation' : result.verdict;
    process.stdout.write(`${file}\t${verdict}\t${formatMs(ms)}\n`);
    for (const other of others) {
      process.stderr.write(`${file}: ${other.summary}\n`);
      // Every violation after the first on its own line, up to a screenful.
      for (const v of other.violations.slice(1, MAX_VIOLATION_LINES)) process.stderr.write(`${file}: ${other.checker}: ${v.property}: ${v.explanation}\n`);
      if (other.violations.length > MAX_VIOLATION_LINES) process.stderr.write(`${file}: ${other.checker}: ... ${other.violations.length - MAX_VIOLATION_LINES} more\n`);
    }
    if (verdict === 'linearizable') continue;
    allHeld = false;
    if (result.verdict === 'linearizable') continue;
    process.stderr.write(`${file}: ${result.explanation}\n`);
    if (values.report !== undefined) {
      for (const partition of result.partitions) {
        if (!partition.failure) continue;
        const suffix = result.partitions.filter((p) => p.failure).length > 1 ? `.${partition.key.replace(/[^A-Za-z0-9_-]/g, '_')}` : '';
        const out = join(values.report, `${basename(file)}${suffix}.html`);
        const html = renderReport({ title: `${basename(file)}: not linearizable`, model: modelFor(history.model), ops: history.ops, failure: partition.failure });
        try {
          mkdirSync(values.report, { recursive: true });
          writeFileSync(out, html);
        } catch (err) {
          process.stderr.write(`raftsim check: cannot write the report ${out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
          return 2;
        }
        process.stderr.write(`${file}: report ${out}\n`);
      }
    }
  }
  process.stdout.write(`TOTAL\t-\t${formatMs(totalMs)}\n`);
  return allHeld ? 0 : 1;
}
