import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage.ts';

/** `--help` or `-h` among a command's flags: main prints the command's usage with the flags its parser takes. */
export class HelpRequested extends Error {
  constructor(readonly flags: string[]) {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

// Node's own parseArgs does the parsing; this only turns its exceptions into one-line usage errors, and answers
// --help from the same option table the parser uses, so a command's help always lists the flags it takes.
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = true,
) {
  const end = argv.indexOf('--');
  const flags = end < 0 ? argv : argv.slice(0, end);
  if (flags.includes('--help') || flags.includes('-h')) {
    throw new HelpRequested(Object.entries(options).map(([name, o]) => `--${name}${o.type === 'string' ? ' VALUE' : ''}${o.multiple ? ' (repeatable)' : ''}`));
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.split('\n')[0]! : String(err));
  }
}

export function parseInteger(flag: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${flag} takes a whole number, got '${text}'`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError(`${flag} must be an integer >= ${min}, got '${text}'`);
  return value;
}
