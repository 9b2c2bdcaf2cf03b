// The types of one replica: Raft + the etcd v2 store + the life of every client request, as plain data.
// Drivers (the simulator, the real server, test drivers) pass `ReplicaInput`s to `stepReplica` and carry out
// the `ReplicaReady` it returns. docs/REPLICA.md is the long form of this contract.
import type { KeysRequest, StoreEvent, EtcdError, KvStore, StoreStats, KvCommand } from '../kv/types.ts';
import type {
  Message,
  NodeId,
  Persist,
  RaftOptions,
  RaftState,
  RejectReason,
  Role,
  SoftState,
} from '../raft/types.ts';

export type { NodeId } from '../raft/types.ts';

/** What etcd's /v2/members shows of a member; kept in replicated state. */
export interface MemberInfo {
  id: NodeId;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export interface ReplicaOptions {
  id: NodeId;
  /** Options handed to the Raft core (its `id` is this replica's id). */
  raft?: Omit<RaftOptions, 'id'>;
  /** A client request not answered within this many ms of the local clock gets a timeout error. Default 5000. */
  requestTimeoutMs?: number;
  /** The leader proposes an expiry command at most this often (local clock), when a key is due. Default 500. */
  expiryIntervalMs?: number;
  /** Compact the log into a snapshot every this many applied entries. Default 10000. */
  snapshotEvery?: number;
  /** A follower re-sends a forwarded write to the leader this often until it is applied. Default 1000. */
  forwardRetryMs?: number;
  /** At most this many client requests (writes, reads, watches) pending on this member. Default 10000. */
  maxPendingRequests?: number;
  /** At most this many applied request ids remembered per origin member above its floor. Default 4096. */
  maxSessionIds?: number;
  /** Attributes of the bootstrap members (every member must be given the same), for /v2/members. */
  members?: MemberInfo[];
}

export interface ResolvedReplicaOptions {
  id: NodeId;
  raft: Omit<RaftOptions, 'id'>;
  requestTimeoutMs: number;
  expiryIntervalMs: number;
  snapshotEvery: number;
  forwardRetryMs: number;
  maxPendingRequests: number;
  maxSessionIds: number;
  members: MemberInfo[];
}

// ------------------------------------------------------------------------------------ replicated log data

/** A client write (or a member change) as it travels: origin member, its request id, and the origin's floor
 * (its smallest request id still pending when this was sent: ids below it will never need applying). */
export interface ForwardedCommand {
  origin: NodeId;
  requestId: number;
  floor: number;
  op: { kind: 'kv'; request: KeysRequest } | { kind: 'member-add'; member: MemberInfo } | { kind: 'member-remove'; memberId: NodeId };
}

/** The payload of a `normal` Raft entry (msgpack). */
export type ReplicaCommand =
  /** A forwarded command, stamped with the proposing leader's clock. */
  | { t: 'client'; timeMs: number; command: ForwardedCommand }
  /** etcd's SYNC: expire what is due at the leader's clock reading `timeMs`. */
  | { t: 'expire'; timeMs: number };

/** Exactly-once bookkeeping of one origin member (replicated, part of snapshots). */
export interface Session {
  /** Every request id below this is treated as already applied (or never to be applied). */
  floor: number;
  /** Applied request ids at or above `floor`, ascending; at most `maxSessionIds`. */
  applied: number[];
}

/** A member change waiting for its Raft configuration change to be proposed and applied. */
export interface QueuedConfChange {
  origin: NodeId;
  requestId: number;
  type: 'add-voter' | 'remove';
  node: NodeId;
}

/** The state every replica agrees on at equal applied index; what a snapshot holds. */
export interface ReplicatedState {
  store: KvStore;
  sessions: Record<NodeId, Session>;
  members: Record<NodeId, MemberInfo>;
  /** Member changes applied as requests whose configuration change has not applied yet, oldest first. */
  confQueue: QueuedConfChange[];
}

// --------------------------------------------------------------------------------------- local bookkeeping

/** A write or member change this member accepted from a client. */
export interface PendingWrite {
  requestId: number;
  op: ForwardedCommand['op'];
  /** `waiting`: never handed to any leader (a timeout is a definite failure). `sent`: forwarded or proposed at
   * least once (it may take effect: a timeout is indeterminate). `conf`: applied as a member request, its
   * configuration change is under way. */
  phase: 'waiting' | 'sent' | 'conf';
  /** Local clock when it times out; null until the first tick gives a clock reading. */
  deadlineMs: number | null;
  /** Local clock of the last send to a leader, and that leader. */
  lastSentMs: number;
  sentTo: NodeId | null;
}

export interface PendingRead {
  requestId: number;
  request: KeysRequest;
  /** The ReadIndex answer: serve once applied >= it. Null until Raft gives it. */
  readIndex: number | null;
  deadlineMs: number | null;
}

export interface PendingWatch {
  requestId: number;
  watchId: number;
  key: string;
  stream: boolean;
  startIndex: number;
}

export interface ReplicaState {
  options: ResolvedReplicaOptions;
  id: NodeId;
  raft: RaftState;
  replicated: ReplicatedState;
  /** Last entry applied to `replicated` (and its term). */
  applied: number;
  appliedTerm: number;
  /** Index of the latest snapshot (taken or installed). */
  snapshotIndex: number;
  /** Last local clock reading, or null before the first tick. */
  clockMs: number | null;
  /** Leader only: local clock at which the next expiry check is due. */
  nextExpiryCheckMs: number | null;
  /** The leader last seen, to notice changes (forwarded writes are re-sent to a new leader). */
  knownLeader: NodeId | null;
  /** Leader only: client commands proposed in this term and not applied yet ("origin/id" -> log index), so a
   * repeated forward does not fill the log with duplicates. Cleared when the term or role changes. */
  proposals: Record<string, number>;
  proposalsTerm: number;
  /** Leader only: log index of the expiry entry proposed and not yet applied (0 = none), in `proposalsTerm`. */
  expiryProposedIndex: number;
  /** Highest request id seen: ids must increase on a member (see docs/REPLICA.md). */
  lastRequestId: number;
  /** Keyed by String(requestId). */
  writes: Record<string, PendingWrite>;
  reads: Record<string, PendingRead>;
  watches: Record<string, PendingWatch>;
  /** Store watch id -> request id. */
  watchRequests: Record<string, number>;
  pendingCount: number;
}

// ------------------------------------------------------------------------------------------------- inputs

/** A message between replicas: a Raft message, or the replica's own. */
export type PeerMessage =
  | { type: 'raft'; from: NodeId; to: NodeId; message: Message }
  /** A follower hands a client's write to the leader it believes in. */
  | { type: 'forward'; from: NodeId; to: NodeId; command: ForwardedCommand }
  /** The receiver of a forward could not propose it (not leader, or Raft refused). */
  | { type: 'forward-refused'; from: NodeId; to: NodeId; requestId: number; reason: RejectReason; leaderHint: NodeId | null };

export type StatsKind = 'store' | 'self';

export type ReplicaInput =
  /** The member's local clock reads `now` ms. */
  | { type: 'tick'; now: number }
  | { type: 'message'; message: PeerMessage }
  /** The persist of an earlier Ready is durable up to (index, term) (its last entry or snapshot). */
  | { type: 'persisted'; index: number; term: number }
  /** A client's keys request; `id` is unique and increasing on this member, across restarts. */
  | { type: 'request'; id: number; request: KeysRequest }
  /** Client keys requests that arrived together, handled as if each came as a `request` in this order, except
   * that their writes go to Raft as one proposal and their quorum reads share one ReadIndex round: one append
   * and one heartbeat round per follower for the lot instead of one each. */
  | { type: 'requests'; requests: Array<{ id: number; request: KeysRequest }> }
  /** The client went away: its watch (or pending request) is dropped with no reply. */
  | { type: 'cancel'; id: number }
  | { type: 'member-add'; id: number; member: MemberInfo }
  | { type: 'member-remove'; id: number; memberId: NodeId }
  | { type: 'member-list'; id: number }
  | { type: 'stats'; id: number; kind: StatsKind }
  /** Start an election now (tests, operators). */
  | { type: 'campaign' }
  /** Leader: hand leadership to `to` (a nemesis, a graceful shutdown); ignored elsewhere. */
  | { type: 'transfer-leadership'; to: NodeId };

// ------------------------------------------------------------------------------------------------ outputs

/** How a request ended, as Jepsen records it: `ok` it was executed and `body` is its result (which may be an
 * etcd store error such as 101 Compare failed: the request still ran); `failed` it surely took no effect;
 * `unknown` it may or may not have taken effect. */
export type ReplyOutcome = 'ok' | 'failed' | 'unknown';

export interface SelfStats {
  id: NodeId;
  name: string;
  state: Role;
  leader: NodeId | null;
  term: number;
  commit: number;
  applied: number;
}

export type ReplyBody =
  /** A keys request executed: its store event (the HTTP layer renders it as etcd does). */
  | { type: 'event'; event: StoreEvent }
  /** A watch fired; etcd sends X-Etcd-Index = the store index when the watch was registered. */
  | { type: 'watch'; event: StoreEvent; startIndex: number }
  /** An etcd v2 error (store errors from execution, or 300 Raft Internal Error for lifecycle failures). */
  | { type: 'error'; error: EtcdError }
  | { type: 'members'; members: MemberInfo[] }
  /** A members API failure: etcd answers these with an HTTP status and a plain message. */
  | { type: 'member-error'; status: number; message: string }
  /** Both views, whichever was asked for (`kind` echoes it): the HTTP layer renders the one its path names. */
  | { type: 'stats'; kind: StatsKind; store: StoreStats; self: SelfStats };

export interface ReplicaReply {
  outcome: ReplyOutcome;
  body: ReplyBody;
  /** X-Etcd-Index: the store index the reply speaks for. */
  etcdIndex: number;
  /** X-Raft-Index and X-Raft-Term: this member's Raft commit index and term when replying. */
  raftIndex: number;
  raftTerm: number;
  /** False for a stream watch's events while it stays open; true on every other reply (the last for its id). */
  final: boolean;
}

export type AppliedKind = 'client' | 'duplicate' | 'expire' | 'noop' | 'conf';

/** One applied log entry, for observers (the simulator's history and checkers). */
export interface AppliedEntry {
  index: number;
  term: number;
  kind: AppliedKind;
  /** For client commands (also duplicates, which changed nothing): who sent it. */
  origin: NodeId | null;
  requestId: number | null;
  /** The store index after applying. */
  storeIndex: number;
  /** The leader-stamped time of the command (expiry and client commands), else null. */
  timeMs: number | null;
}

export interface ReplicaOutbound {
  message: PeerMessage;
  /** True: send only once this Ready's persist (and every earlier one) is durable. */
  afterPersist: boolean;
}

export interface ReplicaReady {
  /** Raft's persist contract, unchanged (types.ts of core/raft): apply in order, then report `persisted`. */
  persist: Persist | null;
  mustSync: boolean;
  messages: ReplicaOutbound[];
  replies: Array<{ id: number; reply: ReplicaReply }>;
  soft: SoftState;
  applied: AppliedEntry[];
  /** Set when this step installed a snapshot from the leader (the store was replaced at that index). */
  installedSnapshot: number | null;
}

/** What checkers look at, cheaply. */
export interface ReplicaObservation {
  role: Role;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  lastTerm: number;
  /** Digest of the replicated store (tree, store index): equal at equal applied index on every member. */
  digest: string;
}

export type { KvCommand };
