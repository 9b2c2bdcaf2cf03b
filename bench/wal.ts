// Benchmark of the write-ahead log on the real disk: synced appends per second and fsyncs per second with 1
// and 64 concurrent writers (each writer awaits its save before the next, as a server handling that many
// in-flight proposals would), so the effect of group commit shows as appends per fsync. Also the recovery scan
// rate of the log written. Prints one JSON line.
//
// Run: npx tsx bench/wal.ts [--dir PATH] [--seconds S] [--entry-bytes N]
//   --dir: where to put the temporary data dir (default the OS temp dir; point it at the disk you will use).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { WriteAheadLog } from '../net/storage/index.ts';

const MAX_APPENDS_PER_RUN = 200_000;

function usage(message: string): never {
  console.error(`bench/wal: ${message}`);
  process.exit(2);
}

function positive(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) usage(`${flag} must be a positive number, got '${text}'`);
  return n;
}

let flags;
try {
  flags = parseArgs({ options: { dir: { type: 'string' }, seconds: { type: 'string' }, 'entry-bytes': { type: 'string' } }, strict: true }).values;
} catch (err) {
  usage((err as Error).message.split('\n')[0]!);
}
const seconds = positive('--seconds', flags.seconds, 2);
const entryBytes = Math.floor(positive('--entry-bytes', flags['entry-bytes'], 128));
const parent = flags.dir ?? tmpdir();

interface RunFigures {
  appendsPerSec: number;
  fsyncsPerSec: number;
  appendsPerFsync: number;
  meanLatencyMs: number;
}

async function run(writers: number): Promise<{ figures: RunFigures; dir: string }> {
  let dir: string;
  try {
    dir = mkdtempSync(join(parent, 'raftsim-bench-wal-'));
  } catch (err) {
    usage(`cannot create a temp dir in ${parent}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const { wal } = await WriteAheadLog.open({ dir, log: () => undefined });
  const data = new Uint8Array(entryBytes).fill(0x5a);
  let next = 1;
  let latencyTotal = 0;
  const fsyncsBefore = wal.stats.fsyncs;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const writer = async (): Promise<void> => {
    while (performance.now() < deadline && next <= MAX_APPENDS_PER_RUN) {
      const index = next++;
      const began = performance.now();
      await wal.save({ entries: [{ index, term: 1, data }], hardState: { term: 1, vote: 'n1', commit: index - 1 } });
      latencyTotal += performance.now() - began;
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  const elapsedSec = (performance.now() - start) / 1000;
  const appends = next - 1;
  const fsyncs = wal.stats.fsyncs - fsyncsBefore;
  await wal.close();
  return {
    dir,
    figures: {
      appendsPerSec: Math.round(appends / elapsedSec),
      fsyncsPerSec: Math.round(fsyncs / elapsedSec),
      appendsPerFsync: Number((appends / Math.max(1, fsyncs)).toFixed(2)),
      meanLatencyMs: Number((latencyTotal / Math.max(1, appends)).toFixed(3)),
    },
  };
}

async function recoveryRate(dir: string): Promise<{ mbPerSec: number; entries: number }> {
  const start = performance.now();
  const { wal, recovered } = await WriteAheadLog.open({ dir, log: () => undefined });
  const elapsedSec = (performance.now() - start) / 1000;
  const bytes = readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
  await wal.close();
  return { mbPerSec: Number((bytes / 1e6 / elapsedSec).toFixed(1)), entries: recovered.entries.length };
}

const single = await run(1);
rmSync(single.dir, { recursive: true, force: true });
const many = await run(64);
const recovery = await recoveryRate(many.dir);
rmSync(many.dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    bench: 'wal',
    entryBytes,
    seconds,
    writers1: single.figures,
    writers64: many.figures,
    recoveryMBPerSec: recovery.mbPerSec,
    recoveredEntries: recovery.entries,
  }),
);
