import type { NodeId, PersistedState, RaftInput, RaftOptions, RaftState, Ready, ResolvedRaftOptions } from './types.ts';

export const defaultRaftOptions: Omit<ResolvedRaftOptions, 'id'> = {
  seed: 0,
  electionTimeoutMs: 1000,
  heartbeatIntervalMs: 100,
  maxEntriesPerMessage: 64,
  maxBytesPerMessage: 1 << 20,
  maxInflightMessages: 64,
  maxUncommittedBytes: 64 << 20,
  preVote: true,
  checkQuorum: true,
};

/** A brand-new node. With voters, the log starts with one committed `conf` entry per member (term 1), so every
 * bootstrapped node holds the same history and a node added later learns the membership from the log. With no
 * voters, the node waits to hear from a leader (a joining node). The first Ready persists this bootstrap. */
export function createNode(options: RaftOptions, bootstrap: { voters: NodeId[]; learners?: NodeId[] }): RaftState {
  throw new Error(`not implemented ${options.id} ${bootstrap.voters.length}`);
}

/** A node rebuilt from what its disk kept, and nothing else. */
export function restartNode(options: RaftOptions, persisted: PersistedState): RaftState {
  throw new Error(`not implemented ${options.id} ${persisted.entries.length}`);
}

/** Feeds one input to the node, mutating it in place, and returns what the driver must do. Deterministic. */
export function step(state: RaftState, input: RaftInput): Ready {
  throw new Error(`not implemented ${state.id} ${input.type}`);
}
