import { readTraceFile, TraceError, type Trace } from '../sim/trace/format.ts';
import { UsageError } from './usage.ts';

/** Reads the trace a command was given; a missing or damaged file is bad input (one line, exit 2). */
export function readTraceArgument(path: string): Trace {
  try {
    return readTraceFile(path);
  } catch (err) {
    if (err instanceof TraceError) throw new UsageError(err.message);
    throw err;
  }
}
