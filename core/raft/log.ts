import type { NodeId, RaftState } from './types.ts';

/** Index of the last entry (or of the snapshot when the log after it is empty). */
export function lastLogIndex(state: RaftState): number {
  return state.log.snapshotIndex + state.log.entries.length;
}

/** Term of the entry at `index`, or null when it is compacted away or beyond the log. */
export function logTerm(state: RaftState, index: number): number | null {
  throw new Error(`not implemented ${index}`);
}

export function isVoter(state: RaftState, id: NodeId): boolean {
  return state.membership.voters.includes(id);
}

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}
