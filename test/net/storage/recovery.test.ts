import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { WalCorruptionError, WriteAheadLog, DataDirLockedError } from '../../../net/storage/index.ts';
import { copyDir, entries, logSink, payload, removeTempDirs, tempDir } from './helpers.ts';

type StorageModule = typeof import('../../../net/storage/index.ts');

const repoRoot = resolve(import.meta.dirname, '../../..');
const childScript = join(import.meta.dirname, 'fixtures', 'wal-child.ts');
const quiet = { log: () => undefined };
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeTempDirs();
});

/** A WAL of `count` single-entry saves in one segment; returns where each record starts and the file. */
async function buildLog(mod: StorageModule, count: number, segmentBytes = 1 << 20): Promise<{ dir: string; file: string; starts: number[]; end: number }> {
  const dir = tempDir();
  const { wal } = await mod.WriteAheadLog.open({ dir, segmentBytes, ...quiet });
  const starts: number[] = [];
  for (let i = 1; i <= count; i++) {
    const file = join(dir, wal.segmentFiles().at(-1)!);
    starts.push(statSync(file).size);
    await wal.save({ entries: entries(i, i, 1, 20) });
  }
  const file = join(dir, wal.segmentFiles().at(-1)!);
  await wal.close();
  return { dir, file, starts, end: statSync(file).size };
}

/** Cuts the last record at every byte offset; each cut must recover every earlier record and accept appends. */
async function everyCutOfTheLastRecordRecovers(mod: StorageModule): Promise<string[]> {
  const problems: string[] = [];
  const { dir, file, starts, end } = await buildLog(mod, 6);
  const lastStart = starts.at(-1)!;
  for (let cut = lastStart; cut < end; cut++) {
    const copy = copyDir(dir);
    const copiedFile = join(copy, file.slice(dir.length + 1));
    truncateSync(copiedFile, cut);
    const sink = logSink();
    try {
      const { wal, recovered } = await mod.WriteAheadLog.open({ dir: copy, log: sink.log });
      if (JSON.stringify(recovered.entries.map((e) => e.index)) !== JSON.stringify([1, 2, 3, 4, 5])) problems.push(`cut ${cut}: entries ${recovered.entries.map((e) => e.index)}`);
      if (cut > lastStart && !sink.lines.some((l) => l.includes(`repaired torn tail of ${copiedFile}: dropped ${cut - lastStart} bytes at offset ${lastStart}`))) {
        problems.push(`cut ${cut}: no repair line in ${JSON.stringify(sink.lines)}`);
      }
      await wal.save({ entries: entries(6, 6, 2, 20) });
      await wal.close();
      const again = await mod.WriteAheadLog.open({ dir: copy, ...quiet });
      if (again.recovered.entries.at(-1)?.term !== 2) problems.push(`cut ${cut}: append after repair was lost`);
      await again.wal.close();
    } catch (err) {
      problems.push(`cut ${cut}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Flips every byte of a record in the middle; each must be refused with a message naming file and offset. */
async function everyFlippedMiddleByteIsRefused(mod: StorageModule): Promise<string[]> {
  const problems: string[] = [];
  const { dir, file, starts } = await buildLog(mod, 6);
  const victim = 3; // the fourth record: good records follow it
  for (let at = starts[victim]!; at < starts[victim + 1]!; at++) {
    const copy = copyDir(dir);
    const copiedFile = join(copy, file.slice(dir.length + 1));
    const bytes = readFileSync(copiedFile);
    bytes[at] = bytes[at]! ^ 0x40;
    writeFileSync(copiedFile, bytes);
    try {
      const { wal } = await mod.WriteAheadLog.open({ dir: copy, ...quiet });
      await wal.close();
      problems.push(`flip at ${at}: opened`);
    } catch (err) {
      const message = (err as Error).message;
      if (!(err instanceof Error && err.name === 'WalCorruptionError') || !message.startsWith(`wal: corrupt data in ${copiedFile} at offset ${starts[victim]}:`) || message.includes('\n')) {
        problems.push(`flip at ${at}: ${message}`);
      }
    }
  }
  return problems;
}

/** Damage to the last record of a segment that is not the last one: refused, never repaired. */
async function damageInAnEarlierSegmentIsRefused(mod: StorageModule): Promise<boolean> {
  const dir = tempDir();
  const { wal } = await mod.WriteAheadLog.open({ dir, segmentBytes: 1024, ...quiet });
  for (let i = 1; i <= 40; i++) await wal.save({ entries: entries(i, i, 1, 40) });
  const first = join(dir, wal.segmentFiles()[0]!);
  await wal.close();
  const bytes = readFileSync(first);
  bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 1;
  writeFileSync(first, bytes);
  try {
    const { wal: opened } = await mod.WriteAheadLog.open({ dir, ...quiet });
    await opened.close();
    return false;
  } catch (err) {
    return (err as Error).message.includes(`corrupt data in ${first}`) && (err as Error).message.includes('not the last');
  }
}

describe('write-ahead log: recovery from crashes and damage', () => {
  it('a cut at every byte offset of the last record recovers every earlier record, with a log line', async () => {
    expect(await everyCutOfTheLastRecordRecovers(await import('../../../net/storage/index.ts'))).toEqual([]);
  });

  it('a zero-filled tail (file size grew, data never landed) is repaired', async () => {
    const { dir, file } = await buildLog(await import('../../../net/storage/index.ts'), 3);
    appendFileSync(file, new Uint8Array(100));
    const sink = logSink();
    const { wal, recovered } = await WriteAheadLog.open({ dir, log: sink.log });
    expect(recovered.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(sink.lines.join('\n')).toMatch(/dropped 100 bytes .*zero-filled tail/);
    await wal.close();
  });

  it('a flipped byte anywhere in a middle record is refused with one line naming the file and offset', async () => {
    expect(await everyFlippedMiddleByteIsRefused(await import('../../../net/storage/index.ts'))).toEqual([]);
  });

  it('damage in a segment that is not the last is refused', async () => {
    expect(await damageInAnEarlierSegmentIsRefused(await import('../../../net/storage/index.ts'))).toBe(true);
  });

  it('catches a recovery that truncates at the first bad record wherever it is (mutant)', async () => {
    const mutant: Mutant = {
      name: 'wal-truncate-any-damage',
      description: 'recovery treats a bad record followed by good ones as a torn tail, silently dropping acknowledged records',
      edits: [{ file: 'net/storage/format.ts', find: 'if (validRecordFollows(bytes, offset)) throw', replace: 'if (false) throw' }],
    };
    const problems = await withMutant(mutant, 'net/storage/index.ts', everyFlippedMiddleByteIsRefused, { dirs: ['net', 'core/codec'] });
    expect(problems.length).toBeGreaterThan(0);
  });

  it('catches a recovery that repairs damage in earlier segments (mutant)', async () => {
    const mutant: Mutant = {
      name: 'wal-repair-any-segment',
      description: 'recovery treats every segment as the last one, so a damaged full segment is cut short',
      edits: [{ file: 'net/storage/wal.ts', find: 'const isLast = i === segments.length - 1;', replace: 'const isLast = true;' }],
    };
    expect(await withMutant(mutant, 'net/storage/index.ts', damageInAnEarlierSegmentIsRefused, { dirs: ['net', 'core/codec'] })).toBe(false);
  });

  it('catches a recovery that refuses every torn tail (mutant)', async () => {
    const mutant: Mutant = {
      name: 'wal-refuse-torn-tail',
      description: 'recovery treats a torn last record as corruption, so a crash mid-append leaves a member that cannot start',
      edits: [{ file: 'net/storage/format.ts', find: 'if (!isLastSegment) throw', replace: 'if (isLastSegment || !isLastSegment) throw' }],
    };
    const problems = await withMutant(mutant, 'net/storage/index.ts', everyCutOfTheLastRecordRecovers, { dirs: ['net', 'core/codec'] });
    expect(problems.length).toBeGreaterThan(0);
  });

  it('a snapshot file that is missing or damaged is refused', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    await wal.save({ entries: entries(1, 4, 1) });
    await wal.saveSnapshot({ index: 3, term: 1, data: payload(3, 1, 50) });
    await wal.close();
    const snap = join(dir, 'snap-0000000000000003-0000000000000001.snap');
    const bytes = readFileSync(snap);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    writeFileSync(snap, bytes);
    await expect(WriteAheadLog.open({ dir, ...quiet })).rejects.toThrow(new WalCorruptionError(snap, 0, 'snapshot file checksum mismatch'));
    truncateSync(snap, 0);
    await expect(WriteAheadLog.open({ dir, ...quiet })).rejects.toThrow(/snapshot file not a raftsim snapshot file/);
  });

  it('a refused data dir is left exactly as it was found (no repair before every check passed)', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    await wal.save({ entries: entries(1, 4, 1) });
    await wal.saveSnapshot({ index: 2, term: 1, data: payload(2, 1, 10) });
    await wal.save({ entries: entries(5, 5, 1) });
    const segment = join(dir, wal.segmentFiles().at(-1)!);
    await wal.close();
    appendFileSync(segment, Uint8Array.of(1, 2, 3)); // a torn tail that would be repaired...
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, 'snap-0000000000000002-0000000000000001.snap')); // ...but the snapshot is gone
    const sizeBefore = statSync(segment).size;
    await expect(WriteAheadLog.open({ dir, ...quiet })).rejects.toThrow(/snapshot file named by the log cannot be read \(ENOENT\)/);
    expect(statSync(segment).size).toBe(sizeBefore);
  });

  it('leftovers of a crash during file creation are removed, with a line each', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    await wal.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: null, commit: 3 } });
    await wal.close();
    writeFileSync(join(dir, '0000000000000002.wal.tmp'), 'half a segment'); // crashed before the rename
    writeFileSync(join(dir, 'snap-0000000000000003-0000000000000001.snap'), 'no marker names it'); // crashed before the marker
    const sink = logSink();
    const { wal: again, recovered } = await WriteAheadLog.open({ dir, log: sink.log });
    expect(recovered.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(recovered.snapshot).toBeNull();
    expect(readdirSync(dir).sort()).toEqual(['0000000000000001.wal', 'LOCK']);
    expect(sink.lines).toEqual([
      `wal: removed unfinished file ${join(dir, '0000000000000002.wal.tmp')}`,
      `wal: removed snapshot file ${join(dir, 'snap-0000000000000003-0000000000000001.snap')} not named by the log`,
    ]);
    await again.close();
  });

  it('a missing segment in the middle is refused', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, segmentBytes: 1024, ...quiet });
    for (let i = 1; i <= 40; i++) await wal.save({ entries: entries(i, i, 1, 40) });
    const second = wal.segmentFiles()[1]!;
    await wal.close();
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, second));
    await expect(WriteAheadLog.open({ dir, ...quiet })).rejects.toThrow(/segment 2 is missing/);
  });

  it('a writer killed with SIGKILL mid-write leaves a log holding every acknowledged record', async () => {
    const dir = tempDir();
    for (let round = 0; round < 4; round++) {
      const acked = await runWriterUntilKilled(dir, 150 + round * 97);
      const sink = logSink();
      const { wal, recovered } = await WriteAheadLog.open({ dir, segmentBytes: 16 * 1024, log: sink.log });
      const indexes = recovered.entries.map((e) => e.index);
      expect(indexes[0]).toBe(1);
      expect(indexes.at(-1)!).toBeGreaterThanOrEqual(acked);
      for (const e of recovered.entries) expect(e.data).toEqual(payload(e.index, 1));
      expect(recovered.hardState!.commit).toBeGreaterThanOrEqual(acked - 1);
      await wal.close();
    }
  });
});

/** Starts the writer child, waits until it has acknowledged at least `atLeast` entries, kills it; returns the highest ack. */
function runWriterUntilKilled(dir: string, atLeast: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, 'write', dir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let highest = 0;
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer did not reach ${atLeast} acks in time (had ${highest}); stderr: ${stderr}`));
    }, 30_000);
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const m = /^ack (\d+)$/.exec(line);
        if (m) highest = Math.max(highest, Number(m[1]));
      }
      if (highest >= atLeast && child.signalCode === null) child.kill('SIGKILL');
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolvePromise(highest);
    });
  });
}

function runChild(mode: 'open' | 'hold', dir: string, uid?: number): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, mode, dir], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  children.push(child);
  const firstLine = new Promise<string>((resolvePromise) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => resolvePromise(`timeout; stderr: ${err}`), 30_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolvePromise(out.split('\n')[0]!);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolvePromise(out.split('\n')[0] || `exited; stderr: ${err}`);
    });
  });
  return { child, firstLine };
}

describe('write-ahead log: the data dir lock', () => {
  it('a second opener in the same process is refused until the first closes', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    await expect(WriteAheadLog.open({ dir, ...quiet })).rejects.toThrow(DataDirLockedError);
    await expect(WriteAheadLog.open({ dir, ...quiet })).rejects.toThrow(/is in use by process \d+ \(lock file .*LOCK\)/);
    await wal.close();
    const again = await WriteAheadLog.open({ dir, ...quiet });
    await again.wal.close();
  });

  it('another live process holding the dir is refused; its lock is taken over once it is killed', async () => {
    const dir = tempDir();
    const { child, firstLine } = runChild('hold', dir);
    expect(await firstLine).toBe('open');
    await expect(WriteAheadLog.open({ dir, ...quiet })).rejects.toThrow(`is in use by process ${child.pid}`);
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    await wal.close();
  });

  it('a data dir this process may not write is refused with one line', async () => {
    const dir = tempDir();
    const target = join(dir, 'data');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(target, { mode: 0o700 });
    if (process.getuid?.() === 0) {
      // Root ignores permission bits, so the attempt is made by an unprivileged child (uid nobody).
      chmodSync(dir, 0o755);
      const { firstLine } = runChild('open', target, 65534);
      expect(await firstLine).toMatch(/^error: wal: data dir .*data is not readable and writable by this process \(EACCES\)$/);
    } else {
      chmodSync(target, 0o500);
      await expect(WriteAheadLog.open({ dir: target, ...quiet })).rejects.toThrow(/is not readable and writable by this process \(EACCES\)/);
      chmodSync(target, 0o700);
    }
  });
});
