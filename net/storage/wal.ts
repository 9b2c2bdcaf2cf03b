// The write-ahead log of one member: Raft hard state, log entries and snapshot markers in checksummed,
// size-bounded segment files, with group commit, snapshots with compaction, crash recovery and a dir lock.
//
// The contract a driver relies on: the promise returned by `save` settles only after everything it carried
// (and everything saved before it) is written and, when `sync` is asked for, fsynced; messages that must wait
// for the persist (votes, term changes, append acknowledgements) are sent after it resolves. A failed write or
// fsync poisons the log: every later save is refused, because after a failed fsync the kernel may have dropped
// the dirty pages and a retry could report durable data that is gone.
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  MAX_RECORD_PAYLOAD_BYTES,
  RecordType,
  SEGMENT_MAGIC,
  WalCorruptionError,
  decodeSnapshotFile,
  encodeRecord,
  encodeSnapshotFile,
  scanSegment,
  type HardState,
  type LogEntry,
  type Snapshot,
  type SnapshotMarker,
  type WalRecord,
} from './format.ts';
import { lockDataDir, type DirLock } from './lock.ts';

export interface WalOptions {
  /** The data dir; holds segments, snapshots and the lock file, nothing else of ours. */
  dir: string;
  /** Start a new segment once the current one would grow past this many bytes (default 64 MiB). */
  segmentBytes?: number;
  /** Create the data dir (and missing parents) if it does not exist (default true). */
  createIfMissing?: boolean;
  /** Where recovery and repair report what they did, one line each (default: stderr). */
  log?: (line: string) => void;
}

export interface RecoveredState {
  hardState: HardState | null;
  snapshot: Snapshot | null;
  /** The log after the snapshot, contiguous, truncations already applied. */
  entries: LogEntry[];
}

/** What one core `Ready` asks to persist, in the order it is applied: snapshot, then entries, then hard state. */
export interface PersistBatch {
  snapshot?: Snapshot;
  /** With `snapshot`: drop the whole stored log (core's `snapshotResetsLog`, a snapshot from the leader). */
  snapshotResetsLog?: boolean;
  /** Contiguous; the first entry's index is where the log is truncated to before appending. */
  entries?: LogEntry[];
  hardState?: HardState;
}

export interface WalStats {
  records: number;
  bytesWritten: number;
  /** Write rounds: each takes every save queued while the previous round was in flight (group commit). */
  flushes: number;
  fsyncs: number;
  segments: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
}

export class WalOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WalOpenError';
  }
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Unsynced records waiting in memory are written (synced) once they would exceed this. */
const MAX_CARRIED_BYTES = 64 * 1024;
/**
 * Segments are opened for synchronized writes (O_DSYNC) where the platform has them: a write returns once its
 * data and the file size are durable, one trip to the thread pool where a write and an fsync took two (each trip
 * was ~0.3 ms on a loaded 2-core machine, on the path of every acknowledgement). Elsewhere, write then fsync.
 */
const WRITES_ARE_SYNCHRONIZED = fsConstants.O_DSYNC !== undefined;
const SEGMENT_FLAGS = fsConstants.O_WRONLY | fsConstants.O_APPEND | (fsConstants.O_DSYNC ?? 0);
const SEGMENT_SUFFIX = '.wal';
const TEMP_SUFFIX = '.tmp';
const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;
const SNAPSHOT_NAME = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

const hex16 = (n: number): string => n.toString(16).padStart(16, '0');
export const segmentFileName = (seq: number): string => `${hex16(seq)}${SEGMENT_SUFFIX}`;
export const snapshotFileName = (marker: { index: number; term: number }): string => `snap-${hex16(marker.index)}-${hex16(marker.term)}.snap`;

interface SegmentInfo {
  seq: number;
  name: string;
  /** Highest entry index written to this segment (0 if none): a segment may go once a snapshot covers it. */
  maxIndex: number;
}

interface PendingRecord {
  bytes: Uint8Array;
  maxIndex: number;
  hardState?: HardState;
  marker?: SnapshotMarker;
}

interface PendingSave {
  records: PendingRecord[];
  sync: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    offset += bytesWritten;
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes a whole file durably: temp name, fsync, rename, fsync of the directory. */
async function writeFileDurably(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const temp = join(dir, name + TEMP_SUFFIX);
  const handle = await open(temp, 'w', 0o600);
  try {
    await writeAll(handle, bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(dir, name));
  await fsyncPath(dir);
}

export class WriteAheadLog {
  private readonly segmentBytes: number;
  private current!: FileHandle;
  private currentSize = 0;
  /** Size of the current segment right after creation; rotation waits until something was written past it. */
  private currentStartSize = 0;
  private queue: PendingSave[] = [];
  private flushing: Promise<void> | null = null;
  /** Saves carrying a snapshot write its file first; later saves wait behind this so order is kept. */
  private gate: Promise<void> | null = null;
  private releasing: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;
  /** Records of unsynced saves not written yet: the next synced round writes them first (see save()). */
  private carried: PendingRecord[] = [];
  private carriedBytes = 0;
  // What the enqueued stream says (validation of later saves).
  private logStart: number;
  private logTerms: number[];
  private snapshotMarker: SnapshotMarker | null;
  // What has been written to segments (copied into the head of each new segment).
  private writtenHardState: HardState | null;
  private writtenMarker: SnapshotMarker | null;
  private readonly counters = { records: 0, bytesWritten: 0, flushes: 0, fsyncs: 0 };

  private constructor(
    readonly dir: string,
    private readonly segments: SegmentInfo[],
    private readonly lock: DirLock,
    recovered: RecoveredState,
    private readonly log: (line: string) => void,
    segmentBytes: number,
  ) {
    this.segmentBytes = segmentBytes;
    this.snapshotMarker = recovered.snapshot ? { index: recovered.snapshot.index, term: recovered.snapshot.term, resetsLog: false } : null;
    this.writtenMarker = this.snapshotMarker;
    this.writtenHardState = recovered.hardState;
    this.logStart = (this.snapshotMarker?.index ?? 0) + 1;
    this.logTerms = recovered.entries.map((e) => e.term);
  }

  /**
   * Opens (creating if allowed) the data dir, takes its lock, reads every segment and verifies every checksum.
   * A torn tail is cut off and logged; any other damage throws WalCorruptionError naming the file and offset.
   */
  static async open(options: WalOptions): Promise<{ wal: WriteAheadLog; recovered: RecoveredState }> {
    const dir = options.dir;
    const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1024) throw new WalOpenError(`wal: segmentBytes must be an integer >= 1024, got ${segmentBytes}`);
    await prepareDir(dir, options.createIfMissing ?? true);
    let lock: DirLock;
    try {
      lock = lockDataDir(dir);
    } catch (err) {
      if (err instanceof Error && err.name === 'DataDirLockedError') throw err;
      throw new WalOpenError(`wal: cannot lock data dir ${dir}: ${(err as Error).message}`);
    }
    try {
      const { recovered, segments } = await recover(dir, log);
      const wal = new WriteAheadLog(dir, segments, lock, recovered, log, segmentBytes);
      if (segments.length === 0) await wal.createSegment(1);
      else await wal.openLastSegment();
      return { wal, recovered };
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /**
   * Persists a batch. With `sync` (the default) it resolves once the batch and everything saved before it are
   * written and durable; saves made while a write is in flight share the next one (group commit). An unsynced
   * save resolves once every save before it is durable, but its own records wait in memory for the next synced
   * save, sync() or close(), which write them first: a crash, of the process alone too, may lose them, which is
   * what an unsynced persist allows (the core asks for one only when nothing in it is needed for safety, e.g. a
   * new commit index), and it spares a write of its own in the thread pool that the next synced save would queue
   * behind (bench/net.ts).
   */
  save(batch: PersistBatch, options: { sync?: boolean } = {}): Promise<void> {
    const sync = options.sync ?? true;
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    if (!batch.snapshot && !this.gate) return this.enqueue(batch, sync);
    let durable: Promise<void> = Promise.resolve();
    const enqueued = (this.gate ?? Promise.resolve()).then(async () => {
      const late = this.refusal();
      if (late) throw late;
      if (batch.snapshot) {
        try {
          await writeFileDurably(this.dir, snapshotFileName(batch.snapshot), encodeSnapshotFile(batch.snapshot));
        } catch (err) {
          throw this.poison(err);
        }
      }
      durable = this.enqueue(batch, sync);
    });
    const gate = enqueued.catch(() => undefined);
    this.gate = gate;
    void gate.then(() => {
      if (this.gate === gate) this.gate = null;
    });
    const done = enqueued.then(() => durable);
    const snapshot = batch.snapshot;
    return snapshot ? done.then(() => this.releaseCompacted(snapshot)) : done;
  }

  /** Saves a snapshot (the application's compaction point or one installed from the leader) and compacts. */
  saveSnapshot(snapshot: Snapshot, options: { resetsLog?: boolean } = {}): Promise<void> {
    return this.save({ snapshot, snapshotResetsLog: options.resetsLog ?? false });
  }

  /** Resolves when everything saved so far is durable. */
  sync(): Promise<void> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    return (this.gate ?? Promise.resolve()).then(() => {
      if (this.carried.length === 0 && this.queue.length === 0 && !this.flushing) return undefined;
      return new Promise<void>((resolve, reject) => this.push({ records: [], sync: true, resolve, reject }));
    });
  }

  /** Makes everything durable, closes the segment and releases the lock. Later saves are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.failure) await this.sync();
    } finally {
      this.closed = true;
      await this.flushing?.catch(() => undefined);
      await this.releasing;
      await this.current.close().catch(() => undefined);
      this.lock.release();
    }
  }

  get stats(): WalStats {
    const snapshotIndex = this.snapshotMarker?.index ?? 0;
    return {
      ...this.counters,
      segments: this.segments.length,
      firstIndex: this.logStart,
      lastIndex: this.logStart + this.logTerms.length - 1,
      snapshotIndex,
    };
  }

  /** Names of the segment files, oldest first (for tests and operators). */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.name);
  }

  private refusal(): Error | null {
    if (this.closed) return new Error('wal: closed');
    if (this.failure) return new Error(`wal: refusing writes after an earlier write failure: ${this.failure.message}`);
    return null;
  }

  private poison(err: unknown): Error {
    const error = err instanceof Error ? err : new Error(String(err));
    if (!this.failure) {
      this.failure = error;
      this.log(`wal: write failure in ${this.dir}, refusing further writes: ${error.message}`);
    }
    return error;
  }

  /** Validates the batch against the log as enqueued so far and turns it into records (synchronously, in order). */
  private enqueue(batch: PersistBatch, sync: boolean): Promise<void> {
    const records: PendingRecord[] = [];
    try {
      if (batch.snapshot) {
        const { index, term } = batch.snapshot;
        if (this.snapshotMarker && index < this.snapshotMarker.index) {
          throw new Error(`wal: snapshot at ${index} is older than the saved one at ${this.snapshotMarker.index}`);
        }
        const marker = this.applySnapshot(index, term, batch.snapshotResetsLog ?? false);
        records.push({ bytes: encodeRecord({ type: RecordType.snapshotMarker, marker }), maxIndex: 0, marker });
      }
      const entries = batch.entries ?? [];
      if (entries.length > 0) {
        const first = entries[0]!.index;
        const last = this.logStart + this.logTerms.length - 1;
        entries.forEach((e, i) => {
          if (e.index !== first + i) throw new Error(`wal: entries are not contiguous (index ${e.index} at position ${i} after ${first})`);
          if (!Number.isSafeInteger(e.term) || e.term < 0) throw new Error(`wal: entry ${e.index} has a bad term ${e.term}`);
          // Recovery treats a longer record as damage, so one must never be written.
          if (e.data.length + 16 > MAX_RECORD_PAYLOAD_BYTES) throw new Error(`wal: entry ${e.index} of ${e.data.length} bytes exceeds the record maximum of ${MAX_RECORD_PAYLOAD_BYTES}`);
        });
        if (first < this.logStart) throw new Error(`wal: cannot append at ${first}: entries up to ${this.logStart - 1} are compacted into a snapshot`);
        if (first > last + 1) throw new Error(`wal: cannot append at ${first}: the log ends at ${last} (a gap)`);
        this.logTerms.length = first - this.logStart;
        for (const e of entries) {
          this.logTerms.push(e.term);
          records.push({ bytes: encodeRecord({ type: RecordType.entry, entry: e }), maxIndex: e.index });
        }
      }
      if (batch.hardState) {
        const hardState = { ...batch.hardState };
        records.push({ bytes: encodeRecord({ type: RecordType.hardState, hardState }), maxIndex: 0, hardState });
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => this.push({ records, sync, resolve, reject }));
  }

  /**
   * Applies a snapshot to the enqueued log exactly as core/raft/types.ts says a driver must: drop the entries it
   * covers, or every entry when it resets the log. Whether it resets is the core's decision (Raft's rule about
   * the snapshot's last entry needs terms the core has); the marker records it, so recovery replays the same.
   */
  private applySnapshot(index: number, term: number, resetsLog: boolean): SnapshotMarker {
    const offset = index - this.logStart;
    this.logTerms = resetsLog || offset >= this.logTerms.length ? [] : this.logTerms.slice(Math.max(0, offset + 1));
    this.logStart = index + 1;
    const marker = { index, term, resetsLog };
    this.snapshotMarker = marker;
    return marker;
  }


  private push(save: PendingSave): void {
    this.queue.push(save);
    if (!this.flushing) this.flushing = this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    // Yield once so that saves issued in the same synchronous run share one write and one fsync.
    await Promise.resolve();
    try {
      while (this.queue.length > 0) {
        const round = this.queue;
        this.queue = [];
        try {
          if (this.failure) throw this.failure;
          const bytes = round.reduce((n, save) => n + save.records.reduce((m, r) => m + r.bytes.length, 0), 0);
          if (round.some((save) => save.sync) || this.carriedBytes + bytes > MAX_CARRIED_BYTES) {
            await this.writeRound(round);
          } else {
            for (const save of round) this.carried.push(...save.records);
            this.carriedBytes += bytes;
          }
          for (const save of round) save.resolve();
        } catch (err) {
          const error = this.poison(err);
          for (const save of [...round, ...this.queue]) save.reject(error);
          this.queue = [];
        }
      }
    } finally {
      // Cleared in the same turn as the emptiness check above, so a save pushed by a resolved caller's
      // continuation always finds either a running loop that will see it or no loop, and starts one.
      this.flushing = null;
    }
  }

  /** Writes the carried records and the round's, durably (one synchronized write where the platform allows). */
  private async writeRound(round: PendingSave[]): Promise<void> {
    const records = this.carried.concat(...round.map((save) => save.records));
    this.carried = [];
    this.carriedBytes = 0;
    let chunks: Uint8Array[] = [];
    let chunkBytes = 0;
    let written = false;
    const writeChunks = async (): Promise<void> => {
      if (chunkBytes === 0) return;
      await writeAll(this.current, concat(chunks, chunkBytes));
      this.currentSize += chunkBytes;
      this.counters.bytesWritten += chunkBytes;
      written = true;
      chunks = [];
      chunkBytes = 0;
    };
    for (const record of records) {
      const size = this.currentSize + chunkBytes;
      if (size + record.bytes.length > this.segmentBytes && size > this.currentStartSize) {
        await writeChunks();
        await this.rotate();
      }
      chunks.push(record.bytes);
      chunkBytes += record.bytes.length;
      this.counters.records++;
      const segment = this.segments[this.segments.length - 1]!;
      segment.maxIndex = Math.max(segment.maxIndex, record.maxIndex);
      if (record.hardState) this.writtenHardState = record.hardState;
      if (record.marker) this.writtenMarker = record.marker;
    }
    await writeChunks();
    this.counters.flushes++;
    if (written) {
      if (!WRITES_ARE_SYNCHRONIZED) await this.current.sync();
      this.counters.fsyncs++;
    }
  }

  /** Closes the full segment durably and starts the next one. */
  private async rotate(): Promise<void> {
    await this.current.sync();
    this.counters.fsyncs++;
    await this.current.close();
    await this.createSegment(this.segments[this.segments.length - 1]!.seq + 1);
  }

  /**
   * A new segment starts with the latest hard state and snapshot marker, so older segments can be deleted
   * without losing them; it is created whole under a temp name and renamed, so a crash never leaves a
   * segment without its header.
   */
  private async createSegment(seq: number): Promise<void> {
    const head: Uint8Array[] = [SEGMENT_MAGIC];
    // Repeated without the reset flag: the reset already happened in the segment that recorded it.
    if (this.writtenMarker) head.push(encodeRecord({ type: RecordType.snapshotMarker, marker: { ...this.writtenMarker, resetsLog: false } }));
    if (this.writtenHardState) head.push(encodeRecord({ type: RecordType.hardState, hardState: this.writtenHardState }));
    const bytes = concat(head, head.reduce((n, b) => n + b.length, 0));
    const name = segmentFileName(seq);
    await writeFileDurably(this.dir, name, bytes);
    this.segments.push({ seq, name, maxIndex: 0 });
    this.current = await open(join(this.dir, name), SEGMENT_FLAGS);
    this.currentSize = bytes.length;
    this.currentStartSize = bytes.length;
    this.counters.fsyncs += 2;
  }

  private async openLastSegment(): Promise<void> {
    const last = this.segments[this.segments.length - 1]!;
    const path = join(this.dir, last.name);
    this.current = await open(path, SEGMENT_FLAGS);
    this.currentSize = (await stat(path)).size;
    this.currentStartSize = this.currentSize;
  }

  /** After a snapshot is durable: delete the oldest segments whose entries it covers, and older snapshot files. */
  /** Releases run one at a time, in snapshot order: two interleaved ones would each trim the segment list. */
  private releaseCompacted(snapshot: { index: number }): Promise<void> {
    this.releasing = this.releasing.then(() => this.releaseCompactedNow(snapshot));
    return this.releasing;
  }

  private async releaseCompactedNow(snapshot: { index: number }): Promise<void> {
    if (this.failure || this.closed) return;
    let highest = 0;
    let releasable = 0;
    for (let i = 0; i < this.segments.length - 1; i++) {
      highest = Math.max(highest, this.segments[i]!.maxIndex);
      if (highest > snapshot.index) break;
      releasable = i + 1;
    }
    try {
      // Oldest first, so a crash part-way leaves a contiguous run of segments.
      for (let i = 0; i < releasable; i++) {
        await unlink(join(this.dir, this.segments[0]!.name));
        this.segments.shift();
      }
      // Only snapshots older than this durable one: a newer file may belong to a save whose marker is not
      // durable yet, and then this one is still the snapshot recovery would load.
      for (const name of await readdir(this.dir)) {
        const match = SNAPSHOT_NAME.exec(name);
        if (match && parseInt(match[1]!, 16) < snapshot.index) await unlink(join(this.dir, name));
      }
      await fsyncPath(this.dir);
    } catch (err) {
      // Leftover files cost space, not correctness: recovery copes with extra old segments and snapshots.
      this.log(`wal: could not release compacted files in ${this.dir}: ${(err as Error).message}`);
    }
  }

}

async function prepareDir(dir: string, createIfMissing: boolean): Promise<void> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw new WalOpenError(`wal: data dir ${dir} is not a directory`);
  } catch (err) {
    if (err instanceof WalOpenError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new WalOpenError(`wal: cannot use data dir ${dir}: ${code ?? (err as Error).message}`);
    if (!createIfMissing) throw new WalOpenError(`wal: data dir ${dir} does not exist`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await fsyncPath(dirname(dir));
    } catch (mkdirErr) {
      throw new WalOpenError(`wal: cannot create data dir ${dir}: ${(mkdirErr as NodeJS.ErrnoException).code ?? (mkdirErr as Error).message}`);
    }
  }
  try {
    await access(dir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    throw new WalOpenError(`wal: data dir ${dir} is not readable and writable by this process (${(err as NodeJS.ErrnoException).code})`);
  }
}

async function recover(dir: string, log: (line: string) => void): Promise<{ recovered: RecoveredState; segments: SegmentInfo[] }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new WalOpenError(`wal: cannot list data dir ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const segments: SegmentInfo[] = names
    .map((name) => SEGMENT_NAME.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ seq: parseInt(m[1]!, 16), name: m[0], maxIndex: 0 }))
    .sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < segments.length; i++) {
    if (segments[i]!.seq !== segments[i - 1]!.seq + 1) {
      throw new WalCorruptionError(join(dir, segments[i]!.name), 0, `segment ${segments[i - 1]!.seq + 1} is missing`);
    }
  }

  const state: ReplayState = { hardState: null, marker: null, entries: [] };
  let tornTail: { path: string; offset: number; droppedBytes: number; reason: string } | null = null;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const path = join(dir, segment.name);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new WalOpenError(`wal: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const isLast = i === segments.length - 1;
    const scan = scanSegment(bytes, path, isLast);
    for (const { record, offset } of scan.records) {
      replay(state, record, path, offset);
      if (record.type === RecordType.entry) segment.maxIndex = Math.max(segment.maxIndex, record.entry.index);
    }
    if (scan.tornTail) tornTail = { path, ...scan.tornTail };
  }

  const { hardState, marker, entries } = state;
  const expectedStart = (marker?.index ?? 0) + 1;
  if (entries.length > 0 && entries[0]!.index !== expectedStart) {
    throw new WalCorruptionError(join(dir, segments[0]!.name), 0, `the log starts at index ${entries[0]!.index} but ${expectedStart} was expected: a segment is missing`);
  }

  let snapshot: Snapshot | null = null;
  const keep = marker ? snapshotFileName(marker) : null;
  if (marker) {
    const path = join(dir, keep!);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new WalCorruptionError(path, 0, `snapshot file named by the log cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const decoded = decodeSnapshotFile(bytes);
    if (typeof decoded === 'string') throw new WalCorruptionError(path, 0, `snapshot file ${decoded}`);
    if (decoded.index !== marker.index || decoded.term !== marker.term) {
      throw new WalCorruptionError(path, 0, `snapshot file holds ${decoded.index}/${decoded.term}, the log names ${marker.index}/${marker.term}`);
    }
    snapshot = decoded;
  }
  // Nothing is changed on disk until every check above passed: a refused dir is left as the crash left it.
  if (tornTail) {
    const { path, offset, droppedBytes, reason } = tornTail;
    await truncate(path, offset);
    await fsyncPath(path);
    log(`wal: repaired torn tail of ${path}: dropped ${droppedBytes} bytes at offset ${offset} (${reason}); records after the last one fully written were never acknowledged`);
  }
  for (const name of names.filter((n) => n.endsWith(TEMP_SUFFIX))) {
    // A temp file is a segment or snapshot whose creation a crash interrupted before the rename made it count.
    await unlink(join(dir, name));
    log(`wal: removed unfinished file ${join(dir, name)}`);
  }
  for (const name of names) {
    if (SNAPSHOT_NAME.test(name) && name !== keep) {
      // Older ones are superseded; a newer one without a marker was cut short by a crash before it counted.
      await unlink(join(dir, name));
      log(`wal: removed snapshot file ${join(dir, name)} not named by the log`);
    }
  }
  return { recovered: { hardState, snapshot, entries }, segments };
}

interface ReplayState {
  hardState: HardState | null;
  marker: SnapshotMarker | null;
  entries: LogEntry[];
}

/** Applies one record in log order (in place), with Raft's truncation rule for entries and snapshots. */
function replay(state: ReplayState, record: WalRecord, file: string, offset: number): void {
  switch (record.type) {
    case RecordType.hardState:
      state.hardState = record.hardState;
      return;
    case RecordType.snapshotMarker: {
      const { marker } = record;
      if (state.marker && marker.index < state.marker.index) {
        throw new WalCorruptionError(file, offset, `snapshot marker ${marker.index} goes back before ${state.marker.index}`);
      }
      // The head of each segment repeats the current marker without the reset; it then drops nothing.
      state.marker = marker;
      state.entries = marker.resetsLog ? [] : state.entries.filter((e) => e.index > marker.index);
      return;
    }
    case RecordType.entry: {
      const { entry } = record;
      const floor = state.marker?.index ?? 0;
      if (entry.index <= floor) throw new WalCorruptionError(file, offset, `entry ${entry.index} is covered by the snapshot at ${floor}`);
      const entries = state.entries;
      const first = entries.length > 0 ? entries[0]!.index : entry.index;
      const last = first + entries.length - 1;
      if (entry.index > last + 1) throw new WalCorruptionError(file, offset, `entry ${entry.index} leaves a gap after ${last}`);
      if (entry.index < first) {
        state.entries = [entry];
        return;
      }
      // Raft's rule: an entry at index i replaces the entry there and everything after it.
      if (entry.index <= last) entries.length = entry.index - first;
      entries.push(entry);
      return;
    }
  }
}
