// CONTRACT-READY
// The types of the Raft core: everything a driver (the simulator, the network adapter, a test harness) passes
// to `step` and gets back. All of it is plain data (objects, arrays, numbers, strings, booleans, null,
// Uint8Array) so msgpack can encode a whole node and a trace can checkpoint and fork it.
//
// The persistence contract, in short (docs/RAFT.md has the long form):
// 1. Every `Ready` may carry `persist`. The driver applies persists to its disk in the order the Readys were
//    produced. Applying one means: if `snapshot` is set, store it and drop stored entries with index <= its
//    index (all stored entries when `snapshotResetsLog`); if `entries` is non-empty, drop stored entries with
//    index >= entries[0].index, then append `entries`; if `hardState` is set, store it.
// 2. A message with `afterPersist: true` may leave only once this Ready's persist and every earlier Ready's
//    persist are durable (synced). Messages with `afterPersist: false` may leave at once.
// 3. Once a Ready's persist is durable, the driver steps `{ type: 'persisted', index, term }` with the index and
//    term of the last log entry (or snapshot) that Ready's persist made durable. The node hands entries to the
//    application (`committed`) only up to what is durable locally, and a leader counts its own log for
//    commitment only up to what is durable.
// 4. After a crash, `restartNode` rebuilds the node from what the disk kept (`PersistedState`) and nothing else.

export type NodeId = string;

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** `noop` is the empty entry a new leader appends; `conf` carries a single-server membership change. */
export type EntryKind = 'normal' | 'noop' | 'conf';

export type ConfChangeType = 'add-voter' | 'add-learner' | 'promote' | 'remove';

export interface ConfChange {
  type: ConfChangeType;
  node: NodeId;
}

export interface Entry {
  index: number;
  term: number;
  kind: EntryKind;
  /** Application payload for `normal`; empty for `noop` and `conf`. Never mutated once in the log. */
  data: Uint8Array;
  /** Set exactly when kind is `conf`. */
  conf: ConfChange | null;
}

/** A configuration: voters decide elections and commitment; learners only receive the log. Sorted, disjoint. */
export interface Membership {
  voters: NodeId[];
  learners: NodeId[];
}

export interface HardState {
  term: number;
  vote: NodeId | null;
  commit: number;
}

export interface Snapshot {
  /** Last log index the snapshot covers, and that entry's term. */
  index: number;
  term: number;
  /** The membership in force at `index`. */
  membership: Membership;
  /** Application state machine image at `index` (opaque to the core). */
  data: Uint8Array;
}

/** What a disk holds: the latest snapshot, the entries after it, the hard state. */
export interface PersistedState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Contiguous, starting at snapshot.index + 1 (or 1 without a snapshot); earlier entries are ignored. */
  entries: Entry[];
}

export interface RaftOptions {
  id: NodeId;
  /** Seeds the node's election-timeout PRNG (mixed with the id so equal seeds still differ per node). */
  seed?: number;
  /** Base election timeout T in local-clock ms; each timeout is drawn from [T, 2T). Default 1000. */
  electionTimeoutMs?: number;
  /** Leader heartbeat period in local-clock ms. Default 100. */
  heartbeatIntervalMs?: number;
  /** At most this many entries in one append message. Default 64. */
  maxEntriesPerMessage?: number;
  /** At most this many payload bytes in one append message (a single larger entry still goes alone). Default 1 MiB. */
  maxBytesPerMessage?: number;
  /** The largest payload a proposal may carry. Default: maxBytesPerMessage. */
  maxEntryBytes?: number;
  /** At most this many unacknowledged append messages per follower in the replicate state. Default 64. */
  maxInflightMessages?: number;
  /** A leader refuses proposals that would take its uncommitted payload bytes above this. Default 64 MiB. */
  maxUncommittedBytes?: number;
  /** A leader refuses linearizable reads beyond this many awaiting confirmation. Default 4096. */
  maxPendingReads?: number;
  /** Run a pre-vote round before a real election (no term bump unless a quorum would vote). Default true. */
  preVote?: boolean;
  /** Leaders step down without a quorum heard within an election timeout; followers with a live leader ignore
   * vote requests (leader stickiness). Default true. */
  checkQuorum?: boolean;
}

export type ResolvedRaftOptions = Required<RaftOptions>;

// ---------------------------------------------------------------------------------------------- messages

interface MessageBase {
  from: NodeId;
  to: NodeId;
  term: number;
}

/** RequestVote. With `preVote`, `term` is the term the sender would campaign in (its term + 1). */
export interface VoteRequest extends MessageBase {
  type: 'vote';
  preVote: boolean;
  /** Sent on a leader's TimeoutNow: receivers ignore their leader lease. */
  transfer: boolean;
  lastIndex: number;
  lastTerm: number;
}

export interface VoteResponse extends MessageBase {
  type: 'vote-response';
  preVote: boolean;
  granted: boolean;
}

/** AppendEntries. Entries are a slice of the leader's log (shared, never mutated). */
export interface AppendRequest extends MessageBase {
  type: 'append';
  prevIndex: number;
  prevTerm: number;
  entries: Entry[];
  commit: number;
}

/** On success `index` is the last index now known to match the leader. On rejection `index` is the rejected
 * append's prevIndex and (hintIndex, hintTerm) is the follower's best guess of the last index that may match:
 * its last entry at or before prevIndex whose term is <= prevTerm (fast backtracking). */
export interface AppendResponse extends MessageBase {
  type: 'append-response';
  reject: boolean;
  index: number;
  hintIndex: number;
  hintTerm: number;
}

/** `commit` is min(leader commit, follower match) so a follower may commit it without checking its log.
 * `context` is the latest ReadIndex round the leader is confirming, echoed back in the response. */
export interface HeartbeatRequest extends MessageBase {
  type: 'heartbeat';
  commit: number;
  context: string | null;
}

export interface HeartbeatResponse extends MessageBase {
  type: 'heartbeat-response';
  context: string | null;
}

/** InstallSnapshot (whole snapshot in one message). Acknowledged with an append-response. */
export interface SnapshotRequest extends MessageBase {
  type: 'snapshot';
  snapshot: Snapshot;
}

/** Leadership transfer: the target campaigns at once, skipping pre-vote. */
export interface TimeoutNowRequest extends MessageBase {
  type: 'timeout-now';
}

/** A follower forwards a linearizable read to its leader. */
export interface ReadIndexRequest extends MessageBase {
  type: 'read-index';
  context: string;
}

/** The leader's answer: the read may be served once the follower has applied `index`; or a refusal. */
export interface ReadIndexResponse extends MessageBase {
  type: 'read-index-response';
  context: string;
  index: number;
  reject: RejectReason | null;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotRequest
  | TimeoutNowRequest
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message['type'];

// ------------------------------------------------------------------------------------------------ inputs

export type RaftInput =
  /** The node's local clock reads `now` ms. Elapsed time is the forward difference from the previous tick;
   * a backwards jump counts as zero and the clock restarts from the new reading. */
  | { type: 'tick'; now: number }
  | { type: 'message'; message: Message }
  /** A batch of application payloads, appended together (leader only). */
  | { type: 'propose'; payloads: Uint8Array[] }
  | { type: 'propose-conf'; change: ConfChange }
  /** A linearizable read; `context` identifies it in `readStates` / `rejected`. */
  | { type: 'read-index'; context: string }
  | { type: 'transfer-leadership'; to: NodeId }
  /** Start an election now (as if the election timeout fired), through pre-vote when enabled. */
  | { type: 'campaign' }
  /** The log up to (index, term) and the hard state written with it are durable. Stale reports are ignored. */
  | { type: 'persisted'; index: number; term: number }
  /** The application has applied every committed entry up to `index`. */
  | { type: 'applied'; index: number }
  /** The application's state at applied index `index` is `data`: make a snapshot, drop the log up to it. */
  | { type: 'compact'; index: number; data: Uint8Array };

export type RaftInputType = RaftInput['type'];

// ----------------------------------------------------------------------------------------------- outputs

export interface OutboundMessage {
  message: Message;
  /** True: send only once this Ready's persist (and all earlier ones) are durable. */
  afterPersist: boolean;
}

export interface Persist {
  /** Set when term, vote or commit changed. */
  hardState: HardState | null;
  /** Entries to append; the first one's index is where the stored log is truncated to. */
  entries: Entry[];
  /** A snapshot to store (from compaction, or received from the leader). */
  snapshot: Snapshot | null;
  /** The stored log must be dropped entirely (an installed snapshot replaces it). */
  snapshotResetsLog: boolean;
}

export type RejectReason =
  | 'not-leader'
  | 'uncommitted-limit'
  | 'entry-too-large'
  | 'empty-proposal'
  | 'conf-change-pending'
  | 'leader-not-ready'
  | 'invalid-conf-change'
  | 'transfer-in-progress'
  | 'invalid-transfer-target'
  | 'invalid-compaction'
  | 'read-limit';

export type RejectedInput = 'propose' | 'propose-conf' | 'read-index' | 'transfer-leadership' | 'compact';

export interface Rejection {
  input: RejectedInput;
  reason: RejectReason;
  /** The leader this node believes in, for `not-leader`. */
  leaderHint: NodeId | null;
  /** The read's context for `read-index`, else null. */
  context: string | null;
  /** One line for humans. */
  detail: string;
}

/** A linearizable read may be served once the application has applied `index`. */
export interface ReadState {
  context: string;
  index: number;
}

export interface SoftState {
  role: Role;
  leader: NodeId | null;
  term: number;
}

/** Where an accepted proposal (or conf change) landed in the log. */
export interface ProposalPlacement {
  firstIndex: number;
  lastIndex: number;
  term: number;
}

/** The outputs of one step. Treat every array in it as read-only: empty ones are shared (and frozen). */
export interface Ready {
  persist: Persist | null;
  /** The persist must be fsynced before it counts as durable (new entries, or a term/vote change). */
  mustSync: boolean;
  messages: OutboundMessage[];
  /** Entries to apply, in order, contiguous with the previous Ready's; all committed and durable locally. */
  committed: Entry[];
  /** The application must reset its state machine to this snapshot before applying `committed`. */
  applySnapshot: Snapshot | null;
  readStates: ReadState[];
  rejected: Rejection[];
  /** Set when this step's `propose` / `propose-conf` was appended. */
  proposed: ProposalPlacement | null;
  soft: SoftState;
}

// ------------------------------------------------------------------------------------------ node state

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one peer (etcd's Progress, our own way). */
export interface Progress {
  match: number;
  next: number;
  state: ProgressState;
  /** Probe: one append is out and unanswered, so send no more until a response or heartbeat response. */
  probeSent: boolean;
  /** Replicate: last index of each unacknowledged append message, oldest first. */
  inflight: number[];
  /** Snapshot: the index of the snapshot sent. */
  pendingSnapshot: number;
  /** Heartbeat rounds since the snapshot was sent; a lost snapshot is resent after an election timeout. */
  snapshotWaitRounds: number;
  /** Heard from in the current check-quorum window. */
  recentActive: boolean;
}

export interface PendingRead {
  context: string;
  /** Who asked: this node's id for local reads, else a follower that forwarded it. */
  from: NodeId;
  /** The commit index when the read arrived: the read is served at it. */
  index: number;
  /** Voters (including the leader) that confirmed leadership for this round. */
  acks: NodeId[];
}

export interface RaftLog {
  /** entries[i].index === snapshotIndex + 1 + i. */
  entries: Entry[];
  snapshotIndex: number;
  snapshotTerm: number;
}

export interface RaftState {
  options: ResolvedRaftOptions;
  id: NodeId;
  term: number;
  vote: NodeId | null;
  commit: number;
  role: Role;
  leader: NodeId | null;
  log: RaftLog;
  /** The latest snapshot (to send to followers behind the log start), or null. */
  snapshot: Snapshot | null;
  /** The log is durable locally up to here. */
  durableIndex: number;
  /** Committed entries handed to the application up to here (via `committed` or `applySnapshot`). */
  emittedIndex: number;
  /** What the application reported applied. */
  appliedIndex: number;
  /** The membership in force: that of the latest conf entry in the log, committed or not. */
  membership: Membership;
  /** Index of the entry (or snapshot) that set `membership`. */
  membershipIndex: number;
  /** Election votes received in the current (pre-)campaign: voter id -> granted. */
  votes: Record<NodeId, boolean>;
  /** Leader only: one entry per peer (voters and learners except self). */
  progress: Record<NodeId, Progress>;
  /** Voters and learners except self, sorted: the deterministic order of every broadcast. */
  peers: NodeId[];
  /** Last local clock reading, or null before the first tick. */
  clockMs: number | null;
  electionElapsedMs: number;
  heartbeatElapsedMs: number;
  randomizedElectionTimeoutMs: number;
  /** PRNG state (uint32) for election-timeout jitter. */
  rng: number;
  /** Leader only: the transfer target; the transfer is abandoned when the next election timeout elapses. */
  leadTransferee: NodeId | null;
  /** Leader only: index of the no-op that began this term (commit >= it means the leader has committed). */
  leaderStartIndex: number;
  /** Leader only: ReadIndex rounds awaiting a quorum of heartbeat acks, oldest first. */
  pendingReads: PendingRead[];
  /** Leader only: reads that arrived before the leader committed in its term. */
  readsAwaitingCommit: Array<{ context: string; from: NodeId }>;
  /** Leader only: payload bytes appended in this term and not yet committed. */
  uncommittedBytes: number;
  /** Bookkeeping for the next Ready: lowest log index changed since the last Ready (0 = none). */
  unstableFrom: number;
  /** Bookkeeping for the next Ready: the hard state changed since the last Ready (`mustSync` when term/vote). */
  hardStateChanged: boolean;
  termOrVoteChanged: boolean;
  /** Bookkeeping for the next Ready: a snapshot to store, and whether it replaces the log. */
  unstableSnapshot: Snapshot | null;
  unstableSnapshotResetsLog: boolean;
}

/** Thrown when the node reaches a state Raft says is impossible (a bug in the core or a misbehaving driver). */
export class RaftInvariantError extends Error {
  override name = 'RaftInvariantError';
}
