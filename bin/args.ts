import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage.ts';

// Node's own parseArgs does the parsing; this only turns its exceptions into one-line usage errors.
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = true,
) {
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
