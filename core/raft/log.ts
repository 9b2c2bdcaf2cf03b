// Read-only questions about a node's log. The log is `snapshotIndex` (compacted prefix) followed by `entries`.
import type { Entry, NodeId, RaftState } from './types.ts';

/** Index of the last entry (or of the snapshot when the log after it is empty). */
export function lastLogIndex(state: RaftState): number {
  return state.log.snapshotIndex + state.log.entries.length;
}

export function lastLogTerm(state: RaftState): number {
  const entries = state.log.entries;
  return entries.length === 0 ? state.log.snapshotTerm : entries[entries.length - 1]!.term;
}

/** Term of the entry at `index`, or null when it is compacted away or beyond the log. */
export function logTerm(state: RaftState, index: number): number | null {
  const log = state.log;
  if (index === log.snapshotIndex) return log.snapshotTerm;
  if (index < log.snapshotIndex) return null;
  const entry = log.entries[index - log.snapshotIndex - 1];
  return entry === undefined ? null : entry.term;
}

export function entryAt(state: RaftState, index: number): Entry | undefined {
  return index <= state.log.snapshotIndex ? undefined : state.log.entries[index - state.log.snapshotIndex - 1];
}

/** Entries with index in [from, to] (both inside the log); a slice, the entries themselves are shared. */
export function logSlice(state: RaftState, from: number, to: number): Entry[] {
  const base = state.log.snapshotIndex + 1;
  return state.log.entries.slice(from - base, to - base + 1);
}

/** Raft's "at least as up-to-date" comparison (§5.4.1): later last term wins, then the longer log. */
export function isLogUpToDate(state: RaftState, lastIndex: number, lastTerm: number): boolean {
  const myTerm = lastLogTerm(state);
  return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= lastLogIndex(state));
}

/** The largest index <= `atMost` whose term is <= `term`, searching no lower than the snapshot index. Terms are
 * non-decreasing along a log, so a binary search finds it. Used by both sides of fast backtracking. */
export function lastIndexWithTermAtMost(state: RaftState, atMost: number, term: number): number {
  let low = state.log.snapshotIndex;
  let high = Math.min(atMost, lastLogIndex(state));
  if (high <= low) return high;
  if ((logTerm(state, high) ?? 0) <= term) return high;
  // Invariant: term(low) <= term (or low is the snapshot floor), term(high) > term.
  while (high - low > 1) {
    const mid = low + ((high - low) >>> 1);
    if ((logTerm(state, mid) ?? 0) <= term) low = mid;
    else high = mid;
  }
  return low;
}

export function isVoter(state: RaftState, id: NodeId): boolean {
  return state.membership.voters.includes(id);
}

export function isLearner(state: RaftState, id: NodeId): boolean {
  return state.membership.learners.includes(id);
}

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}
