// The on-disk formats of the write-ahead log: segment files of checksummed records, and snapshot files.
// Pure byte manipulation (no I/O) so recovery's decisions can be tested byte by byte.
//
// Segment file: 8-byte magic, then records. Record (little-endian):
//   0  payload length  u32
//   4  record type     u8
//   5  reserved        3 bytes, zero
//   8  header CRC-32C  u32 over bytes 0..8   (a flipped length is caught before it is trusted)
//  12  payload CRC-32C u32 over the payload
//  16  payload
import { crc32c } from '../../core/codec/crc32c.ts';

export const SEGMENT_MAGIC = Uint8Array.from([0x52, 0x53, 0x57, 0x41, 0x4c, 0x00, 0x01, 0x0a]); // "RSWAL\0\1\n"
export const SNAPSHOT_MAGIC = Uint8Array.from([0x52, 0x53, 0x53, 0x4e, 0x41, 0x50, 0x01, 0x0a]); // "RSSNAP\1\n"
export const RECORD_HEADER_BYTES = 16;
/** A record's payload may not exceed this; a larger declared length is treated as damage, not allocated. */
export const MAX_RECORD_PAYLOAD_BYTES = 256 * 1024 * 1024;

export const RecordType = { entry: 1, hardState: 2, snapshotMarker: 3 } as const;
export type RecordTypeCode = (typeof RecordType)[keyof typeof RecordType];

/** One Raft log entry as the WAL sees it: position plus opaque bytes (the caller's codec owns the rest). */
export interface LogEntry {
  index: number;
  term: number;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: string | null;
  commit: number;
}

/** A snapshot: the state machine image at `index`/`term`; `data` is opaque (it carries membership too). */
export interface Snapshot {
  index: number;
  term: number;
  data: Uint8Array;
}

export interface SnapshotMarker {
  index: number;
  term: number;
  /** Every stored entry goes (a snapshot installed from the leader replaces the log); otherwise only the ones it covers. */
  resetsLog: boolean;
}

export type WalRecord =
  | { type: typeof RecordType.entry; entry: LogEntry }
  | { type: typeof RecordType.hardState; hardState: HardState }
  | { type: typeof RecordType.snapshotMarker; marker: SnapshotMarker };

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function writeU64(view: DataView, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative safe integer: ${value}`);
  view.setUint32(offset, value % 2 ** 32, true);
  view.setUint32(offset + 4, Math.floor(value / 2 ** 32), true);
}

// Reads straight from the bytes: recovery decodes every record, and a DataView per record costs more than the CRC.
function u32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

function u64(bytes: Uint8Array, offset: number): number {
  return u32(bytes, offset) + u32(bytes, offset + 4) * 2 ** 32;
}

function frameRecord(type: RecordTypeCode, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, payload.length, true);
  bytes[4] = type;
  view.setUint32(8, crc32c(bytes, 0, 0, 8), true);
  view.setUint32(12, crc32c(payload), true);
  bytes.set(payload, RECORD_HEADER_BYTES);
  return bytes;
}

export function encodeRecord(record: WalRecord): Uint8Array {
  switch (record.type) {
    case RecordType.entry: {
      const { index, term, data } = record.entry;
      const payload = new Uint8Array(16 + data.length);
      const view = new DataView(payload.buffer);
      writeU64(view, 0, index);
      writeU64(view, 8, term);
      payload.set(data, 16);
      return frameRecord(RecordType.entry, payload);
    }
    case RecordType.hardState: {
      const { term, vote, commit } = record.hardState;
      const voteBytes = vote === null ? new Uint8Array(0) : utf8Encoder.encode(vote);
      const payload = new Uint8Array(17 + voteBytes.length);
      const view = new DataView(payload.buffer);
      writeU64(view, 0, term);
      writeU64(view, 8, commit);
      payload[16] = vote === null ? 0 : 1;
      payload.set(voteBytes, 17);
      return frameRecord(RecordType.hardState, payload);
    }
    case RecordType.snapshotMarker: {
      const payload = new Uint8Array(17);
      const view = new DataView(payload.buffer);
      writeU64(view, 0, record.marker.index);
      writeU64(view, 8, record.marker.term);
      payload[16] = record.marker.resetsLog ? 1 : 0;
      return frameRecord(RecordType.snapshotMarker, payload);
    }
  }
}

/** Decodes a checksum-verified payload; returns a reason string when the bytes do not form a valid record. */
function decodePayload(type: number, payload: Uint8Array): WalRecord | string {
  switch (type) {
    case RecordType.entry:
      if (payload.length < 16) return `entry record too short (${payload.length} bytes)`;
      // A view into the segment's buffer, not a copy: one allocation per entry made recovery GC-bound. The
      // buffer is recovery's own and never written again; a recovered log holds its segments' bytes anyway.
      return { type, entry: { index: u64(payload, 0), term: u64(payload, 8), data: payload.subarray(16) } };
    case RecordType.hardState: {
      if (payload.length < 17 || payload[16]! > 1) return 'malformed hard-state record';
      let vote: string | null = null;
      if (payload[16] === 1) {
        try {
          vote = utf8Decoder.decode(payload.subarray(17));
        } catch {
          return 'hard-state vote is not UTF-8';
        }
      }
      return { type, hardState: { term: u64(payload, 0), vote, commit: u64(payload, 8) } };
    }
    case RecordType.snapshotMarker:
      if (payload.length !== 17 || payload[16]! > 1) return 'malformed snapshot-marker record';
      return { type, marker: { index: u64(payload, 0), term: u64(payload, 8), resetsLog: payload[16] === 1 } };
    default:
      return `unknown record type ${type}`;
  }
}

type Attempt = { ok: true; record: WalRecord; end: number } | { ok: false; reason: string };

/** Tries to read one whole, checksum-valid record at `offset`. */
function readRecordAt(bytes: Uint8Array, offset: number): Attempt {
  const remaining = bytes.length - offset;
  if (remaining < RECORD_HEADER_BYTES) return { ok: false, reason: `partial record header (${remaining} of ${RECORD_HEADER_BYTES} bytes)` };
  if (u32(bytes, offset + 8) !== crc32c(bytes, 0, offset, offset + 8)) {
    return { ok: false, reason: isZero(bytes, offset, bytes.length) ? 'zero-filled tail' : 'record header checksum mismatch' };
  }
  const length = u32(bytes, offset);
  if (bytes[offset + 5] !== 0 || bytes[offset + 6] !== 0 || bytes[offset + 7] !== 0) return { ok: false, reason: 'reserved header bytes are not zero' };
  if (length > MAX_RECORD_PAYLOAD_BYTES) return { ok: false, reason: `record length ${length} exceeds the maximum` };
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > bytes.length) return { ok: false, reason: `partial record (${remaining} of ${RECORD_HEADER_BYTES + length} bytes)` };
  if (u32(bytes, offset + 12) !== crc32c(bytes, 0, offset + RECORD_HEADER_BYTES, end)) {
    return { ok: false, reason: 'record checksum mismatch' };
  }
  const decoded = decodePayload(bytes[offset + 4]!, bytes.subarray(offset + RECORD_HEADER_BYTES, end));
  if (typeof decoded === 'string') return { ok: false, reason: decoded };
  return { ok: true, record: decoded, end };
}

/**
 * A plain Uint8Array over the same memory: a Node Buffer's `slice` shares memory, so the copies handed to callers
 * are taken from this view instead, and they are plain Uint8Arrays like everything else in the codebase.
 */
function plainView(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isZero(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** True if some whole, checksum-valid record starts anywhere after `offset`: the damage is not a torn tail. */
function validRecordFollows(bytes: Uint8Array, offset: number): boolean {
  for (let p = offset + 1; p + RECORD_HEADER_BYTES <= bytes.length; p++) {
    if (readRecordAt(bytes, p).ok) return true;
  }
  return false;
}

export interface ScannedRecord {
  record: WalRecord;
  offset: number;
}

export interface SegmentScan {
  records: ScannedRecord[];
  /** Set when the segment ends in a torn write that recovery may cut off at `offset`. */
  tornTail?: { offset: number; droppedBytes: number; reason: string };
}

export class WalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupt data in ${file} at offset ${offset}: ${reason}; refusing to start (restore this member from a peer or a backup)`);
    this.name = 'WalCorruptionError';
  }
}

/**
 * Reads every record of one segment. Damage that a crash mid-append can leave (an incomplete or checksum-failing
 * last record with nothing valid after it, in the last segment) is reported as a torn tail; anything else, a bad
 * record followed by a good one or any damage in a segment that was complete before the next one was created,
 * throws WalCorruptionError: starting would mean running with wrong data or silently losing acknowledged writes.
 */
export function scanSegment(fileBytes: Uint8Array, file: string, isLastSegment: boolean): SegmentScan {
  const bytes = plainView(fileBytes);
  if (bytes.length < SEGMENT_MAGIC.length || !SEGMENT_MAGIC.every((b, i) => bytes[i] === b)) {
    throw new WalCorruptionError(file, 0, 'not a raftsim WAL segment (bad magic)');
  }
  const records: ScannedRecord[] = [];
  let offset = SEGMENT_MAGIC.length;
  while (offset < bytes.length) {
    const attempt = readRecordAt(bytes, offset);
    if (attempt.ok) {
      records.push({ record: attempt.record, offset });
      offset = attempt.end;
      continue;
    }
    if (!isLastSegment) throw new WalCorruptionError(file, offset, `${attempt.reason} in a segment that is not the last`);
    if (validRecordFollows(bytes, offset)) throw new WalCorruptionError(file, offset, `${attempt.reason}, followed by valid records`);
    return { records, tornTail: { offset, droppedBytes: bytes.length - offset, reason: attempt.reason } };
  }
  return { records };
}

// Snapshot file: magic(8) index u64 term u64 length u32 crc u32 (over index..length and data), data.
const SNAPSHOT_HEADER_BYTES = SNAPSHOT_MAGIC.length + 24;

export function encodeSnapshotFile(snapshot: Snapshot): Uint8Array {
  const bytes = new Uint8Array(SNAPSHOT_HEADER_BYTES + snapshot.data.length);
  const view = new DataView(bytes.buffer);
  bytes.set(SNAPSHOT_MAGIC, 0);
  writeU64(view, 8, snapshot.index);
  writeU64(view, 16, snapshot.term);
  view.setUint32(24, snapshot.data.length, true);
  bytes.set(snapshot.data, SNAPSHOT_HEADER_BYTES);
  const crc = crc32c(snapshot.data, crc32c(bytes, 0, 8, 28));
  view.setUint32(28, crc, true);
  return bytes;
}

/** Decodes a snapshot file, or returns a reason it is not a valid one. */
export function decodeSnapshotFile(fileBytes: Uint8Array): Snapshot | string {
  const bytes = plainView(fileBytes);
  if (bytes.length < SNAPSHOT_HEADER_BYTES || !SNAPSHOT_MAGIC.every((b, i) => bytes[i] === b)) return 'not a raftsim snapshot file (bad magic or too short)';
  const length = u32(bytes, 24);
  if (bytes.length !== SNAPSHOT_HEADER_BYTES + length) return `length mismatch (header says ${length} data bytes, file has ${bytes.length - SNAPSHOT_HEADER_BYTES})`;
  const crc = crc32c(bytes, crc32c(bytes, 0, 8, 28), SNAPSHOT_HEADER_BYTES, bytes.length);
  if (crc !== u32(bytes, 28)) return 'checksum mismatch';
  return { index: u64(bytes, 8), term: u64(bytes, 16), data: bytes.slice(SNAPSHOT_HEADER_BYTES) };
}
