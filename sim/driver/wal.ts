// The replica's write-ahead log on a simulated disk. One record per Ready persist, so a persist is on disk
// whole or not at all (a torn record fails its checksum and is cut off at boot), plus a `base` record holding a
// whole PersistedState that starts the file after a rewrite. Restart folds the records in order.
//
// The log is rewritten (one atomic `replace`) after a snapshot, when the entries before it are no longer
// needed, and when too many records have piled up, so a boot never replays an unbounded file.
import { decode, encode } from '../../core/codec/msgpack.ts';
import {
  decodeEntries,
  decodeHardState,
  decodePersistedState,
  decodeSnapshot,
  encodeEntries,
  encodeHardState,
  encodePersistedState,
  encodeSnapshot,
} from '../../core/codec/index.ts';
import type { Entry, PersistedState, Persist } from '../../core/raft/index.ts';

export const WAL_FILE = 'wal';

/** The disk's content as Raft sees it, kept in memory beside the file so a rewrite needs no read. */
export class PersistedMirror {
  hardState: PersistedState['hardState'] = { term: 0, vote: null, commit: 0 };
  snapshot: PersistedState['snapshot'] = null;
  /** entries[i] has index base + 1 + i, base = snapshot index (or 0). */
  entries: Entry[] = [];

  static from(state: PersistedState): PersistedMirror {
    const m = new PersistedMirror();
    m.hardState = { ...state.hardState };
    m.snapshot = state.snapshot;
    const base = state.snapshot?.index ?? 0;
    m.entries = state.entries.filter((e) => e.index > base);
    return m;
  }

  private get base(): number {
    return this.snapshot?.index ?? 0;
  }

  /** Applies a persist as core/raft's contract says, in O(new entries) rather than O(log). */
  apply(persist: Persist): void {
    if (persist.snapshot !== null) {
      const drop = persist.snapshot.index - this.base;
      this.snapshot = persist.snapshot;
      this.entries = persist.snapshotResetsLog || drop >= this.entries.length ? [] : this.entries.slice(Math.max(drop, 0));
    }
    if (persist.entries.length > 0) {
      const keep = persist.entries[0]!.index - this.base - 1;
      if (keep < 0) throw new RangeError(`wal: persist appends at ${persist.entries[0]!.index}, below the snapshot at ${this.base}`);
      if (keep < this.entries.length) this.entries.length = keep;
      if (keep > this.entries.length) throw new RangeError(`wal: persist appends at ${persist.entries[0]!.index}, leaving a gap after ${this.base + this.entries.length}`);
      for (const e of persist.entries) this.entries.push(e);
    }
    if (persist.hardState !== null) this.hardState = { ...persist.hardState };
  }

  state(): PersistedState {
    return { hardState: { ...this.hardState }, snapshot: this.snapshot, entries: this.entries.slice() };
  }
}

// A record is msgpack `[tag, ...parts]`, the parts encoded with core/codec so decoding checks every field.
const BASE = 1;
const PERSIST = 2;

export function encodeBaseRecord(state: PersistedState): Uint8Array {
  return encode([BASE, encodePersistedState(state)]);
}

export function encodePersistRecord(p: Persist): Uint8Array {
  return encode([
    PERSIST,
    p.hardState === null ? null : encodeHardState(p.hardState),
    p.entries.length === 0 ? null : encodeEntries(p.entries),
    p.snapshot === null ? null : encodeSnapshot(p.snapshot),
    p.snapshotResetsLog,
  ]);
}

/** Thrown for a record that passed its checksum but does not decode: the disk holds something we never wrote. */
export class WalFormatError extends Error {
  override name = 'WalFormatError';
}

function bytesOrNull(v: unknown, what: string): Uint8Array | null {
  if (v === null) return null;
  if (!(v instanceof Uint8Array)) throw new WalFormatError(`${what}: expected bytes or nil`);
  return v;
}

/** Decodes one record into the persist it stands for (a base record resets everything). */
export function decodeRecord(bytes: Uint8Array): { base: PersistedState } | { persist: Persist } {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (err) {
    throw new WalFormatError(`not msgpack (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
  if (!Array.isArray(raw)) throw new WalFormatError('record is not a list');
  try {
    if (raw[0] === BASE && raw.length === 2) {
      const b = bytesOrNull(raw[1], 'base');
      if (b === null) throw new WalFormatError('base record without state');
      return { base: decodePersistedState(b) };
    }
    if (raw[0] === PERSIST && raw.length === 5) {
      const h = bytesOrNull(raw[1], 'hardState');
      const e = bytesOrNull(raw[2], 'entries');
      const s = bytesOrNull(raw[3], 'snapshot');
      if (typeof raw[4] !== 'boolean') throw new WalFormatError('snapshotResetsLog is not a boolean');
      return {
        persist: {
          hardState: h === null ? null : decodeHardState(h),
          entries: e === null ? [] : decodeEntries(e),
          snapshot: s === null ? null : decodeSnapshot(s),
          snapshotResetsLog: raw[4],
        },
      };
    }
  } catch (err) {
    if (err instanceof WalFormatError) throw err;
    throw new WalFormatError(err instanceof Error ? err.message : String(err));
  }
  throw new WalFormatError(`unknown record tag ${JSON.stringify(raw[0])}`);
}

/** Folds the records of a WAL into what Raft must restart from; throws WalFormatError on any bad record. */
export function foldRecords(records: readonly Uint8Array[]): PersistedMirror {
  let mirror = new PersistedMirror();
  records.forEach((bytes, i) => {
    let record: ReturnType<typeof decodeRecord>;
    try {
      record = decodeRecord(bytes);
    } catch (err) {
      throw new WalFormatError(`record #${i}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if ('base' in record) mirror = PersistedMirror.from(record.base);
    else {
      try {
        mirror.apply(record.persist);
      } catch (err) {
        throw new WalFormatError(`record #${i}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  });
  return mirror;
}
