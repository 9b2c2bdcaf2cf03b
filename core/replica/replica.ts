// One replica as a pure state machine: the Raft core, the etcd v2 store it drives, and the whole life of every
// client request (forwarding, proposing, exactly-once application, replies, timeouts, reads, watches, TTL
// expiry, snapshots, membership). Drivers only move bytes and time; every decision about a request is here,
// so the simulator and the real server cannot disagree.
import { decode, encode } from '../codec/msgpack.ts';
import { applyCommand, applyRequest, isWatchRequest, isWriteRequest } from '../kv/apply.ts';
import { ErrorCode, etcdError } from '../kv/errors.ts';
import { decodeStore, encodeStore, hasTtlKeys, newStore, nextExpiryMs, storeStats, unwatch, watch } from '../kv/store.ts';
import type { EtcdError, KeysRequest, KvStore, StoreResult, WatchDelivery, WatchRecord } from '../kv/types.ts';
import { lastLogIndex, logTerm } from '../raft/log.ts';
import { createNode, nextTickDeadline, restartNode, step as raftStep } from '../raft/node.ts';
import type { Entry, NodeId, PersistedState, RaftInput, Ready, ReadState, Rejection, RejectReason, Snapshot } from '../raft/types.ts';
import { mergePersist } from './persist.ts';
import type {
  AppliedEntry,
  ForwardedCommand,
  MemberInfo,
  PeerMessage,
  PendingRead,
  PendingWrite,
  ReplicaCommand,
  ReplicaInput,
  ReplicaObservation,
  ReplicaOptions,
  ReplicaReady,
  ReplicaReply,
  ReplicaState,
  ReplicatedState,
  ReplyBody,
  ReplyOutcome,
  ResolvedReplicaOptions,
  Session,
  StatsKind,
} from './types.ts';

export class ReplicaInvariantError extends Error {
  override name = 'ReplicaInvariantError';
}

// etcd's server errors, which its v2 HTTP layer reports as 300 "Raft Internal Error" with the text as cause.
export const CAUSE_TIMEOUT = 'etcdserver: request timed out';
export const CAUSE_NO_LEADER = 'etcdserver: no leader';
export const CAUSE_LEADER_CHANGED = 'etcdserver: leader changed';
export const CAUSE_TOO_MANY_REQUESTS = 'etcdserver: too many requests';
export const CAUSE_TOO_LARGE = 'etcdserver: request is too large';
/** Our own: the write was applied while this member caught up from a snapshot, so its result is lost. */
export const CAUSE_RESULT_LOST = 'raftsim: applied through a snapshot, result unavailable';

export const defaultReplicaOptions = {
  requestTimeoutMs: 5000,
  expiryIntervalMs: 500,
  snapshotEvery: 10_000,
  forwardRetryMs: 1000,
  maxPendingRequests: 10_000,
  maxSessionIds: 4096,
} as const;

function resolveOptions(options: ReplicaOptions): ResolvedReplicaOptions {
  if (typeof options.id !== 'string' || options.id.length === 0) throw new RangeError('replica options: id must be a non-empty string');
  const resolved: ResolvedReplicaOptions = {
    id: options.id,
    raft: options.raft ?? {},
    requestTimeoutMs: options.requestTimeoutMs ?? defaultReplicaOptions.requestTimeoutMs,
    expiryIntervalMs: options.expiryIntervalMs ?? defaultReplicaOptions.expiryIntervalMs,
    snapshotEvery: options.snapshotEvery ?? defaultReplicaOptions.snapshotEvery,
    forwardRetryMs: options.forwardRetryMs ?? defaultReplicaOptions.forwardRetryMs,
    maxPendingRequests: options.maxPendingRequests ?? defaultReplicaOptions.maxPendingRequests,
    maxSessionIds: options.maxSessionIds ?? defaultReplicaOptions.maxSessionIds,
    members: options.members ?? [],
  };
  for (const key of ['requestTimeoutMs', 'expiryIntervalMs', 'snapshotEvery', 'forwardRetryMs', 'maxPendingRequests', 'maxSessionIds'] as const) {
    const value = resolved[key];
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`replica options: ${key} must be a positive integer, got ${String(value)}`);
  }
  return resolved;
}

function freshReplicated(): ReplicatedState {
  return { store: newStore(), sessions: {}, members: {}, confQueue: [] };
}

function blankReplica(options: ResolvedReplicaOptions, raft: ReplicaState['raft'], replicated: ReplicatedState, applied: number, appliedTerm: number): ReplicaState {
  return {
    options,
    id: options.id,
    raft,
    replicated,
    applied,
    appliedTerm,
    snapshotIndex: applied,
    clockMs: null,
    nextExpiryCheckMs: null,
    knownLeader: null,
    proposals: {},
    proposalsTerm: 0,
    expiryProposedIndex: 0,
    lastRequestId: -1,
    writes: {},
    reads: {},
    watches: {},
    watchRequests: {},
    pendingCount: 0,
  };
}

/** A brand-new member. With voters, every bootstrapped member starts from the same log (Raft's bootstrap
 * configuration entries), which consume Raft indexes but no store index. A member to be added later starts with
 * `{ voters: [] }` and learns everything from the leader. */
export function createReplica(options: ReplicaOptions, bootstrap: { voters: NodeId[] }): ReplicaState {
  const resolved = resolveOptions(options);
  const raft = createNode({ ...resolved.raft, id: resolved.id }, { voters: bootstrap.voters });
  return blankReplica(resolved, raft, freshReplicated(), 0, 0);
}

/** A member rebuilt from what its disk kept: the store comes from the snapshot, later committed entries are
 * applied again as Raft hands them over (the first steps). Pending client requests were lost in the crash. */
export function restartReplica(options: ReplicaOptions, persisted: PersistedState): ReplicaState {
  const resolved = resolveOptions(options);
  const raft = restartNode({ ...resolved.raft, id: resolved.id }, persisted);
  const snapshot = persisted.snapshot;
  const replicated = snapshot === null ? freshReplicated() : decodeReplicated(snapshot.data);
  const state = blankReplica(resolved, raft, replicated, snapshot?.index ?? 0, snapshot?.term ?? 0);
  // Ids this member used before the crash must not come back: a reused id would be taken for a duplicate and
  // silently skipped, so refuse it loudly instead (the log replay raises this further).
  const session = replicated.sessions[resolved.id];
  if (session !== undefined) state.lastRequestId = Math.max(session.floor - 1, session.applied[session.applied.length - 1] ?? -1);
  return state;
}

// --------------------------------------------------------------------------------------- snapshot encoding

/** The replicated state as snapshot bytes. Watches are this member's clients, not replicated state: they are
 * left out, so every member's snapshot at an index is the same bytes. */
export function encodeReplicated(replicated: ReplicatedState): Uint8Array {
  const store = replicated.store;
  const watchers = store.watchers;
  const watcherCount = store.watcherCount;
  const nextWatchId = store.nextWatchId;
  store.watchers = Object.create(null) as Record<string, WatchRecord[]>;
  store.watcherCount = 0;
  store.nextWatchId = 1;
  try {
    return encode({ store: encodeStore(store), sessions: replicated.sessions, members: replicated.members, confQueue: replicated.confQueue });
  } finally {
    store.watchers = watchers;
    store.watcherCount = watcherCount;
    store.nextWatchId = nextWatchId;
  }
}

export function decodeReplicated(bytes: Uint8Array): ReplicatedState {
  const raw = decode(bytes) as { store: Uint8Array; sessions: ReplicatedState['sessions']; members: ReplicatedState['members']; confQueue: ReplicatedState['confQueue'] };
  if (raw === null || typeof raw !== 'object' || !(raw.store instanceof Uint8Array)) throw new ReplicaInvariantError('replica snapshot: not a replicated state');
  return { store: decodeStore(raw.store), sessions: raw.sessions, members: raw.members, confQueue: raw.confQueue };
}

/** A whole replica as bytes (a trace checkpoint, a fork). Unlike a snapshot it keeps this member's watches and
 * pending requests. The store goes through its own codec, which restores its null-prototype maps. */
export function encodeReplicaState(state: ReplicaState): Uint8Array {
  return encode({ ...state, replicated: { ...state.replicated, store: encodeStore(state.replicated.store) } });
}

export function decodeReplicaState(bytes: Uint8Array): ReplicaState {
  const raw = decode(bytes) as ReplicaState & { replicated: { store: Uint8Array } };
  if (raw === null || typeof raw !== 'object' || !(raw.replicated?.store instanceof Uint8Array)) {
    throw new ReplicaInvariantError('replica state: not an encoded replica');
  }
  return { ...raw, replicated: { ...raw.replicated, store: decodeStore(raw.replicated.store) } };
}

// ------------------------------------------------------------------------------------------- the step

function newReady(state: ReplicaState): ReplicaReady {
  return {
    persist: null,
    mustSync: false,
    messages: [],
    replies: [],
    soft: { role: state.raft.role, leader: state.raft.leader, term: state.raft.term },
    applied: [],
    installedSnapshot: null,
  };
}

/** Feeds one input to the replica, mutating it in place; returns what the driver must do. Deterministic. */
export function stepReplica(state: ReplicaState, input: ReplicaInput): ReplicaReady {
  const out = newReady(state);
  switch (input.type) {
    case 'tick':
      onTick(state, input.now, out);
      break;
    case 'message':
      onPeerMessage(state, input.message, out);
      break;
    case 'persisted':
      stepRaft(state, { type: 'persisted', index: input.index, term: input.term }, out);
      break;
    case 'request':
      onRequest(state, input.id, input.request, out);
      break;
    case 'requests':
      onRequests(state, input.requests, out);
      break;
    case 'cancel':
      onCancel(state, input.id);
      break;
    case 'member-add':
      if (admitRequest(state, input.id, out)) acceptWrite(state, input.id, { kind: 'member-add', member: input.member }, out);
      break;
    case 'member-remove':
      if (admitRequest(state, input.id, out)) acceptWrite(state, input.id, { kind: 'member-remove', memberId: input.memberId }, out);
      break;
    case 'member-list':
      reply(state, out, input.id, 'ok', { type: 'members', members: memberList(state) }, state.replicated.store.index);
      break;
    case 'stats':
      reply(state, out, input.id, 'ok', statsBody(state, input.kind), state.replicated.store.index);
      break;
    case 'campaign':
      stepRaft(state, { type: 'campaign' }, out);
      break;
    case 'transfer-leadership':
      stepRaft(state, { type: 'transfer-leadership', to: input.to }, out);
      break;
    default:
      throw new ReplicaInvariantError(`unknown replica input ${String((input as { type: unknown }).type)}`);
  }
  afterStep(state, out);
  return out;
}

/** Steps Raft and acts on its Ready at once: merge the persist, wrap messages, install snapshots, apply
 * committed entries, note read indexes and refusals. Returns Raft's Ready for the caller's own questions. */
function stepRaft(state: ReplicaState, input: RaftInput, out: ReplicaReady): Ready {
  const ready = raftStep(state.raft, input);
  out.persist = mergePersist(out.persist, ready.persist);
  out.mustSync = out.mustSync || ready.mustSync;
  for (const m of ready.messages) {
    out.messages.push({ message: { type: 'raft', from: m.message.from, to: m.message.to, message: m.message }, afterPersist: m.afterPersist });
  }
  out.soft = ready.soft;
  if (ready.applySnapshot !== null) installSnapshot(state, ready.applySnapshot, out);
  if (ready.committed.length > 0) {
    for (const entry of ready.committed) applyEntry(state, entry, out);
    stepRaft(state, { type: 'applied', index: state.applied }, out);
  }
  for (const rs of ready.readStates) onReadState(state, rs);
  for (const rejection of ready.rejected) onRejection(state, rejection, out);
  return ready;
}

/** What a leader remembers of its own proposals holds only while it leads in the term it proposed them. */
function syncLeaderBookkeeping(state: ReplicaState): void {
  if (state.raft.role === 'leader' && state.proposalsTerm === state.raft.term) return;
  state.proposalsTerm = state.raft.term;
  if (state.expiryProposedIndex === 0 && isEmpty(state.proposals)) return;
  state.proposals = {};
  state.expiryProposedIndex = 0;
}

function isEmpty(record: Record<string, unknown>): boolean {
  for (const _ in record) return false;
  return true;
}

function afterStep(state: ReplicaState, out: ReplicaReady): void {
  syncLeaderBookkeeping(state);
  if (state.raft.leader !== state.knownLeader) {
    state.knownLeader = state.raft.leader;
    // A new leader may never have seen our forwards (or the old one died with them): hand them over again;
    // exactly-once application makes the repeats harmless.
    if (state.knownLeader !== null) {
      const floor = writeFloor(state);
      for (const w of pending(state).writes) {
        if (stillPending(state, 'writes', w) && w.phase !== 'conf' && w.sentTo !== state.knownLeader) dispatchWrite(state, w, out, floor);
      }
    }
  }
  if (state.raft.role === 'leader') driveConfQueue(state, out);
  serveReadyReads(state, out);
  maybeCompact(state, out);
}

// ------------------------------------------------------------------------------------------------ replies

function reply(state: ReplicaState, out: ReplicaReady, id: number, outcome: ReplyOutcome, body: ReplyBody, etcdIndex: number, final = true): void {
  const r: ReplicaReply = { outcome, body, etcdIndex, raftIndex: state.raft.commit, raftTerm: state.raft.term, final };
  out.replies.push({ id, reply: r });
}

function lifecycleError(cause: string): EtcdError {
  return etcdError(ErrorCode.RaftInternal, cause, 0);
}

function replyError(state: ReplicaState, out: ReplicaReady, id: number, outcome: ReplyOutcome, cause: string): void {
  reply(state, out, id, outcome, { type: 'error', error: lifecycleError(cause) }, 0);
}

function replyResult(state: ReplicaState, out: ReplicaReady, id: number, result: StoreResult): void {
  if (result.ok) reply(state, out, id, 'ok', { type: 'event', event: result.event }, result.event.etcdIndex);
  else reply(state, out, id, 'ok', { type: 'error', error: result.error }, result.error.index);
}

function forget(state: ReplicaState, table: 'writes' | 'reads' | 'watches', id: number): void {
  const key = String(id);
  if (state[table][key] === undefined) return;
  delete state[table][key];
  state.pendingCount--;
  tablesChanged(state);
}

// The request tables are objects keyed by request id (plain data, for checkpoints), which V8 keeps in dictionary
// mode once requests come and go: iterating one costs about a microsecond, and the writes and reads are looked
// through after every step. Their values are also kept in arrays, outside the state, dropped whenever a table
// gains or loses a request; the arrays keep the tables' order. Loops check each entry is still in its table,
// since the step they run in may settle requests.
const pendingLists = new WeakMap<ReplicaState, { writes: PendingWrite[]; reads: PendingRead[] }>();

function pending(state: ReplicaState): { writes: PendingWrite[]; reads: PendingRead[] } {
  let lists = pendingLists.get(state);
  if (lists === undefined) {
    lists = { writes: Object.values(state.writes), reads: Object.values(state.reads) };
    pendingLists.set(state, lists);
  }
  return lists;
}

function tablesChanged(state: ReplicaState): void {
  pendingLists.delete(state);
}

function stillPending(state: ReplicaState, table: 'writes' | 'reads', entry: PendingWrite | PendingRead): boolean {
  return state[table][String(entry.requestId)] === entry;
}

// ------------------------------------------------------------------------------------------------ clients

function admitRequest(state: ReplicaState, id: number, out: ReplicaReady): boolean {
  if (!Number.isSafeInteger(id) || id <= state.lastRequestId) {
    replyError(state, out, id, 'failed', `raftsim: request id ${String(id)} is not above the last id ${state.lastRequestId} of this member`);
    return false;
  }
  state.lastRequestId = id;
  if (state.pendingCount >= state.options.maxPendingRequests) {
    replyError(state, out, id, 'failed', CAUSE_TOO_MANY_REQUESTS);
    return false;
  }
  return true;
}

function deadline(state: ReplicaState): number | null {
  return state.clockMs === null ? null : state.clockMs + state.options.requestTimeoutMs;
}

function onRequest(state: ReplicaState, id: number, request: KeysRequest, out: ReplicaReady): void {
  if (!admitRequest(state, id, out)) return;
  const store = state.replicated.store;
  if (isWatchRequest(request)) {
    const result = watch(store, request.path, request.recursive, request.stream, request.waitIndex);
    if (result.kind === 'error') reply(state, out, id, 'ok', { type: 'error', error: result.error }, result.error.index);
    else if (result.kind === 'event') reply(state, out, id, 'ok', { type: 'watch', event: result.event, startIndex: result.startIndex }, result.startIndex);
    else {
      state.watches[String(id)] = { requestId: id, watchId: result.watchId, key: request.path, stream: request.stream, startIndex: result.startIndex };
      state.watchRequests[String(result.watchId)] = id;
      state.pendingCount++;
      tablesChanged(state);
    }
    return;
  }
  if (isWriteRequest(request)) {
    acceptWrite(state, id, { kind: 'kv', request }, out);
    return;
  }
  if (!request.quorum) {
    // etcd v2 serves a plain GET from the local store at once: fast, and possibly stale.
    replyResult(state, out, id, applyRequest(store, request, state.clockMs ?? 0, []));
    return;
  }
  state.reads[String(id)] = { requestId: id, request, readIndex: null, deadlineMs: deadline(state) };
  state.pendingCount++;
  tablesChanged(state);
  if (batch !== null) batch.reads.push(id);
  else stepRaft(state, { type: 'read-index', context: readContext(state, id) }, out);
}

/** What a `requests` batch hands to Raft together when it ends (set only while one is being stepped). */
interface Batch {
  proposals: DeferredProposal[];
  keys: Set<string>;
  /** The floor its writes carry (computed once: a walk over every pending write). */
  floor: number | null;
  /** Ids of its quorum reads, increasing. */
  reads: number[];
}

interface DeferredProposal {
  key: string;
  payload: Uint8Array;
  onRefused: (reason: RejectReason) => void;
}

let batch: Batch | null = null;

function onRequests(state: ReplicaState, requests: Array<{ id: number; request: KeysRequest }>, out: ReplicaReady): void {
  if (batch !== null) throw new ReplicaInvariantError(`${state.id}: a requests batch inside another`);
  const current: Batch = { proposals: [], keys: new Set(), floor: null, reads: [] };
  batch = current;
  try {
    for (const { id, request } of requests) onRequest(state, id, request, out);
  } finally {
    batch = null;
  }
  proposeTogether(state, current.proposals, out);
  if (current.reads.length > 0) stepRaft(state, { type: 'read-index', context: readContext(state, current.reads) }, out);
}

function onCancel(state: ReplicaState, id: number): void {
  const w = state.watches[String(id)];
  if (w !== undefined) {
    unwatch(state.replicated.store, w.watchId, w.key);
    delete state.watchRequests[String(w.watchId)];
  }
  forget(state, 'watches', id);
  forget(state, 'reads', id);
  forget(state, 'writes', id);
}

function acceptWrite(state: ReplicaState, id: number, op: ForwardedCommand['op'], out: ReplicaReady): void {
  const w: PendingWrite = { requestId: id, op, phase: 'waiting', deadlineMs: deadline(state), lastSentMs: state.clockMs ?? 0, sentTo: null };
  state.writes[String(id)] = w;
  state.pendingCount++;
  tablesChanged(state);
  // A batch's later writes have higher ids than every write pending before it: its first floor holds for all.
  dispatchWrite(state, w, out, batch === null ? writeFloor(state) : (batch.floor ??= writeFloor(state)));
}

/** The smallest request id still pending here: every lower id is settled and never needs applying. */
function writeFloor(state: ReplicaState): number {
  let floor = state.lastRequestId + 1;
  for (const w of pending(state).writes) floor = Math.min(floor, w.requestId);
  return floor;
}

/** Hands a pending write to the leader: propose it here when leading, else forward it. Callers dispatching many
 * writes pass the floor computed once (a floor a little low is only less eager to forget, never unsafe). */
function dispatchWrite(state: ReplicaState, w: PendingWrite, out: ReplicaReady, floor = writeFloor(state)): void {
  const leader = state.raft.leader;
  if (leader === null) return;
  const command: ForwardedCommand = { origin: state.id, requestId: w.requestId, floor, op: w.op };
  w.lastSentMs = state.clockMs ?? 0;
  w.sentTo = leader;
  if (leader !== state.id) {
    w.phase = 'sent';
    out.messages.push({ message: { type: 'forward', from: state.id, to: leader, command }, afterPersist: false });
    return;
  }
  // A leader that has not read its clock yet has no time to stamp: the first tick dispatches the write.
  if (state.clockMs === null) return;
  const neverHandedOn = w.phase === 'waiting';
  w.phase = 'sent';
  propose(state, command, out, (refusal) => {
    // Refused here and never handed anywhere before: it surely did not take effect.
    if (!neverHandedOn || state.writes[String(w.requestId)] !== w) return;
    forget(state, 'writes', w.requestId);
    replyError(state, out, w.requestId, 'failed', causeOfRefusal(refusal, state));
  });
}

function causeOfRefusal(reason: RejectReason, state: ReplicaState): string {
  switch (reason) {
    case 'uncommitted-limit':
      return CAUSE_TOO_MANY_REQUESTS;
    case 'entry-too-large':
      return CAUSE_TOO_LARGE;
    case 'not-leader':
      return state.raft.leader === null ? CAUSE_NO_LEADER : CAUSE_LEADER_CHANGED;
    default:
      return CAUSE_LEADER_CHANGED;
  }
}

/** Leader: stamp the command with this member's clock and propose it (at the end of a `requests` batch, with
 * the batch's other writes); `onRefused` hears Raft's refusal, if any. */
function propose(state: ReplicaState, command: ForwardedCommand, out: ReplicaReady, onRefused: (reason: RejectReason) => void): void {
  if (state.clockMs === null) throw new ReplicaInvariantError(`${state.id}: proposing with no clock reading`);
  syncLeaderBookkeeping(state);
  const key = `${command.origin}/${command.requestId}`;
  // Already in this term's log and on its way: the repeat would only be applied as a no-op duplicate.
  if (state.proposals[key] !== undefined) return;
  const payload: ReplicaCommand = { t: 'client', timeMs: state.clockMs, command };
  const proposal = { key, payload: encode(payload), onRefused };
  if (batch === null) return proposeNow(state, proposal, out);
  if (batch.keys.has(key)) return;
  batch.keys.add(key);
  batch.proposals.push(proposal);
}

function proposeNow(state: ReplicaState, proposal: DeferredProposal, out: ReplicaReady): void {
  const ready = stepRaft(state, { type: 'propose', payloads: [proposal.payload] }, out);
  const refusal = ready.rejected.find((r) => r.input === 'propose');
  if (refusal !== undefined) return proposal.onRefused(refusal.reason);
  if (ready.proposed !== null && state.raft.role === 'leader') state.proposals[proposal.key] = ready.proposed.firstIndex;
}

/** A batch's writes as one Raft proposal: consecutive entries, one append per follower. */
function proposeTogether(state: ReplicaState, proposals: DeferredProposal[], out: ReplicaReady): void {
  if (proposals.length === 1) proposeNow(state, proposals[0]!, out);
  if (proposals.length <= 1) return;
  syncLeaderBookkeeping(state);
  const ready = stepRaft(state, { type: 'propose', payloads: proposals.map((p) => p.payload) }, out);
  if (ready.rejected.some((r) => r.input === 'propose')) {
    // Raft refuses a proposal whole (too many uncommitted bytes, say): one at a time, each gets its own verdict.
    for (const p of proposals) proposeNow(state, p, out);
    return;
  }
  const placed = ready.proposed;
  if (placed === null || state.raft.role !== 'leader') return;
  if (placed.lastIndex - placed.firstIndex + 1 !== proposals.length) {
    throw new ReplicaInvariantError(`${state.id}: ${proposals.length} payloads proposed, Raft placed ${placed.firstIndex}..${placed.lastIndex}`);
  }
  proposals.forEach((p, i) => (state.proposals[p.key] = placed.firstIndex + i));
}

function onPeerMessage(state: ReplicaState, message: PeerMessage, out: ReplicaReady): void {
  if (message.to !== state.id) throw new ReplicaInvariantError(`${state.id}: got a message addressed to ${message.to}`);
  switch (message.type) {
    case 'raft':
      stepRaft(state, { type: 'message', message: message.message }, out);
      return;
    case 'forward': {
      const c = message.command;
      // A repeat of a command already applied needs no new log entry; its origin has (or will have) its answer.
      const session = state.replicated.sessions[c.origin];
      if (session !== undefined && seenBefore(session, c.requestId)) return;
      const refuse = (reason: RejectReason): void => {
        out.messages.push({
          message: { type: 'forward-refused', from: state.id, to: message.from, requestId: c.requestId, reason, leaderHint: state.raft.leader },
          afterPersist: false,
        });
      };
      if (state.raft.role !== 'leader') refuse('not-leader');
      else if (state.clockMs === null) refuse('leader-not-ready');
      else propose(state, c, out, refuse);
      return;
    }
    case 'forward-refused': {
      const w = state.writes[String(message.requestId)];
      // Every copy of a too-large write is refused the same way, so this one is a definite failure. Other
      // refusals say nothing about duplicates that may have been proposed elsewhere: keep retrying.
      if (w !== undefined && message.reason === 'entry-too-large') {
        forget(state, 'writes', w.requestId);
        replyError(state, out, w.requestId, 'failed', CAUSE_TOO_LARGE);
      }
      return;
    }
    default:
      throw new ReplicaInvariantError(`${state.id}: unknown peer message ${String((message as { type: unknown }).type)}`);
  }
}

// --------------------------------------------------------------------------------------------------- time

function onTick(state: ReplicaState, now: number, out: ReplicaReady): void {
  state.clockMs = now;
  stepRaft(state, { type: 'tick', now }, out);
  if (state.raft.role === 'leader') maybeProposeExpiry(state, now, out);
  else state.nextExpiryCheckMs = null;
  expireRequests(state, now, out);
  if (state.raft.leader === null) return;
  const floor = writeFloor(state);
  for (const w of pending(state).writes) {
    if (stillPending(state, 'writes', w) && w.phase !== 'conf' && (w.phase === 'waiting' || now - w.lastSentMs >= state.options.forwardRetryMs)) dispatchWrite(state, w, out, floor);
  }
}

/**
 * The local clock reading from which a tick makes this member act: Raft's own deadline (heartbeat, election),
 * the leader's next expiry proposal, a pending request's timeout or forward retry. A driver may skip the ticks
 * before it, as long as it ticks before inputs often enough that the clock readings stamped into proposals and
 * request deadlines stay as fresh as it wants. -Infinity for "at once", null for "not until another input".
 */
export function replicaTickDeadline(state: ReplicaState): number | null {
  if (state.clockMs === null) return -Infinity;
  const raft = nextTickDeadline(state.raft);
  let at = raft ?? Infinity;
  if (state.raft.role === 'leader' && hasTtlKeys(state.replicated.store)) {
    const due = nextExpiryMs(state.replicated.store);
    // The first point of the expiry grid at or after the key falls due (see maybeProposeExpiry).
    const interval = state.options.expiryIntervalMs;
    if (due !== null) at = Math.min(at, Math.max(state.nextExpiryCheckMs ?? -Infinity, Math.ceil(due / interval) * interval));
  }
  if (state.pendingCount > 0) {
    const leaderKnown = state.raft.leader !== null;
    const { writes, reads } = pending(state);
    for (const w of writes) {
      at = Math.min(at, w.deadlineMs ?? -Infinity);
      if (leaderKnown && w.phase === 'waiting') at = -Infinity;
      else if (leaderKnown && w.phase === 'sent') at = Math.min(at, w.lastSentMs + state.options.forwardRetryMs);
    }
    for (const r of reads) at = Math.min(at, r.deadlineMs ?? -Infinity);
  }
  return at === Infinity ? null : at;
}

/** etcd's SYNC: on a fixed grid of the leader's clock, propose an expiry carrying that clock reading when some
 * key is due, so every member expires the same keys at the same log index. */
function maybeProposeExpiry(state: ReplicaState, now: number, out: ReplicaReady): void {
  const interval = state.options.expiryIntervalMs;
  // Wait for the next grid point, unless the clock jumped back past it: then the grid restarts from now.
  const next = state.nextExpiryCheckMs;
  if (next !== null && now < next && now >= next - interval) return;
  state.nextExpiryCheckMs = (Math.floor(now / interval) + 1) * interval;
  const due = nextExpiryMs(state.replicated.store);
  if (due === null || due > now) return;
  syncLeaderBookkeeping(state);
  // One expiry in flight at a time: the next one is decided on the store it leaves.
  if (state.expiryProposedIndex > state.applied) return;
  const payload: ReplicaCommand = { t: 'expire', timeMs: now };
  const ready = stepRaft(state, { type: 'propose', payloads: [encode(payload)] }, out);
  if (ready.proposed !== null && state.raft.role === 'leader') state.expiryProposedIndex = ready.proposed.firstIndex;
}

function expireRequests(state: ReplicaState, now: number, out: ReplicaReady): void {
  const { writes, reads } = pending(state);
  for (const w of writes) {
    if (!stillPending(state, 'writes', w)) continue;
    if (w.deadlineMs === null) w.deadlineMs = now + state.options.requestTimeoutMs;
    if (now < w.deadlineMs) continue;
    forget(state, 'writes', w.requestId);
    if (w.phase === 'waiting') replyError(state, out, w.requestId, 'failed', CAUSE_NO_LEADER);
    else replyError(state, out, w.requestId, 'unknown', CAUSE_TIMEOUT);
  }
  for (const r of reads) {
    if (!stillPending(state, 'reads', r)) continue;
    if (r.deadlineMs === null) r.deadlineMs = now + state.options.requestTimeoutMs;
    if (now < r.deadlineMs) continue;
    forget(state, 'reads', r.requestId);
    replyError(state, out, r.requestId, 'failed', CAUSE_TIMEOUT);
  }
}

// -------------------------------------------------------------------------------------------------- reads

/** The ReadIndex context of one read (`m#7`), or of a batch's reads as runs of consecutive ids (`m#7-9,12`). */
function readContext(state: ReplicaState, ids: number | number[]): string {
  if (typeof ids === 'number') return `${state.id}#${ids}`;
  const runs: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    runs.push(j === i ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return `${state.id}#${runs.join(',')}`;
}

/** The reads still waiting for an index that a context of ours names (another member's context names none). */
function readsOfContext(state: ReplicaState, context: string): PendingRead[] {
  const prefix = `${state.id}#`;
  if (!context.startsWith(prefix)) return [];
  const reads: PendingRead[] = [];
  for (const run of context.slice(prefix.length).split(',')) {
    const dash = run.indexOf('-');
    const first = Number(dash < 0 ? run : run.slice(0, dash));
    const last = dash < 0 ? first : Number(run.slice(dash + 1));
    // Only our own contexts come back, but a damaged one must not make this loop run for ages.
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last - first >= state.options.maxPendingRequests) continue;
    for (let id = first; id <= last; id++) {
      const read = state.reads[String(id)];
      if (read !== undefined && read.readIndex === null) reads.push(read);
    }
  }
  return reads;
}

function onReadState(state: ReplicaState, rs: ReadState): void {
  for (const read of readsOfContext(state, rs.context)) read.readIndex = rs.index;
}

function onRejection(state: ReplicaState, rejection: Rejection, out: ReplicaReady): void {
  if (rejection.input !== 'read-index' || rejection.context === null) return;
  for (const read of readsOfContext(state, rejection.context)) {
    forget(state, 'reads', read.requestId);
    replyError(state, out, read.requestId, 'failed', state.raft.leader === null ? CAUSE_NO_LEADER : CAUSE_LEADER_CHANGED);
  }
}

/** A linearizable read is served from the local store once it has applied the read index. */
function serveReadyReads(state: ReplicaState, out: ReplicaReady): void {
  if (state.pendingCount === 0) return;
  for (const read of pending(state).reads) {
    if (read.readIndex === null || state.applied < read.readIndex || !stillPending(state, 'reads', read)) continue;
    forget(state, 'reads', read.requestId);
    replyResult(state, out, read.requestId, applyRequest(state.replicated.store, read.request, state.clockMs ?? 0, []));
  }
}

// ------------------------------------------------------------------------------------------------- apply

/** Exactly-once: has this origin's request id been applied (or been settled without needing to be)? */
export function seenBefore(session: Session, requestId: number): boolean {
  if (requestId < session.floor) return true;
  return binarySearch(session.applied, requestId) >= 0;
}

function binarySearch(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid]!;
    if (v === value) return mid;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -(lo + 1);
}

/** Records an applied request id. The table stays bounded: ids under the origin's floor are dropped, and past
 * `maxSessionIds` the oldest go too (the floor rises past them, so their late copies are skipped, which is
 * safe: only a request whose outcome is already reported `unknown` can still be in flight that long). */
function recordApplied(replicated: ReplicatedState, command: ForwardedCommand, maxIds: number): void {
  const session = (replicated.sessions[command.origin] ??= { floor: 0, applied: [] });
  const at = binarySearch(session.applied, command.requestId);
  if (at < 0) session.applied.splice(-(at + 1), 0, command.requestId);
  if (command.floor > session.floor) {
    session.floor = command.floor;
    let drop = 0;
    while (drop < session.applied.length && session.applied[drop]! < session.floor) drop++;
    if (drop > 0) session.applied.splice(0, drop);
  }
  while (session.applied.length > maxIds) session.floor = session.applied.shift()! + 1;
}

function applyEntry(state: ReplicaState, entry: Entry, out: ReplicaReady): void {
  if (entry.index !== state.applied + 1) throw new ReplicaInvariantError(`${state.id}: applying index ${entry.index} after ${state.applied}`);
  state.applied = entry.index;
  state.appliedTerm = entry.term;
  const store = state.replicated.store;
  if (entry.kind === 'noop') return reportApplied(out, entry, store, 'noop', null, null, null);
  if (entry.kind === 'conf') {
    applyConf(state, entry, out);
    return reportApplied(out, entry, store, 'conf', null, null, null);
  }
  const command = decode(entry.data) as ReplicaCommand;
  if (command.t === 'expire') {
    const outcome = applyCommand(store, { kind: 'expire', timeMs: command.timeMs });
    deliverWatches(state, outcome.deliveries, out);
    return reportApplied(out, entry, store, 'expire', null, null, command.timeMs);
  }
  const c = command.command;
  delete state.proposals[`${c.origin}/${c.requestId}`];
  if (c.origin === state.id && c.requestId > state.lastRequestId) state.lastRequestId = c.requestId;
  const mine = c.origin === state.id ? state.writes[String(c.requestId)] : undefined;
  const session = state.replicated.sessions[c.origin];
  if (session !== undefined && seenBefore(session, c.requestId)) {
    // Our own request applied earlier would have been answered then; one still pending here was settled out
    // of our sight (we caught up through a snapshot), so its result is unknown.
    if (mine !== undefined) {
      forget(state, 'writes', c.requestId);
      replyError(state, out, c.requestId, 'unknown', CAUSE_RESULT_LOST);
    }
    return reportApplied(out, entry, store, 'duplicate', c.origin, c.requestId, command.timeMs);
  }
  recordApplied(state.replicated, c, state.options.maxSessionIds);
  if (c.op.kind === 'kv') {
    const outcome = applyCommand(store, { kind: 'request', request: c.op.request, timeMs: command.timeMs });
    if (mine !== undefined) {
      forget(state, 'writes', c.requestId);
      replyResult(state, out, c.requestId, outcome.result!);
    }
    deliverWatches(state, outcome.deliveries, out);
  } else {
    applyMemberRequest(state, c, mine, out);
  }
  reportApplied(out, entry, store, 'client', c.origin, c.requestId, command.timeMs);
}

/** Tells the driver what an applied entry was (for its observers). */
function reportApplied(
  out: ReplicaReady,
  entry: Entry,
  store: KvStore,
  kind: AppliedEntry['kind'],
  origin: NodeId | null,
  requestId: number | null,
  timeMs: number | null,
): void {
  out.applied.push({ index: entry.index, term: entry.term, kind, origin, requestId, storeIndex: store.index, timeMs });
}

function deliverWatches(state: ReplicaState, deliveries: WatchDelivery[], out: ReplicaReady): void {
  for (const d of deliveries) {
    const requestId = state.watchRequests[String(d.watchId)];
    if (requestId === undefined) continue;
    const w = state.watches[String(requestId)];
    if (w === undefined) continue;
    reply(state, out, requestId, 'ok', { type: 'watch', event: d.event, startIndex: w.startIndex }, w.startIndex, !w.stream);
    if (!w.stream) {
      delete state.watchRequests[String(d.watchId)];
      forget(state, 'watches', requestId);
    }
  }
}

function installSnapshot(state: ReplicaState, snapshot: Snapshot, out: ReplicaReady): void {
  const previous = state.replicated.store;
  state.replicated = decodeReplicated(snapshot.data);
  state.replicated.store.nextWatchId = Math.max(previous.nextWatchId, state.replicated.store.nextWatchId);
  state.applied = snapshot.index;
  state.appliedTerm = snapshot.term;
  state.snapshotIndex = snapshot.index;
  out.installedSnapshot = snapshot.index;
  // As etcd does on recovery from a snapshot: the events between are not in our history, so every watch ends.
  for (const key of Object.keys(state.watches)) {
    const w = state.watches[key]!;
    delete state.watchRequests[String(w.watchId)];
    forget(state, 'watches', w.requestId);
    reply(state, out, w.requestId, 'failed', { type: 'error', error: etcdError(ErrorCode.WatcherCleared, '', state.replicated.store.index) }, state.replicated.store.index);
  }
  // Our writes the snapshot shows as applied were applied out of our sight: their results are lost.
  const session = state.replicated.sessions[state.id];
  for (const key of Object.keys(state.writes)) {
    const w = state.writes[key]!;
    const queued = state.replicated.confQueue.some((q) => q.origin === state.id && q.requestId === w.requestId);
    if (session !== undefined && seenBefore(session, w.requestId) && !queued) {
      forget(state, 'writes', w.requestId);
      replyError(state, out, w.requestId, 'unknown', CAUSE_RESULT_LOST);
    }
  }
}

function maybeCompact(state: ReplicaState, out: ReplicaReady): void {
  if (state.applied - state.snapshotIndex < state.options.snapshotEvery) return;
  if (state.raft.appliedIndex < state.applied) return;
  state.snapshotIndex = state.applied;
  stepRaft(state, { type: 'compact', index: state.applied, data: encodeReplicated(state.replicated) }, out);
}

// --------------------------------------------------------------------------------------------- membership

function memberOf(state: ReplicaState, id: NodeId): MemberInfo {
  const known = state.replicated.members[id];
  if (known !== undefined) return known;
  const configured = state.options.members.find((m) => m.id === id);
  return configured ?? { id, name: '', peerURLs: [], clientURLs: [] };
}

function memberList(state: ReplicaState): MemberInfo[] {
  const ids = [...state.raft.membership.voters, ...state.raft.membership.learners].sort();
  return ids.map((id) => memberOf(state, id));
}

/** A member request applied: check it against the replicated member table (the same on every member) and
 * queue its Raft configuration change, which the leader of the day proposes. */
function applyMemberRequest(state: ReplicaState, c: ForwardedCommand, mine: PendingWrite | undefined, out: ReplicaReady): void {
  const replicated = state.replicated;
  const refuse = (status: number, message: string): void => {
    if (mine === undefined) return;
    forget(state, 'writes', c.requestId);
    reply(state, out, c.requestId, 'failed', { type: 'member-error', status, message }, replicated.store.index);
  };
  if (c.op.kind === 'member-add') {
    const id = c.op.member.id;
    if (replicated.members[id] !== undefined || replicated.confQueue.some((q) => q.node === id)) return refuse(409, 'membership: ID exists');
    const urls = new Set(c.op.member.peerURLs);
    for (const existing in replicated.members) {
      if (replicated.members[existing]!.peerURLs.some((url) => urls.has(url))) return refuse(409, 'membership: peerURL exists');
    }
    replicated.members[id] = c.op.member;
    replicated.confQueue.push({ origin: c.origin, requestId: c.requestId, type: 'add-voter', node: id });
  } else if (c.op.kind === 'member-remove') {
    const id = c.op.memberId;
    if (replicated.members[id] === undefined || replicated.confQueue.some((q) => q.node === id)) return refuse(404, 'membership: member not found');
    replicated.confQueue.push({ origin: c.origin, requestId: c.requestId, type: 'remove', node: id });
  }
  if (mine !== undefined) mine.phase = 'conf';
}

function applyConf(state: ReplicaState, entry: Entry, out: ReplicaReady): void {
  const change = entry.conf;
  if (change === null) return;
  const replicated = state.replicated;
  if (change.type === 'add-voter' || change.type === 'add-learner') replicated.members[change.node] ??= memberOf(state, change.node);
  if (change.type === 'remove') delete replicated.members[change.node];
  const head = replicated.confQueue[0];
  if (head === undefined || head.node !== change.node || head.type !== (change.type === 'remove' ? 'remove' : 'add-voter')) return;
  replicated.confQueue.shift();
  if (head.origin === state.id && state.writes[String(head.requestId)] !== undefined) {
    forget(state, 'writes', head.requestId);
    reply(state, out, head.requestId, 'ok', { type: 'members', members: memberList(state) }, replicated.store.index);
  }
}

/** Leader: propose the configuration change at the head of the queue, one at a time, once Raft has none
 * pending. A change Raft calls invalid is impossible here (the queue was checked against the same table). */
function driveConfQueue(state: ReplicaState, out: ReplicaReady): void {
  const head = state.replicated.confQueue[0];
  const raft = state.raft;
  if (head === undefined || raft.membershipIndex > raft.commit) return;
  const isMember = raft.membership.voters.includes(head.node) || raft.membership.learners.includes(head.node);
  if ((head.type === 'add-voter') === isMember) return;
  stepRaft(state, { type: 'propose-conf', change: { type: head.type, node: head.node } }, out);
}

function statsBody(state: ReplicaState, kind: StatsKind): ReplyBody {
  const self = {
    id: state.id,
    name: memberOf(state, state.id).name,
    state: state.raft.role,
    leader: state.raft.leader,
    term: state.raft.term,
    commit: state.raft.commit,
    applied: state.applied,
  };
  return { type: 'stats', kind, store: storeStats(state.replicated.store), self };
}

// ------------------------------------------------------------------------------------------- observation

/** A digest of what must agree across members: the tree (through the store's incrementally kept tree hash:
 * every node's path, indexes, expiry, kind and value) and the store index. Stats and watches are per member
 * and left out. O(1). */
export function storeDigest(store: KvStore): string {
  return `${store.index}:${hex32(store.treeHash[0])}${hex32(store.treeHash[1])}`;
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** What checkers look at after any step. O(1). */
export function observeReplica(state: ReplicaState): ReplicaObservation {
  const last = lastLogIndex(state.raft);
  return {
    role: state.raft.role,
    term: state.raft.term,
    commit: state.raft.commit,
    applied: state.applied,
    lastIndex: last,
    lastTerm: logTerm(state.raft, last) ?? 0,
    digest: storeDigest(state.replicated.store),
  };
}
