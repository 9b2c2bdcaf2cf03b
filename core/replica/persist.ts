// One replica step may step Raft several times (a tick that also proposes an expiry, a compaction after
// applying), and each Raft step may ask for a persist. Drivers get one persist per replica step: these merge
// two consecutive persists into one whose effect on a disk is the same as applying them in order.
import type { Persist } from '../raft/types.ts';

/** Entries of `earlier` then `later`: the later list truncates the stored log from its first index. */
function mergeEntries(earlier: Persist['entries'], later: Persist['entries']): Persist['entries'] {
  if (later.length === 0) return earlier;
  if (earlier.length === 0) return later;
  const from = later[0]!.index;
  return earlier.filter((e) => e.index < from).concat(later);
}

/** A persist equivalent to applying `earlier` and then `later` (see the contract in core/raft/types.ts). */
export function mergePersist(earlier: Persist | null, later: Persist | null): Persist | null {
  if (earlier === null) return later;
  if (later === null) return earlier;
  const hardState = later.hardState ?? earlier.hardState;
  if (later.snapshot !== null && later.snapshotResetsLog) {
    // An installed snapshot replaces the whole log: nothing earlier survives but the hard state.
    return { hardState, entries: later.entries, snapshot: later.snapshot, snapshotResetsLog: true };
  }
  if (later.snapshot !== null) {
    // A compaction drops stored entries up to its index, including ones `earlier` appended.
    const snapshotIndex = later.snapshot.index;
    const kept = earlier.entries.filter((e) => e.index > snapshotIndex);
    return {
      hardState,
      entries: mergeEntries(kept, later.entries),
      snapshot: later.snapshot,
      snapshotResetsLog: earlier.snapshotResetsLog,
    };
  }
  return {
    hardState,
    entries: mergeEntries(earlier.entries, later.entries),
    snapshot: earlier.snapshot,
    snapshotResetsLog: earlier.snapshotResetsLog,
  };
}

/** The (index, term) to report as `persisted` once `persist` is durable; null when it wrote no log. */
export function persistedPoint(persist: Persist): { index: number; term: number } | null {
  const last = persist.entries[persist.entries.length - 1];
  if (last !== undefined) return { index: last.index, term: last.term };
  if (persist.snapshot !== null) return { index: persist.snapshot.index, term: persist.snapshot.term };
  return null;
}
