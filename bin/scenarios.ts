// `raftsim scenarios [--json]`: the catalogue, one line per scenario (or its full data as JSON).
import { describeExpectation, scenarios } from '../scenarios/index.ts';
import { parseFlags } from './args.ts';
import { UsageError } from './usage.ts';

export const usage = 'scenarios [--json]';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: raftsim ${usage}`);
  if (values.json) {
    process.stdout.write(JSON.stringify(scenarios, null, 2) + '\n');
    return 0;
  }
  const width = Math.max(...scenarios.map((s) => s.name.length));
  for (const s of scenarios) process.stdout.write(`${s.name.padEnd(width)}  ${s.description} (expects: ${describeExpectation(s.expect)})\n`);
  return 0;
}
