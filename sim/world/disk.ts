// One node's simulated disk: named append-only files of checksummed records.
//
// Writes are buffered (the page cache); a sync takes simulated time and, when it completes, makes durable
// everything written before it was issued (like fsync: writes issued while it runs are not covered). A crash
// loses every unsynced write. Optional faults: a crash may let a prefix of the unsynced writes survive (the
// kernel flushed them on its own, so a node must not assume unsynced means gone), and leave the next unsynced
// record torn (a prefix of its bytes reached the platter); a completed sync may silently corrupt one bit of a
// record it wrote (a latent sector error). Readers detect both by checksums and report the first bad record precisely; they
// never hand back wrong bytes. One fault is outside what Raft can survive and is off unless asked for: a lying
// sync, which reports success without persisting (for showing that a durability checker notices lost data).
//
// Record frame: [payload length u32][CRC-32C of the length u32][CRC-32C of the payload u32][payload]. The length
// has its own checksum so a flipped length bit is reported as corruption rather than misread as a torn tail.
import { crc32c } from '../../core/codec/crc32c.ts';
import { sampleLatency, validateLatency, type LatencyModel } from './latency.ts';
import type { RandomStream } from './random.ts';

export const RECORD_HEADER_BYTES = 12;

export interface DiskFaults {
  /** Probability that a crash keeps a random prefix (at least one) of the unsynced operations, in order. */
  unsyncedSurviveOnCrash: number;
  /** Probability that a crash leaves a torn prefix of the first unsynced appended record that did not survive. */
  tornWriteOnCrash: number;
  /** Probability that a completed sync flips one bit in one of the records it made durable. */
  corruptOnSync: number;
  /**
   * Probability that a sync reports success but persists nothing it covered (the writes stay visible to the
   * running process and vanish at the next crash). Default 0: no consensus protocol survives this.
   */
  lostWriteOnSync: number;
}

export const DEFAULT_DISK_FAULTS: DiskFaults = {
  unsyncedSurviveOnCrash: 0.3,
  tornWriteOnCrash: 0.5,
  corruptOnSync: 0.05,
  lostWriteOnSync: 0,
};

export interface DiskOptions {
  /** Time a sync takes (before the slow factor). */
  syncLatency?: LatencyModel;
  /** Multiplies every sync latency: the "slow disk" knob (1 = normal). */
  slowFactor?: number;
  /** Fault rates used while faults are on. */
  faults?: Partial<DiskFaults>;
  /** Start with faults on. */
  faultsOn?: boolean;
  /** Most unsynced operations the page cache holds; past it append/replace throw (a node that never syncs). */
  maxPendingOps?: number;
}

export const DEFAULT_SYNC_LATENCY: LatencyModel = { kind: 'lognormal', medianMs: 2, sigma: 0.6, maxMs: 200 };
export const DEFAULT_MAX_PENDING_OPS = 100_000;

export interface RecordProblem {
  kind: 'torn' | 'corrupt';
  file: string;
  /** Index of the first bad record (the records before it are returned and are exactly what was written). */
  recordIndex: number;
  /** Byte offset of the bad record's frame in the file. */
  offset: number;
  detail: string;
}

export interface ReadResult {
  records: Uint8Array[];
  /** Null when every byte of the file parsed into good records. */
  problem: RecordProblem | null;
}

export interface DiskStats {
  appends: number;
  bytesAppended: number;
  replaces: number;
  syncs: number;
  syncsCompleted: number;
  /** Unsynced operations thrown away by crashes. */
  lostOps: number;
  /** Unsynced operations a crash let survive. */
  survivedOps: number;
  /** Operations a lying sync claimed and dropped. */
  lostWrites: number;
  tornWrites: number;
  corruptions: number;
}

type PendingOp = { file: string; kind: 'append'; frame: Uint8Array } | { file: string; kind: 'replace'; frames: Uint8Array[] };

export function encodeRecord(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32c(frame, 0, 0, 4), true);
  view.setUint32(8, crc32c(payload), true);
  frame.set(payload, RECORD_HEADER_BYTES);
  return frame;
}

/** Parses a file's bytes into records, stopping at the first torn or corrupt one. */
export function decodeRecords(file: string, bytes: Uint8Array): ReadResult {
  const records: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  const fail = (kind: 'torn' | 'corrupt', detail: string): ReadResult => ({
    records,
    problem: { kind, file, recordIndex: records.length, offset, detail },
  });
  while (offset < bytes.length) {
    const left = bytes.length - offset;
    if (left < RECORD_HEADER_BYTES) return fail('torn', `${left} trailing bytes, less than a record header`);
    const length = view.getUint32(offset, true);
    if (view.getUint32(offset + 4, true) !== crc32c(bytes, 0, offset, offset + 4)) {
      return fail('corrupt', 'record header checksum mismatch');
    }
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > bytes.length) {
      return fail('torn', `record of ${length} bytes cut short at ${bytes.length - offset - RECORD_HEADER_BYTES}`);
    }
    if (view.getUint32(offset + 8, true) !== crc32c(bytes, 0, offset + RECORD_HEADER_BYTES, end)) {
      return fail('corrupt', 'record payload checksum mismatch');
    }
    records.push(bytes.slice(offset + RECORD_HEADER_BYTES, end));
    offset = end;
  }
  return { records, problem: null };
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export class SimDisk {
  readonly node: string;
  private readonly rng: RandomStream;
  private syncLatency: LatencyModel;
  private slowFactor: number;
  private faults: DiskFaults;
  private faultsOn: boolean;
  private readonly maxPendingOps: number;
  /** Durable content of each file, as frames (a torn write leaves a short frame; bit rot edits one in place). */
  private readonly durable = new Map<string, Uint8Array[]>();
  /** Each file as the running process sees it (its page cache); rebuilt from `durable` at a crash. */
  private view = new Map<string, Uint8Array[]>();
  /** Unsynced operations in issue order; `pendingBase` counts the ones already made durable or lost. */
  private pending: PendingOp[] = [];
  private pendingBase = 0;
  /** Sync id -> absolute op count it covers. Syncs complete in issue order. */
  private readonly inFlight = new Map<number, number>();
  private nextSyncId = 1;
  private lastCompletion = 0;
  readonly stats: DiskStats = {
    appends: 0,
    bytesAppended: 0,
    replaces: 0,
    syncs: 0,
    syncsCompleted: 0,
    lostOps: 0,
    survivedOps: 0,
    lostWrites: 0,
    tornWrites: 0,
    corruptions: 0,
  };

  constructor(node: string, rng: RandomStream, options: DiskOptions = {}) {
    this.node = node;
    this.rng = rng;
    this.syncLatency = options.syncLatency ?? DEFAULT_SYNC_LATENCY;
    validateLatency(this.syncLatency, `disk of ${node}`);
    this.slowFactor = 1;
    this.setSlow(options.slowFactor ?? 1);
    this.faults = { ...DEFAULT_DISK_FAULTS, ...options.faults };
    for (const [k, p] of Object.entries(this.faults)) {
      if (!(p >= 0 && p <= 1)) throw new RangeError(`disk of ${node}: fault ${k} must be a probability in [0, 1], got ${p}`);
    }
    this.faultsOn = options.faultsOn ?? false;
    this.maxPendingOps = options.maxPendingOps ?? DEFAULT_MAX_PENDING_OPS;
  }

  // ---- what the node does ----

  /** Buffers one record at the end of `file` (created if absent). Durable only after a sync covering it. */
  append(file: string, payload: Uint8Array): void {
    this.checkRoom();
    const frame = encodeRecord(payload);
    this.pending.push({ file, kind: 'append', frame });
    let frames = this.view.get(file);
    if (!frames) this.view.set(file, (frames = []));
    frames.push(frame);
    this.stats.appends++;
    this.stats.bytesAppended += payload.length;
  }

  /** Buffers an atomic rewrite of `file` to exactly `records` (a snapshot). Atomic once a sync covers it. */
  replace(file: string, records: readonly Uint8Array[]): void {
    this.checkRoom();
    const frames = records.map(encodeRecord);
    this.pending.push({ file, kind: 'replace', frames });
    this.view.set(file, frames.slice());
    this.stats.replaces++;
  }

  /** The file as the running node sees it: durable content plus its own unsynced writes. */
  read(file: string): ReadResult {
    return decodeRecords(file, concat(this.view.get(file) ?? []));
  }

  /** The file as it would be after a crash right now (no fault applied). */
  readDurable(file: string): ReadResult {
    return decodeRecords(file, concat(this.durable.get(file) ?? []));
  }

  /** Names of files that exist durably or in the page cache, sorted. */
  files(): string[] {
    return [...new Set([...this.durable.keys(), ...this.view.keys()])].sort();
  }

  /** Id of the latest sync issued (0 before the first); ids only grow, across crashes too. */
  get lastSyncId(): number {
    return this.nextSyncId - 1;
  }

  /** Unsynced operations waiting in the page cache. */
  get pendingOps(): number {
    return this.pending.length;
  }

  // ---- what the world does ----

  /** Issues a sync at `now`: returns its id and when it completes (syncs complete in issue order). */
  beginSync(now: number): { id: number; completesAt: number } {
    const id = this.nextSyncId++;
    this.inFlight.set(id, this.pendingBase + this.pending.length);
    const completesAt = Math.max(now + sampleLatency(this.syncLatency, this.rng) * this.slowFactor, this.lastCompletion);
    this.lastCompletion = completesAt;
    this.stats.syncs++;
    return { id, completesAt };
  }

  /** Completes a sync: what was written before it was issued becomes durable. False if a crash voided it. */
  completeSync(id: number): boolean {
    const covers = this.inFlight.get(id);
    if (covers === undefined) return false;
    this.inFlight.delete(id);
    if (this.faultsOn && this.rng.bernoulli(this.faults.lostWriteOnSync)) {
      const count = covers - this.pendingBase;
      this.pending = this.pending.slice(count);
      this.pendingBase = covers;
      this.stats.lostWrites += count;
      this.stats.syncsCompleted++;
      return true;
    }
    const written = this.writeBack(covers - this.pendingBase);
    this.stats.syncsCompleted++;
    if (this.faultsOn && written.length > 0 && this.rng.bernoulli(this.faults.corruptOnSync)) {
      this.flipBit(this.rng.pick(written));
    }
    return true;
  }

  /** Makes the oldest `count` unsynced operations durable; returns the frames written. */
  private writeBack(count: number): Uint8Array[] {
    const written: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const op = this.pending[i]!;
      if (op.kind === 'append') {
        let frames = this.durable.get(op.file);
        if (!frames) this.durable.set(op.file, (frames = []));
        frames.push(op.frame);
        written.push(op.frame);
      } else {
        this.durable.set(op.file, op.frames.slice());
        written.push(...op.frames);
      }
    }
    if (count > 0) {
      this.pending = this.pending.slice(count);
      this.pendingBase += count;
    }
    return written;
  }

  /** The process died: unsynced writes are gone, in-flight syncs void; with faults on a torn tail may remain. */
  crash(): void {
    if (this.faultsOn && this.pending.length > 0 && this.rng.bernoulli(this.faults.unsyncedSurviveOnCrash)) {
      const survivors = this.rng.int(1, this.pending.length);
      this.writeBack(survivors);
      this.stats.survivedOps += survivors;
    }
    const first = this.pending[0];
    if (this.faultsOn && first?.kind === 'append' && this.rng.bernoulli(this.faults.tornWriteOnCrash)) {
      const kept = this.rng.int(1, first.frame.length - 1);
      let frames = this.durable.get(first.file);
      if (!frames) this.durable.set(first.file, (frames = []));
      frames.push(first.frame.slice(0, kept));
      this.stats.tornWrites++;
    }
    this.stats.lostOps += this.pending.length;
    this.pendingBase += this.pending.length;
    this.pending = [];
    this.inFlight.clear();
    this.view = new Map([...this.durable].map(([file, frames]) => [file, frames.slice()]));
  }

  /** Bit rot now: flips one bit of one durable record (chosen by the disk's stream); returns its file or null. */
  corruptRandomRecord(): string | null {
    const candidates: Array<[string, Uint8Array]> = [];
    for (const [file, frames] of this.durable) for (const f of frames) if (f.length > 0) candidates.push([file, f]);
    if (candidates.length === 0) return null;
    const [file, frame] = this.rng.pick(candidates);
    this.flipBit(frame);
    return file;
  }

  setSlow(factor: number): void {
    if (!(Number.isFinite(factor) && factor > 0)) {
      throw new RangeError(`disk of ${this.node}: slow factor must be a finite number > 0, got ${factor}`);
    }
    this.slowFactor = factor;
  }

  setFaults(on: boolean): void {
    this.faultsOn = on;
  }

  private flipBit(frame: Uint8Array): void {
    const bit = this.rng.int(0, frame.length * 8 - 1);
    frame[bit >> 3] = frame[bit >> 3]! ^ (1 << (bit & 7));
    this.stats.corruptions++;
  }

  private checkRoom(): void {
    if (this.pending.length >= this.maxPendingOps) {
      throw new RangeError(
        `disk of ${this.node}: ${this.maxPendingOps} unsynced operations pending (maxPendingOps); the node never syncs?`,
      );
    }
  }

}
