import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { scanSegment } from '../../../net/storage/format.ts';
import { WriteAheadLog, WalOpenError, type HardState, type LogEntry, type Snapshot } from '../../../net/storage/index.ts';
import { entries, logSink, payload, removeTempDirs, tempDir } from './helpers.ts';

type StorageModule = typeof import('../../../net/storage/index.ts');

afterEach(removeTempDirs);

const quiet = { log: () => undefined };

describe('write-ahead log: round trip and validation', () => {
  it('returns what was saved, after a restart', async () => {
    const dir = tempDir();
    const first = await WriteAheadLog.open({ dir, ...quiet });
    expect(first.recovered).toEqual({ hardState: null, snapshot: null, entries: [] });
    await first.wal.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 'n2', commit: 3 } });
    await first.wal.save({ hardState: { term: 2, vote: null, commit: 5 } });
    await first.wal.close();
    const second = await WriteAheadLog.open({ dir, ...quiet });
    expect(second.recovered).toEqual({ hardState: { term: 2, vote: null, commit: 5 }, snapshot: null, entries: entries(1, 5, 1) });
    await second.wal.close();
  });

  it('a later append at index i discards entries >= i (Raft log truncation)', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    await wal.save({ entries: entries(1, 10, 1) });
    await wal.save({ entries: entries(6, 7, 2) });
    expect(wal.stats.lastIndex).toBe(7);
    await wal.close();
    const { wal: again, recovered } = await WriteAheadLog.open({ dir, ...quiet });
    expect(recovered.entries).toEqual([...entries(1, 5, 1), ...entries(6, 7, 2)]);
    await again.close();
  });

  it('refuses batches that would leave a gap, go below the snapshot, or are not contiguous', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    await wal.save({ entries: entries(1, 3, 1) });
    await expect(wal.save({ entries: entries(5, 5, 1) })).rejects.toThrow(/the log ends at 3 \(a gap\)/);
    await expect(wal.save({ entries: [...entries(4, 4, 1), ...entries(6, 6, 1)] })).rejects.toThrow(/not contiguous/);
    await wal.saveSnapshot({ index: 2, term: 1, data: new Uint8Array([9]) });
    await expect(wal.save({ entries: entries(2, 2, 1) })).rejects.toThrow(/compacted into a snapshot/);
    const huge = new Uint8Array(256 * 1024 * 1024); // untouched zero pages: costs address space, not memory
    await expect(wal.save({ entries: [{ index: 4, term: 1, data: huge }] })).rejects.toThrow(/entry 4 of 268435456 bytes exceeds the record maximum/);
    await wal.save({ entries: entries(4, 4, 1) }); // refusals did not poison the log
    await wal.close();
  });

  it('rejects bad options and bad data dirs with one-line errors', async () => {
    const dir = tempDir();
    await expect(WriteAheadLog.open({ dir, segmentBytes: 10, ...quiet })).rejects.toThrow(/segmentBytes must be an integer >= 1024/);
    await expect(WriteAheadLog.open({ dir: join(dir, 'nope'), createIfMissing: false, ...quiet })).rejects.toThrow(
      new WalOpenError(`wal: data dir ${join(dir, 'nope')} does not exist`),
    );
    writeFileSync(join(dir, 'file'), 'x');
    await expect(WriteAheadLog.open({ dir: join(dir, 'file'), ...quiet })).rejects.toThrow(/is not a directory/);
    await expect(WriteAheadLog.open({ dir: join(dir, 'file', 'sub'), ...quiet })).rejects.toThrow(/cannot use data dir .*ENOTDIR/);
    const created = await WriteAheadLog.open({ dir: join(dir, 'a', 'b'), ...quiet });
    await created.wal.close();
  });

  it('resolves a save only once its records are in the segment file', async () => {
    expect(await savedRecordIsOnDiskWhenSaveResolves(await import('../../../net/storage/index.ts'))).toBe(true);
  });

  it('catches a log that acknowledges before writing (mutant)', async () => {
    const mutant: Mutant = {
      name: 'wal-ack-before-write',
      description: 'resolves the saves of a round before writing them',
      edits: [
        {
          file: 'net/storage/wal.ts',
          find: '            await this.writeRound(round);\n          } else {',
          replace: '            for (const save of round) save.resolve();\n            await this.writeRound(round);\n          } else {',
        },
      ],
    };
    const held = await withMutant(mutant, 'net/storage/index.ts', savedRecordIsOnDiskWhenSaveResolves, { dirs: ['net', 'core/codec'] });
    expect(held).toBe(false);
  });

  it('group commit: saves issued together share one write and one fsync', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    const before = wal.stats;
    await Promise.all(Array.from({ length: 64 }, (_, i) => wal.save({ entries: entries(i + 1, i + 1, 1) })));
    expect(wal.stats.fsyncs - before.fsyncs).toBe(1);
    expect(wal.stats.flushes - before.flushes).toBe(1);
    // A save arriving while a round is in flight waits for the next round, and rounds keep their order.
    const order: number[] = [];
    const a = wal.save({ entries: entries(65, 65, 1) }).then(() => order.push(65));
    await Promise.resolve();
    await Promise.resolve();
    const b = wal.save({ entries: entries(66, 66, 1) }).then(() => order.push(66));
    const c = wal.save({ entries: entries(67, 67, 1) }).then(() => order.push(67));
    await Promise.all([a, b, c]);
    expect(order).toEqual([65, 66, 67]);
    await wal.close();
  });

  it('an unsynced save waits in memory; the next synced save writes it first, durably', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    const onDisk = () => scanSegment(readFileSync(join(dir, wal.segmentFiles().at(-1)!)), 'segment', true).records.flatMap(({ record }) => (record.type === 1 ? [record.entry.index] : []));
    await wal.save({ entries: entries(1, 1, 1) });
    await wal.save({ entries: entries(2, 2, 1), hardState: { term: 1, vote: null, commit: 1 } }, { sync: false });
    expect(onDisk()).toEqual([1]);
    await wal.save({ entries: entries(3, 3, 1) });
    expect(onDisk()).toEqual([1, 2, 3]);
    await wal.close();
    const { wal: again, recovered } = await WriteAheadLog.open({ dir, ...quiet });
    expect(recovered.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(recovered.hardState).toEqual({ term: 1, vote: null, commit: 1 });
    await again.close();
  });

  it('an unsynced save resolves only after every earlier save is durable', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    const order: string[] = [];
    const synced = wal.save({ entries: entries(1, 1, 1) }).then(() => order.push(`synced, ${wal.stats.fsyncs} fsyncs`));
    await Promise.resolve();
    await Promise.resolve();
    const fsyncsBefore = wal.stats.fsyncs;
    const unsynced = wal.save({ hardState: { term: 1, vote: null, commit: 1 } }, { sync: false }).then(() => order.push('unsynced'));
    await Promise.all([synced, unsynced]);
    expect(order).toEqual([`synced, ${fsyncsBefore + 1} fsyncs`, 'unsynced']);
    await wal.close();
  });

  it('unsynced saves are made durable by a later sync()', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    const before = wal.stats.fsyncs;
    await wal.save({ entries: entries(1, 3, 1) }, { sync: false });
    expect(wal.stats.fsyncs).toBe(before);
    await wal.sync();
    expect(wal.stats.fsyncs).toBe(before + 1);
    await wal.sync(); // nothing new: no fsync
    expect(wal.stats.fsyncs).toBe(before + 1);
    await wal.close();
  });

  it('refuses every write after a failed write (a failed fsync may have lost the pages)', async () => {
    const dir = tempDir();
    const sink = logSink();
    const { wal } = await WriteAheadLog.open({ dir, log: sink.log });
    await wal.save({ entries: entries(1, 1, 1) });
    // Pull the file out from under it: the next write fails with EBADF.
    await (wal as unknown as { current: { close(): Promise<void> } }).current.close();
    await expect(wal.save({ entries: entries(2, 2, 1) })).rejects.toThrow(/EBADF|closed/);
    await expect(wal.save({ entries: entries(2, 2, 1) })).rejects.toThrow(/refusing writes after an earlier write failure/);
    expect(sink.lines.join('\n')).toMatch(/write failure/);
    await wal.close();
  });
});

describe('write-ahead log: segments, snapshots and compaction', () => {
  it('rotates segments at the size bound and reads them all back', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, segmentBytes: 1024, ...quiet });
    for (let i = 1; i <= 100; i++) await wal.save({ entries: entries(i, i, 1, 40), hardState: { term: 1, vote: 'n1', commit: i } });
    expect(wal.stats.segments).toBeGreaterThan(5);
    for (const name of wal.segmentFiles().slice(0, -1)) {
      // A segment exceeds the bound by at most the one record that did not fit into an otherwise empty one.
      expect(readFileSync(join(dir, name)).length).toBeLessThanOrEqual(1024);
    }
    await wal.close();
    const { wal: again, recovered } = await WriteAheadLog.open({ dir, segmentBytes: 1024, ...quiet });
    expect(recovered.entries).toEqual(entries(1, 100, 1, 40));
    expect(recovered.hardState).toEqual({ term: 1, vote: 'n1', commit: 100 });
    await again.close();
  });

  it('a snapshot releases the segments it covers and survives a restart', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, segmentBytes: 1024, ...quiet });
    for (let i = 1; i <= 100; i++) await wal.save({ entries: entries(i, i, 1, 40), hardState: { term: 1, vote: 'n1', commit: i } });
    const segmentsBefore = wal.stats.segments;
    const snapshot: Snapshot = { index: 80, term: 1, data: payload(80, 9, 300) };
    await wal.saveSnapshot(snapshot);
    expect(wal.stats.segments).toBeLessThan(segmentsBefore / 2);
    await wal.save({ entries: entries(101, 102, 2), hardState: { term: 2, vote: null, commit: 101 } });
    await wal.close();
    const { wal: again, recovered } = await WriteAheadLog.open({ dir, segmentBytes: 1024, ...quiet });
    expect(recovered.snapshot).toEqual(snapshot);
    expect(recovered.entries).toEqual([...entries(81, 100, 1, 40), ...entries(101, 102, 2)]);
    expect(recovered.hardState).toEqual({ term: 2, vote: null, commit: 101 });
    // The second snapshot replaces the first file.
    await again.saveSnapshot({ index: 101, term: 2, data: new Uint8Array([1]) });
    await again.close();
    const third = await WriteAheadLog.open({ dir, segmentBytes: 1024, ...quiet });
    expect(third.recovered.snapshot?.index).toBe(101);
    expect(third.recovered.entries).toEqual(entries(102, 102, 2));
    await third.wal.close();
  });

  it('a snapshot whose last entry sits in an already released segment keeps the entries after it', async () => {
    // Found by the model property: recovery once re-decided "does the suffix survive" by looking up the
    // snapshot's last entry, which compaction had deleted with its segment.
    const dir = tempDir();
    const options = { dir, segmentBytes: 1024, ...quiet };
    const { wal } = await WriteAheadLog.open(options);
    await wal.save({ entries: entries(1, 6, 1, 200) });
    await wal.saveSnapshot({ index: 6, term: 2, data: new Uint8Array([6]) });
    for (let i = 7; i <= 12; i++) await wal.save({ entries: entries(i, i, 2, 200) });
    const segmentsBefore = wal.stats.segments;
    await wal.saveSnapshot({ index: 10, term: 2, data: new Uint8Array([7]) });
    expect(wal.stats.segments).toBeLessThan(segmentsBefore); // entry 10's segment is gone
    await wal.save({ hardState: { term: 2, vote: null, commit: 0 } });
    await wal.close();
    const { wal: again, recovered } = await WriteAheadLog.open(options);
    expect(recovered.entries).toEqual(entries(11, 12, 2, 200));
    await again.close();
  });

  it('overlapping snapshot saves and appends keep their order and leave a consistent log', async () => {
    const dir = tempDir();
    const options = { dir, segmentBytes: 1024, ...quiet };
    const { wal } = await WriteAheadLog.open(options);
    for (let i = 1; i <= 60; i++) await wal.save({ entries: entries(i, i, 1, 60) });
    const pending = [
      wal.saveSnapshot({ index: 20, term: 1, data: new Uint8Array([20]) }),
      wal.save({ entries: entries(61, 62, 1, 60) }),
      wal.saveSnapshot({ index: 40, term: 1, data: new Uint8Array([40]) }),
      wal.save({ entries: entries(63, 63, 2, 60), hardState: { term: 2, vote: 'n3', commit: 50 } }),
    ];
    await Promise.all(pending);
    expect(wal.stats).toMatchObject({ snapshotIndex: 40, firstIndex: 41, lastIndex: 63 });
    await wal.close();
    const { wal: again, recovered } = await WriteAheadLog.open(options);
    expect(recovered.snapshot).toEqual({ index: 40, term: 1, data: new Uint8Array([40]) });
    expect(recovered.entries).toEqual([...entries(41, 62, 1, 60), ...entries(63, 63, 2, 60)]);
    expect(readdirSync(dir).filter((n) => n.endsWith('.snap'))).toEqual(['snap-0000000000000028-0000000000000001.snap']);
    await again.close();
  });

  it('a snapshot that resets the log drops every entry, even ones after a matching last entry', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, segmentBytes: 1024, ...quiet });
    await wal.save({ entries: entries(1, 10, 1, 40) });
    await wal.save({ snapshot: { index: 5, term: 1, data: new Uint8Array([5]) }, snapshotResetsLog: true, hardState: { term: 2, vote: null, commit: 5 } });
    expect(wal.stats.lastIndex).toBe(5);
    // Force rotations: the marker repeated at the head of later segments must not undo or redo anything.
    for (let i = 6; i <= 40; i++) await wal.save({ entries: entries(i, i, 2, 40) });
    await wal.close();
    const { wal: again, recovered } = await WriteAheadLog.open({ dir, segmentBytes: 1024, ...quiet });
    expect(recovered.snapshot?.index).toBe(5);
    expect(recovered.entries).toEqual(entries(6, 40, 2, 40));
    await again.close();
  });

  it('a snapshot installed from the leader with its entries and hard state in one batch replaces the log', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, ...quiet });
    await wal.save({ entries: entries(1, 10, 1) });
    await wal.save({
      snapshot: { index: 8, term: 3, data: new Uint8Array([7]) },
      snapshotResetsLog: true,
      entries: entries(9, 9, 3),
      hardState: { term: 3, vote: null, commit: 8 },
    });
    await wal.close();
    const { wal: again, recovered } = await WriteAheadLog.open({ dir, ...quiet });
    expect(recovered.snapshot?.index).toBe(8);
    expect(recovered.entries).toEqual(entries(9, 9, 3));
    await again.close();
  });
});

/** Saves, and the moment the promise resolves reads the segment from disk behind the log's back. */
async function savedRecordIsOnDiskWhenSaveResolves(mod: StorageModule): Promise<boolean> {
  const dir = tempDir();
  const { wal } = await mod.WriteAheadLog.open({ dir, ...quiet });
  let held = true;
  for (let i = 1; i <= 20; i++) {
    const writtenBefore = wal.stats.bytesWritten;
    await wal.save({ entries: entries(i, i, 1) });
    // The log's own count of completed writes moves only when the kernel has the bytes; unlike a read of the
    // file, it cannot race with a write still running on the thread pool.
    if (wal.stats.bytesWritten <= writtenBefore) held = false;
    const name = wal.segmentFiles().at(-1)!;
    const scan = scanSegment(readFileSync(join(dir, name)), name, true);
    const last = scan.records.at(-1)?.record;
    if (!(last && last.type === 1 && last.entry.index === i)) held = false;
  }
  await wal.sync();
  await wal.close();
  return held;
}

// The model: what Raft's rules say the log holds after a sequence of persists.
interface Model {
  hardState: HardState | null;
  snapshot: Snapshot | null;
  entries: LogEntry[];
}

type Op =
  | { kind: 'append'; at: number; count: number; termBump: number; sync: boolean }
  | { kind: 'hard-state'; commitFraction: number; vote: string | null }
  | { kind: 'compact'; fraction: number }
  | { kind: 'install'; beyond: number; sameTerm: boolean; resets: boolean }
  | { kind: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), count: fc.integer({ min: 1, max: 6 }), termBump: fc.integer({ min: 0, max: 1 }), sync: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('hard-state' as const), commitFraction: fc.double({ min: 0, max: 1, noNaN: true }), vote: fc.constantFrom(null, 'n1', 'n2', 'ünïcode') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('install' as const), beyond: fc.integer({ min: -3, max: 5 }), sameTerm: fc.boolean(), resets: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** Runs ops against the WAL and the model; returns a description of the first divergence, or null. */
async function runAgainstModel(mod: StorageModule, ops: Op[]): Promise<string | null> {
  const dir = tempDir();
  const options = { dir, segmentBytes: 1024, ...quiet };
  let { wal } = await mod.WriteAheadLog.open(options);
  const model: Model = { hardState: null, snapshot: null, entries: [] };
  let term = 1;
  const compare = (recovered: Model, when: string): string | null => {
    const expected = JSON.stringify(model, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v));
    const actual = JSON.stringify(recovered, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v));
    return expected === actual ? null : `${when}: expected ${expected.slice(0, 300)} got ${actual.slice(0, 300)}`;
  };
  try {
    for (const op of ops) {
      const start = (model.snapshot?.index ?? 0) + 1;
      const last = start + model.entries.length - 1;
      if (op.kind === 'append') {
        const at = Math.min(last + 1, start + Math.floor(op.at * (last + 2 - start)));
        term += op.termBump;
        const added = entries(at, at + op.count - 1, term);
        await wal.save({ entries: added }, { sync: op.sync });
        model.entries = [...model.entries.slice(0, at - start), ...added];
      } else if (op.kind === 'hard-state') {
        const hardState = { term, vote: op.vote, commit: Math.floor(op.commitFraction * last) };
        await wal.save({ hardState });
        model.hardState = hardState;
      } else if (op.kind === 'compact') {
        if (model.entries.length === 0) continue;
        const entry = model.entries[Math.min(model.entries.length - 1, Math.floor(op.fraction * model.entries.length))]!;
        const snapshot = { index: entry.index, term: entry.term, data: payload(entry.index, 99, 8) };
        await wal.saveSnapshot(snapshot);
        model.entries = model.entries.filter((e) => e.index > entry.index);
        model.snapshot = snapshot;
      } else if (op.kind === 'install') {
        const index = Math.max(last + op.beyond, (model.snapshot?.index ?? 0) + 1, 1);
        const existing = model.entries.find((e) => e.index === index);
        const snapshotTerm = op.sameTerm && existing ? existing.term : ++term;
        const snapshot = { index, term: snapshotTerm, data: payload(index, 98, 8) };
        await wal.saveSnapshot(snapshot, { resetsLog: op.resets });
        // The driver contract of core/raft/types.ts: drop the covered entries, or all of them on a reset.
        model.entries = op.resets ? [] : model.entries.filter((e) => e.index > index);
        model.snapshot = snapshot;
      } else {
        await wal.close();
        const reopened = await mod.WriteAheadLog.open(options);
        wal = reopened.wal;
        const diff = compare(reopened.recovered, 'after reopen');
        if (diff) return diff;
      }
    }
    await wal.close();
    const final = await mod.WriteAheadLog.open(options);
    await final.wal.close();
    return compare(final.recovered, 'at the end');
  } catch (err) {
    await wal.close().catch(() => undefined);
    return `threw: ${(err as Error).message}`;
  }
}

describe('write-ahead log: property against a model of Raft persistence', () => {
  it('recovers exactly the modelled hard state, snapshot and log after any sequence of persists', async () => {
    const mod = await import('../../../net/storage/index.ts');
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const diff = await runAgainstModel(mod, ops);
        removeTempDirs();
        expect(diff).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('catches a recovery that ignores truncation (mutant)', async () => {
    const mutant: Mutant = {
      name: 'wal-replay-without-truncation',
      description: 'recovery appends a rewritten entry after the old ones instead of truncating the log at it',
      edits: [{ file: 'net/storage/wal.ts', find: 'entries.length = entry.index - first;', replace: '' }],
    };
    const caught = await withMutant(
      mutant,
      'net/storage/index.ts',
      async (mod: StorageModule) => {
        const result = await fc.check(
          fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
            const diff = await runAgainstModel(mod, ops);
            removeTempDirs();
            return diff === null;
          }),
          { numRuns: 200, seed: 42 },
        );
        return result.failed;
      },
      { dirs: ['net', 'core/codec'] },
    );
    expect(caught).toBe(true);
  });
});
