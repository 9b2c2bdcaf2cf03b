// The seam between the Raft core and the write-ahead log: a core `Persist` becomes a WAL batch, and what the
// WAL recovered becomes the core's `PersistedState`. Entries and snapshots are stored whole in core/codec's
// encoding (the WAL keeps index and term beside them so it can truncate without decoding).
import { decodeEntry, decodeSnapshot, encodeEntry, encodeSnapshot } from '../../core/codec/index.ts';
import type { Persist, PersistedState } from '../../core/raft/types.ts';
import type { PersistBatch, RecoveredState } from './wal.ts';
import { WalCorruptionError } from './format.ts';

/** The WAL batch that applies `persist` (see the driver contract in core/raft/types.ts). */
export function persistBatchFromRaft(persist: Persist): PersistBatch {
  const batch: PersistBatch = {};
  if (persist.snapshot) {
    const { index, term } = persist.snapshot;
    batch.snapshot = { index, term, data: encodeSnapshot(persist.snapshot) };
    batch.snapshotResetsLog = persist.snapshotResetsLog;
  }
  if (persist.entries.length > 0) batch.entries = persist.entries.map((e) => ({ index: e.index, term: e.term, data: encodeEntry(e) }));
  if (persist.hardState) batch.hardState = { ...persist.hardState };
  return batch;
}

/**
 * What `restartNode` needs, or null for a data dir that never saved a hard state (start with `createNode`).
 * Bytes that pass the WAL's checksums but not the codec's checks are refused like any other corruption.
 */
export function persistedStateFromWal(recovered: RecoveredState, dir: string): PersistedState | null {
  if (recovered.hardState === null) return null;
  const decodeOrRefuse = <T>(what: string, decode: () => T): T => {
    try {
      return decode();
    } catch (err) {
      throw new WalCorruptionError(dir, 0, `${what} does not decode: ${(err as Error).message}`);
    }
  };
  const snapshot = recovered.snapshot ? decodeOrRefuse('the snapshot', () => decodeSnapshot(recovered.snapshot!.data)) : null;
  const entries = recovered.entries.map((stored) => {
    const entry = decodeOrRefuse(`entry ${stored.index}`, () => decodeEntry(stored.data));
    if (entry.index !== stored.index || entry.term !== stored.term) {
      throw new WalCorruptionError(dir, 0, `entry ${stored.index} decodes as ${entry.index}/${entry.term}, stored as ${stored.index}/${stored.term}`);
    }
    return entry;
  });
  return { hardState: { ...recovered.hardState }, snapshot, entries };
}
