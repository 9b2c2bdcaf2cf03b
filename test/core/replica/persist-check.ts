// The check behind the merge test: every run of consecutive persists (appends, overwrites, a compaction, an
// installed snapshot), merged into one, must leave a disk as applying them one by one does.
import type { Entry, Persist, PersistedState } from '../../../core/raft/index.ts';
import { applyPersist } from '../raft/cluster.ts';

const entry = (index: number, term: number): Entry => ({ index, term, kind: 'noop', data: new Uint8Array(0), conf: null });
const membership = { voters: ['a'], learners: [] };

const PERSISTS: Persist[] = [
  { hardState: { term: 2, vote: 'a', commit: 1 }, entries: [entry(1, 1), entry(2, 2), entry(3, 2)], snapshot: null, snapshotResetsLog: false },
  { hardState: null, entries: [entry(3, 3), entry(4, 3)], snapshot: null, snapshotResetsLog: false },
  { hardState: { term: 3, vote: null, commit: 3 }, entries: [], snapshot: { index: 2, term: 2, membership, data: new Uint8Array([1]) }, snapshotResetsLog: false },
  { hardState: null, entries: [entry(5, 3)], snapshot: null, snapshotResetsLog: false },
  { hardState: { term: 4, vote: null, commit: 9 }, entries: [], snapshot: { index: 9, term: 4, membership, data: new Uint8Array([2]) }, snapshotResetsLog: true },
  { hardState: null, entries: [entry(10, 4)], snapshot: null, snapshotResetsLog: false },
];

function blank(): PersistedState {
  return { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
}

/** What a restart reads: entries at or below the snapshot are ignored. */
function visible(disk: PersistedState): string {
  const base = disk.snapshot?.index ?? 0;
  return JSON.stringify({ ...disk, entries: disk.entries.filter((e) => e.index > base) }, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v));
}

/** The first run of persists whose merge differs from applying them in order, or null. */
export function mergeProblem(merge: (a: Persist | null, b: Persist | null) => Persist | null): string | null {
  for (let from = 0; from < PERSISTS.length; from++) {
    for (let to = from + 1; to <= PERSISTS.length; to++) {
      const oneByOne = blank();
      const merged = blank();
      for (let i = 0; i < from; i++) {
        applyPersist(oneByOne, PERSISTS[i]!);
        applyPersist(merged, PERSISTS[i]!);
      }
      let combined: Persist | null = null;
      for (let i = from; i < to; i++) {
        applyPersist(oneByOne, PERSISTS[i]!);
        combined = merge(combined, PERSISTS[i]!);
      }
      applyPersist(merged, combined!);
      if (visible(merged) !== visible(oneByOne)) return `persists ${from}..${to - 1}: merged ${visible(merged)}, one by one ${visible(oneByOne)}`;
    }
  }
  return null;
}
