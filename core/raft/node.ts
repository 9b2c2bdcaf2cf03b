// One Raft node as a pure state machine: `step(state, input)` mutates the plain-data state in place and returns
// a Ready saying what the driver must persist, send and apply. No clock, no randomness, no I/O: time arrives
// with `tick`, randomness is a PRNG state inside the node.
import {
  entryAt,
  isLogUpToDate,
  isVoter,
  lastIndexWithTermAtMost,
  lastLogIndex,
  lastLogTerm,
  logSlice,
  logTerm,
  quorumSize,
} from './log.ts';
import { EMPTY_MEMBERSHIP, applyConfChange, confChangeProblem, peersOf, replayMembership } from './membership.ts';
import { nextRandom, seedFor } from './prng.ts';
import {
  RaftInvariantError,
  type AppendRequest,
  type AppendResponse,
  type ConfChange,
  type Entry,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type Message,
  type NodeId,
  type OutboundMessage,
  type PersistedState,
  type Progress,
  type RaftInput,
  type RaftOptions,
  type RaftState,
  type ReadIndexRequest,
  type ReadIndexResponse,
  type ReadState,
  type Ready,
  type RejectReason,
  type RejectedInput,
  type Rejection,
  type ResolvedRaftOptions,
  type Snapshot,
  type SnapshotRequest,
  type VoteRequest,
  type VoteResponse,
} from './types.ts';

export const defaultRaftOptions: Omit<ResolvedRaftOptions, 'id' | 'maxEntryBytes'> = {
  seed: 0,
  electionTimeoutMs: 1000,
  heartbeatIntervalMs: 100,
  maxEntriesPerMessage: 64,
  maxBytesPerMessage: 1 << 20,
  maxInflightMessages: 64,
  maxUncommittedBytes: 64 << 20,
  maxPendingReads: 4096,
  preVote: true,
  checkQuorum: true,
};

const EMPTY_BYTES = new Uint8Array(0);
const matchScratch: number[] = [];

function fail(message: string): never {
  throw new RaftInvariantError(message);
}

function resolveOptions(options: RaftOptions): ResolvedRaftOptions {
  if (typeof options.id !== 'string' || options.id.length === 0) throw new RangeError('raft options: id must be a non-empty string');
  const resolved: ResolvedRaftOptions = { ...defaultRaftOptions, ...options } as ResolvedRaftOptions;
  resolved.maxEntryBytes = options.maxEntryBytes ?? resolved.maxBytesPerMessage;
  for (const key of [
    'electionTimeoutMs',
    'heartbeatIntervalMs',
    'maxEntriesPerMessage',
    'maxBytesPerMessage',
    'maxEntryBytes',
    'maxInflightMessages',
    'maxUncommittedBytes',
    'maxPendingReads',
  ] as const) {
    const value = resolved[key];
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`raft options: ${key} must be a positive integer, got ${String(value)}`);
  }
  if (!Number.isSafeInteger(resolved.seed)) throw new RangeError(`raft options: seed must be an integer, got ${String(resolved.seed)}`);
  if (resolved.heartbeatIntervalMs >= resolved.electionTimeoutMs) {
    throw new RangeError('raft options: heartbeatIntervalMs must be smaller than electionTimeoutMs');
  }
  return resolved;
}

function blankState(options: ResolvedRaftOptions): RaftState {
  const state: RaftState = {
    options,
    id: options.id,
    term: 0,
    vote: null,
    commit: 0,
    role: 'follower',
    leader: null,
    log: { entries: [], snapshotIndex: 0, snapshotTerm: 0 },
    snapshot: null,
    durableIndex: 0,
    emittedIndex: 0,
    appliedIndex: 0,
    membership: EMPTY_MEMBERSHIP,
    membershipIndex: 0,
    votes: {},
    progress: {},
    peers: [],
    clockMs: null,
    electionElapsedMs: 0,
    heartbeatElapsedMs: 0,
    randomizedElectionTimeoutMs: options.electionTimeoutMs,
    rng: seedFor(options.seed, options.id),
    leadTransferee: null,
    leaderStartIndex: 0,
    pendingReads: [],
    readsAwaitingCommit: [],
    uncommittedBytes: 0,
    unstableFrom: 0,
    hardStateChanged: false,
    termOrVoteChanged: false,
    unstableSnapshot: null,
    unstableSnapshotResetsLog: false,
  };
  resetElectionTimer(state);
  return state;
}

function sortedUnique(ids: NodeId[], what: string): NodeId[] {
  for (const id of ids) if (typeof id !== 'string' || id.length === 0) throw new RangeError(`raft bootstrap: ${what} ids must be non-empty strings`);
  const sorted = [...new Set(ids)].sort();
  if (sorted.length !== ids.length) throw new RangeError(`raft bootstrap: duplicate ${what}`);
  return sorted;
}

/** A brand-new node. With voters, the log starts with one committed `conf` entry per member (term 1), so every
 * bootstrapped node holds the same history and a node added later learns the membership from the log. With no
 * voters, the node waits to hear from a leader (a joining node). The first Ready persists this bootstrap; a
 * node that crashes before that is durable is simply created again. */
export function createNode(options: RaftOptions, bootstrap: { voters: NodeId[]; learners?: NodeId[] }): RaftState {
  const state = blankState(resolveOptions(options));
  const voters = sortedUnique(bootstrap.voters, 'voter');
  const learners = sortedUnique(bootstrap.learners ?? [], 'learner');
  if (learners.some((id) => voters.includes(id))) throw new RangeError('raft bootstrap: a node cannot be both voter and learner');
  if (voters.length === 0) {
    if (learners.length > 0) throw new RangeError('raft bootstrap: learners need at least one voter');
    return state;
  }
  const changes: ConfChange[] = [
    ...voters.map((node): ConfChange => ({ type: 'add-voter', node })),
    ...learners.map((node): ConfChange => ({ type: 'add-learner', node })),
  ];
  const entries = changes.map((conf, i): Entry => ({ index: i + 1, term: 1, kind: 'conf', data: EMPTY_BYTES, conf }));
  state.term = 1;
  appendToLog(state, entries);
  state.commit = entries.length;
  state.hardStateChanged = true;
  state.termOrVoteChanged = true;
  return state;
}

/** A node rebuilt from what its disk kept, and nothing else. The application restores itself from
 * `persisted.snapshot`; the first Ready hands it the committed entries after the snapshot. */
export function restartNode(options: RaftOptions, persisted: PersistedState): RaftState {
  const state = blankState(resolveOptions(options));
  const { hardState, snapshot } = persisted;
  state.term = hardState.term;
  state.vote = hardState.vote;
  if (snapshot !== null) {
    state.snapshot = snapshot;
    state.log.snapshotIndex = snapshot.index;
    state.log.snapshotTerm = snapshot.term;
    state.membership = snapshot.membership;
    state.membershipIndex = snapshot.index;
  }
  const base = state.log.snapshotIndex;
  let expected = base + 1;
  for (const entry of persisted.entries) {
    if (entry.index <= base) continue;
    if (entry.index !== expected) fail(`restart: persisted log has a gap: expected index ${expected}, found ${entry.index}`);
    if (entry.term < lastLogTerm(state)) fail(`restart: persisted log term goes backwards at index ${entry.index}`);
    state.log.entries.push(entry);
    expected++;
  }
  const replayed = replayMembership(state.membership, state.membershipIndex, state.log.entries, Infinity);
  setMembership(state, replayed.membership, replayed.index);
  const last = lastLogIndex(state);
  if (hardState.commit > last) fail(`restart: persisted commit ${hardState.commit} is beyond the last persisted index ${last}`);
  state.commit = Math.max(hardState.commit, base);
  state.durableIndex = last;
  state.emittedIndex = base;
  state.appliedIndex = base;
  return state;
}

// ------------------------------------------------------------------------------------- per-step outputs
// `step` is synchronous and never re-entered, so one set of module-level accumulators serves every node.
// Most steps produce few kinds of output, so empty outputs share one frozen array (a driver that tries to
// modify a Ready's array gets a TypeError rather than corrupting later Readys); a list is allocated on its first
// item. This keeps garbage, the largest cost of a busy simulation, down.
const NO_MESSAGES = Object.freeze([]) as unknown as OutboundMessage[];
const NO_READS = Object.freeze([]) as unknown as ReadState[];
const NO_REJECTIONS = Object.freeze([]) as unknown as Rejection[];
const NO_ENTRIES = Object.freeze([]) as unknown as Entry[];
let outMessages: OutboundMessage[] = NO_MESSAGES;
let outReadStates: ReadState[] = NO_READS;
let outRejected: Rejection[] = NO_REJECTIONS;
let outProposed: Ready['proposed'] = null;
let outApplySnapshot: Snapshot | null = null;

function send(message: Message, afterPersist: boolean): void {
  if (outMessages === NO_MESSAGES) outMessages = [];
  outMessages.push({ message, afterPersist });
}

/** A leader's messages carry its term, so until the no-op that began the term is durable they wait for the
 * disk: otherwise a crash could forget the term and let this node lead the same term twice. */
function sendAsLeader(state: RaftState, message: Message): void {
  send(message, state.durableIndex < state.leaderStartIndex);
}

function reject(state: RaftState, input: RejectedInput, reason: RejectReason, detail: string, context: string | null = null): void {
  pushRejection({ input, reason, leaderHint: state.leader === state.id ? null : state.leader, context, detail });
}

function pushRejection(rejection: Rejection): void {
  if (outRejected === NO_REJECTIONS) outRejected = [];
  outRejected.push(rejection);
}

function pushReadState(read: ReadState): void {
  if (outReadStates === NO_READS) outReadStates = [];
  outReadStates.push(read);
}

/** Feeds one input to the node, mutating it in place, and returns what the driver must do. Deterministic. */
export function step(state: RaftState, input: RaftInput): Ready {
  outMessages = NO_MESSAGES;
  outReadStates = NO_READS;
  outRejected = NO_REJECTIONS;
  outProposed = null;
  outApplySnapshot = null;
  switch (input.type) {
    case 'tick':
      onTick(state, input.now);
      break;
    case 'message':
      onMessage(state, input.message);
      break;
    case 'propose':
      onPropose(state, input.payloads);
      break;
    case 'propose-conf':
      onProposeConf(state, input.change);
      break;
    case 'read-index':
      onReadIndex(state, input.context);
      break;
    case 'transfer-leadership':
      onTransferLeadership(state, input.to);
      break;
    case 'campaign':
      if (state.role !== 'leader' && mayCampaign(state)) campaign(state, state.options.preVote, false);
      break;
    case 'persisted':
      onPersisted(state, input.index, input.term);
      break;
    case 'applied':
      onApplied(state, input.index);
      break;
    case 'compact':
      onCompact(state, input.index, input.data);
      break;
    default:
      fail(`unknown input type ${String((input as { type: unknown }).type)}`);
  }
  return finishReady(state);
}

function finishReady(state: RaftState): Ready {
  const last = lastLogIndex(state);
  if (state.commit > last) fail(`${state.id}: commit ${state.commit} is beyond the last index ${last}`);
  if (state.durableIndex > last) fail(`${state.id}: durable index ${state.durableIndex} is beyond the last index ${last}`);

  let persist: Ready['persist'] = null;
  const entries = state.unstableFrom === 0 ? NO_ENTRIES : logSlice(state, state.unstableFrom, last);
  if (entries.length > 0 || state.hardStateChanged || state.unstableSnapshot !== null) {
    persist = {
      hardState: state.hardStateChanged ? { term: state.term, vote: state.vote, commit: state.commit } : null,
      entries,
      snapshot: state.unstableSnapshot,
      snapshotResetsLog: state.unstableSnapshotResetsLog,
    };
  }
  const mustSync = entries.length > 0 || state.termOrVoteChanged || state.unstableSnapshot !== null;
  if (state.termOrVoteChanged) {
    // Every message of this step speaks for the new term or vote: none may leave before it is durable.
    for (const out of outMessages) out.afterPersist = true;
  }
  state.unstableFrom = 0;
  state.hardStateChanged = false;
  state.termOrVoteChanged = false;
  state.unstableSnapshot = null;
  state.unstableSnapshotResetsLog = false;

  let committed = NO_ENTRIES;
  const applicable = Math.min(state.commit, state.durableIndex);
  if (applicable > state.emittedIndex) {
    committed = logSlice(state, state.emittedIndex + 1, applicable);
    state.emittedIndex = applicable;
  }
  return {
    persist,
    mustSync,
    messages: outMessages,
    committed,
    applySnapshot: outApplySnapshot,
    readStates: outReadStates,
    rejected: outRejected,
    proposed: outProposed,
    soft: { role: state.role, leader: state.leader, term: state.term },
  };
}

// ------------------------------------------------------------------------------------------- log writes

function appendToLog(state: RaftState, entries: Entry[]): void {
  if (entries.length === 0) return;
  const expected = lastLogIndex(state) + 1;
  if (entries[0]!.index !== expected) fail(`${state.id}: appending index ${entries[0]!.index}, expected ${expected}`);
  let lastTerm = lastLogTerm(state);
  for (const entry of entries) {
    if (entry.term < lastTerm) fail(`${state.id}: entry ${entry.index} has term ${entry.term} below the previous ${lastTerm}`);
    if (entry.term > state.term) fail(`${state.id}: entry ${entry.index} has term ${entry.term} above the node's term ${state.term}`);
    lastTerm = entry.term;
    state.log.entries.push(entry);
    if (entry.kind === 'conf' && entry.conf !== null) setMembership(state, applyConfChange(state.membership, entry.conf), entry.index);
  }
  if (state.unstableFrom === 0 || expected < state.unstableFrom) state.unstableFrom = expected;
}

/** Drops entries from `index` on (a follower's conflicting suffix). Committed entries are never dropped. */
function truncateLog(state: RaftState, index: number): void {
  if (index <= state.commit) fail(`${state.id}: truncating committed entry ${index} (commit ${state.commit})`);
  if (index <= state.log.snapshotIndex) fail(`${state.id}: truncating into the snapshot at ${index}`);
  state.log.entries.length = index - state.log.snapshotIndex - 1;
  state.durableIndex = Math.min(state.durableIndex, index - 1);
  if (state.unstableFrom === 0 || index < state.unstableFrom) state.unstableFrom = index;
  if (state.membershipIndex >= index) {
    const base = state.snapshot?.membership ?? EMPTY_MEMBERSHIP;
    const replayed = replayMembership(base, state.log.snapshotIndex, state.log.entries, Infinity);
    setMembership(state, replayed.membership, replayed.index);
  }
}

function setMembership(state: RaftState, membership: RaftState['membership'], index: number): void {
  state.membership = membership;
  state.membershipIndex = index;
  refreshPeers(state);
  if (state.leadTransferee !== null && !membership.voters.includes(state.leadTransferee)) state.leadTransferee = null;
}

/** The nodes a leader replicates to: the members, plus a node just removed, until it holds its removal entry
 * and has been told that it committed (then it stops campaigning). Otherwise a removed node would never hear
 * of its removal and, without pre-vote, would disrupt the cluster with elections. */
function replicationPeers(state: RaftState): NodeId[] {
  const peers = peersOf(state.membership, state.id);
  const removed = removedPeer(state);
  if (removed !== null) {
    const match = state.progress[removed]?.match ?? 0;
    if (state.membershipIndex > state.commit || match < state.membershipIndex) {
      peers.push(removed);
      peers.sort();
    }
  }
  return peers;
}

/** The node the latest conf entry removed (not this node), or null. */
function removedPeer(state: RaftState): NodeId | null {
  const change = entryAt(state, state.membershipIndex)?.conf;
  if (change === undefined || change === null || change.type !== 'remove' || change.node === state.id) return null;
  return change.node;
}

function refreshPeers(state: RaftState): void {
  state.peers = replicationPeers(state);
  if (state.role !== 'leader') return;
  const next = lastLogIndex(state) + 1;
  const progress: Record<NodeId, Progress> = {};
  for (const peer of state.peers) progress[peer] = state.progress[peer] ?? newProgress(next);
  state.progress = progress;
}

function commitTo(state: RaftState, index: number): void {
  if (index <= state.commit) return;
  if (index > lastLogIndex(state)) fail(`${state.id}: commit ${index} is beyond the last index ${lastLogIndex(state)}`);
  if (state.role === 'leader') {
    for (let i = state.commit + 1; i <= index; i++) {
      const entry = entryAt(state, i);
      if (entry !== undefined && entry.term === state.term) state.uncommittedBytes -= entry.data.length;
    }
    if (state.uncommittedBytes < 0) state.uncommittedBytes = 0;
  }
  const removalWasPending = state.membershipIndex > state.commit;
  state.commit = index;
  state.hardStateChanged = true;
  if (state.role !== 'leader') return;
  if (removalWasPending && state.commit >= state.membershipIndex) maybeSayFarewell(state);
  if (state.readsAwaitingCommit.length > 0 && state.commit >= state.leaderStartIndex) {
    const waiting = state.readsAwaitingCommit;
    state.readsAwaitingCommit = [];
    for (const read of waiting) leaderRead(state, read.context, read.from);
  }
  // A leader that removed itself manages the cluster until the removal commits, then steps aside: it tells
  // everyone the new commit index and hands the most up-to-date voter a TimeoutNow so no election timeout
  // passes without a leader.
  if (!isVoter(state, state.id) && state.commit >= state.membershipIndex) stepAsideAfterRemoval(state);
}

/** Once a removed peer holds its removal entry and the entry is committed, tell it the commit index (which
 * its heartbeat may carry, being within what it holds) and stop replicating to it. */
function maybeSayFarewell(state: RaftState): void {
  const removed = removedPeer(state);
  if (removed === null || state.commit < state.membershipIndex) return;
  const pr = state.progress[removed];
  if (pr === undefined || pr.match < state.membershipIndex) return;
  const commitItHolds = Math.min(pr.match, state.commit);
  const farewell: HeartbeatRequest = { type: 'heartbeat', from: state.id, to: removed, term: state.term, commit: commitItHolds, context: null };
  sendAsLeader(state, farewell);
  refreshPeers(state);
}

function stepAsideAfterRemoval(state: RaftState): void {
  broadcastAppend(state);
  let successor: NodeId | null = null;
  let best = -1;
  for (const voter of state.membership.voters) {
    const match = state.progress[voter]?.match ?? 0;
    if (match > best) {
      best = match;
      successor = voter;
    }
  }
  if (successor !== null && best === lastLogIndex(state)) sendTimeoutNow(state, successor);
  becomeFollower(state, state.term, null);
}

// ----------------------------------------------------------------------------------------- role changes

function resetElectionTimer(state: RaftState): void {
  const [rng, value] = nextRandom(state.rng);
  state.rng = rng;
  state.electionElapsedMs = 0;
  state.randomizedElectionTimeoutMs = state.options.electionTimeoutMs + (value % state.options.electionTimeoutMs);
}

function setTerm(state: RaftState, term: number): void {
  if (term < state.term) fail(`${state.id}: term would go backwards from ${state.term} to ${term}`);
  if (term === state.term) return;
  state.term = term;
  state.vote = null;
  state.hardStateChanged = true;
  state.termOrVoteChanged = true;
}

function becomeFollower(state: RaftState, term: number, leader: NodeId | null): void {
  if (state.role === 'leader') failPendingReads(state);
  setTerm(state, term);
  state.role = 'follower';
  state.leader = leader;
  state.votes = {};
  state.progress = {};
  state.leadTransferee = null;
  state.leaderStartIndex = 0;
  state.uncommittedBytes = 0;
  resetElectionTimer(state);
}

function campaign(state: RaftState, preVote: boolean, transfer: boolean): void {
  if (preVote) {
    state.role = 'pre-candidate';
  } else {
    setTerm(state, state.term + 1);
    state.vote = state.id;
    state.termOrVoteChanged = true;
    state.hardStateChanged = true;
    state.role = 'candidate';
  }
  state.leader = null;
  state.votes = { [state.id]: true };
  resetElectionTimer(state);
  if (tallyVotes(state)) return;
  const term = preVote ? state.term + 1 : state.term;
  const lastIndex = lastLogIndex(state);
  const lastTerm = lastLogTerm(state);
  for (const voter of state.membership.voters) {
    if (voter === state.id) continue;
    const request: VoteRequest = { type: 'vote', from: state.id, to: voter, term, preVote, transfer, lastIndex, lastTerm };
    send(request, true);
  }
}

/** Counts the votes of the current campaign and acts on a decision; true when the campaign ended. */
function tallyVotes(state: RaftState): boolean {
  let granted = 0;
  let refused = 0;
  for (const voter of state.membership.voters) {
    const vote = state.votes[voter];
    if (vote === true) granted++;
    else if (vote === false) refused++;
  }
  const quorum = quorumSize(state.membership.voters.length);
  if (granted >= quorum) {
    if (state.role === 'pre-candidate') campaign(state, false, false);
    else becomeLeader(state);
    return true;
  }
  if (refused >= quorum) {
    becomeFollower(state, state.term, null);
    return true;
  }
  return false;
}

function newProgress(next: number): Progress {
  return { match: 0, next, state: 'probe', probeSent: false, inflight: [], pendingSnapshot: 0, snapshotWaitRounds: 0, recentActive: false };
}

function becomeLeader(state: RaftState): void {
  if (state.role !== 'candidate') fail(`${state.id}: becoming leader from ${state.role}`);
  state.role = 'leader';
  state.leader = state.id;
  state.votes = {};
  state.leadTransferee = null;
  state.pendingReads = [];
  state.readsAwaitingCommit = [];
  state.uncommittedBytes = 0;
  state.heartbeatElapsedMs = 0;
  state.electionElapsedMs = 0;
  state.peers = replicationPeers(state);
  const next = lastLogIndex(state) + 1;
  state.progress = {};
  for (const peer of state.peers) state.progress[peer] = newProgress(next);
  // The no-op lets the leader commit (and so learn the commit point of) everything before its term.
  const noop: Entry = { index: next, term: state.term, kind: 'noop', data: EMPTY_BYTES, conf: null };
  state.leaderStartIndex = next;
  appendToLog(state, [noop]);
  maybeCommit(state);
  broadcastAppend(state);
}

// ------------------------------------------------------------------------------------------------ ticks

function onTick(state: RaftState, now: number): void {
  if (!Number.isFinite(now)) fail(`${state.id}: tick with a non-finite clock reading ${String(now)}`);
  const previous = state.clockMs;
  state.clockMs = now;
  if (previous === null || now <= previous) return;
  const elapsed = now - previous;
  if (state.role === 'leader') tickLeader(state, elapsed);
  else tickFollower(state, elapsed);
}

function tickFollower(state: RaftState, elapsed: number): void {
  state.electionElapsedMs += elapsed;
  if (state.electionElapsedMs < state.randomizedElectionTimeoutMs) return;
  if (!mayCampaign(state)) {
    // The clock keeps running (capped) without a campaign: the leader lease of a non-voter must still expire
    // when its leader goes quiet, or it would ignore the vote requests of a voter that needs it forever.
    state.electionElapsedMs = state.randomizedElectionTimeoutMs;
    return;
  }
  campaign(state, state.options.preVote, false);
}

/** Voters campaign; so does a node whose removal is still uncommitted in its log. Without that, a leader that
 * appended its own removal, then lost leadership before the entry spread, could hold the only up-to-date
 * log and refuse every other candidate while never standing itself: no leader ever again. Elected, it
 * commits its removal with the new configuration's quorum and steps aside. */
function mayCampaign(state: RaftState): boolean {
  if (isVoter(state, state.id)) return true;
  if (state.membershipIndex <= state.commit) return false;
  const base = state.snapshot?.membership ?? EMPTY_MEMBERSHIP;
  const before = replayMembership(base, state.log.snapshotIndex, state.log.entries, state.membershipIndex - 1);
  return before.membership.voters.includes(state.id);
}

function tickLeader(state: RaftState, elapsed: number): void {
  state.heartbeatElapsedMs += elapsed;
  state.electionElapsedMs += elapsed;
  if (state.electionElapsedMs >= state.options.electionTimeoutMs) {
    state.electionElapsedMs = 0;
    if (state.options.checkQuorum) {
      if (!quorumRecentlyActive(state)) {
        becomeFollower(state, state.term, null);
        return;
      }
      for (const peer of state.peers) state.progress[peer]!.recentActive = false;
    }
    // A transfer that has not finished within an election timeout is abandoned: proposals flow again.
    state.leadTransferee = null;
  }
  if (state.heartbeatElapsedMs >= state.options.heartbeatIntervalMs) {
    state.heartbeatElapsedMs = 0;
    const lastRead = state.pendingReads[state.pendingReads.length - 1];
    broadcastHeartbeat(state, lastRead === undefined ? null : lastRead.context);
  }
}

function quorumRecentlyActive(state: RaftState): boolean {
  let active = 0;
  for (const voter of state.membership.voters) {
    if (voter === state.id || state.progress[voter]?.recentActive === true) active++;
  }
  return active >= quorumSize(state.membership.voters.length);
}

// --------------------------------------------------------------------------------------------- messages

function onMessage(state: RaftState, m: Message): void {
  if (m.to !== state.id) fail(`${state.id}: received a message addressed to ${m.to}`);
  if (m.term > state.term) {
    if (m.type === 'vote') {
      const inLease = state.options.checkQuorum && state.leader !== null && state.electionElapsedMs < state.options.electionTimeoutMs;
      // Stickiness: while a leader is live, a disruptive candidate (say, a node back from a partition) is ignored.
      if (inLease && !m.transfer) return;
    }
    const futureTerm = (m.type === 'vote' && m.preVote) || (m.type === 'vote-response' && m.preVote && m.granted);
    if (!futureTerm) {
      const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
      becomeFollower(state, m.term, fromLeader ? m.from : null);
    }
  } else if (m.term < state.term) {
    // Tell a stale leader or candidate about the newer term so it steps down (Figure 2: reply false).
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
      const response: AppendResponse = {
        type: 'append-response', from: state.id, to: m.from, term: state.term, reject: true, index: 0, hintIndex: 0, hintTerm: 0,
      };
      send(response, false);
    } else if (m.type === 'vote') {
      const response: VoteResponse = { type: 'vote-response', from: state.id, to: m.from, term: state.term, preVote: m.preVote, granted: false };
      send(response, false);
    }
    return;
  }

  switch (m.type) {
    case 'vote':
      onVoteRequest(state, m);
      return;
    case 'vote-response':
      onVoteResponse(state, m);
      return;
    case 'append':
    case 'heartbeat':
    case 'snapshot':
      if (state.role === 'leader') fail(`${state.id}: two leaders in term ${state.term} (${m.from} sent ${m.type})`);
      if (state.role !== 'follower') becomeFollower(state, state.term, m.from);
      state.leader = m.from;
      state.electionElapsedMs = 0;
      if (m.type === 'append') onAppend(state, m);
      else if (m.type === 'heartbeat') onHeartbeat(state, m);
      else onSnapshot(state, m);
      return;
    case 'append-response':
      if (state.role === 'leader') onAppendResponse(state, m);
      return;
    case 'heartbeat-response':
      if (state.role === 'leader') onHeartbeatResponse(state, m);
      return;
    case 'timeout-now':
      if (state.role !== 'leader' && mayCampaign(state)) campaign(state, false, true);
      return;
    case 'read-index':
      onForwardedRead(state, m);
      return;
    case 'read-index-response':
      if (m.reject !== null) reject(state, 'read-index', m.reject, `the leader ${m.from} refused the read`, m.context);
      else pushReadState({ context: m.context, index: m.index });
      return;
    default:
      fail(`${state.id}: unknown message type ${String((m as { type: unknown }).type)}`);
  }
}

function onVoteRequest(state: RaftState, m: VoteRequest): void {
  // Vote for whoever we already voted for, or anyone if we have neither voted nor heard from a leader this
  // term; a pre-vote for a later term commits us to nothing.
  const canVote = state.vote === m.from || (state.vote === null && state.leader === null) || (m.preVote && m.term > state.term);
  const granted = canVote && isLogUpToDate(state, m.lastIndex, m.lastTerm);
  if (granted && !m.preVote) {
    state.vote = m.from;
    state.hardStateChanged = true;
    state.termOrVoteChanged = true;
    resetElectionTimer(state);
  }
  const response: VoteResponse = {
    type: 'vote-response', from: state.id, to: m.from, term: granted ? m.term : state.term, preVote: m.preVote, granted,
  };
  send(response, true);
}

function onVoteResponse(state: RaftState, m: VoteResponse): void {
  if (m.preVote ? state.role !== 'pre-candidate' : state.role !== 'candidate') return;
  const expectedTerm = m.preVote && m.granted ? state.term + 1 : state.term;
  if (m.term !== expectedTerm || !isVoter(state, m.from)) return;
  state.votes[m.from] = m.granted;
  tallyVotes(state);
}

/** Append acknowledgements (and refusals) speak for the log on disk: they always wait for persistence. */
function replyToAppend(state: RaftState, to: NodeId, reject: boolean, index: number, hintIndex: number, hintTerm: number): void {
  const response: AppendResponse = { type: 'append-response', from: state.id, to, term: state.term, reject, index, hintIndex, hintTerm };
  send(response, true);
}

function onAppend(state: RaftState, m: AppendRequest): void {
  if (m.prevIndex < state.log.snapshotIndex) {
    // The prefix is compacted, hence committed, hence identical to the leader's: restart from our commit.
    replyToAppend(state, m.from, false, state.commit, 0, 0);
    return;
  }
  if (logTerm(state, m.prevIndex) !== m.prevTerm) {
    const hintIndex = lastIndexWithTermAtMost(state, m.prevIndex, m.prevTerm);
    replyToAppend(state, m.from, true, m.prevIndex, hintIndex, logTerm(state, hintIndex) ?? 0);
    return;
  }
  const entries = m.entries;
  let firstNew = entries.length;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.index <= state.log.snapshotIndex) continue;
    const existing = logTerm(state, entry.index);
    if (existing === entry.term) continue;
    if (existing !== null) truncateLog(state, entry.index);
    firstNew = i;
    break;
  }
  if (firstNew < entries.length) appendToLog(state, firstNew === 0 ? entries : entries.slice(firstNew));
  const lastNew = m.prevIndex + entries.length;
  commitTo(state, Math.min(m.commit, lastNew));
  replyToAppend(state, m.from, false, lastNew, 0, 0);
}

function onHeartbeat(state: RaftState, m: HeartbeatRequest): void {
  commitTo(state, m.commit);
  const response: HeartbeatResponse = { type: 'heartbeat-response', from: state.id, to: m.from, term: state.term, context: m.context };
  send(response, false);
}

function onSnapshot(state: RaftState, m: SnapshotRequest): void {
  const snapshot = m.snapshot;
  if (snapshot.index <= state.commit) {
    replyToAppend(state, m.from, false, state.commit, 0, 0);
    return;
  }
  if (logTerm(state, snapshot.index) === snapshot.term) {
    // We already hold the snapshot's last entry: the log matches up to it, only the commit point moves.
    commitTo(state, snapshot.index);
    replyToAppend(state, m.from, false, snapshot.index, 0, 0);
    return;
  }
  state.log.entries = [];
  state.log.snapshotIndex = snapshot.index;
  state.log.snapshotTerm = snapshot.term;
  state.snapshot = snapshot;
  state.durableIndex = Math.min(state.durableIndex, snapshot.index - 1);
  state.unstableFrom = 0;
  state.unstableSnapshot = snapshot;
  state.unstableSnapshotResetsLog = true;
  setMembership(state, snapshot.membership, snapshot.index);
  state.commit = snapshot.index;
  state.hardStateChanged = true;
  state.emittedIndex = snapshot.index;
  state.appliedIndex = snapshot.index;
  outApplySnapshot = snapshot;
  replyToAppend(state, m.from, false, snapshot.index, 0, 0);
}

// -------------------------------------------------------------------------------------- leader: sending

function isPaused(state: RaftState, pr: Progress): boolean {
  switch (pr.state) {
    case 'probe':
      return pr.probeSent;
    case 'replicate':
      return pr.inflight.length >= state.options.maxInflightMessages;
    case 'snapshot':
      return true;
  }
}

/** Sends the next append to `peer` if flow control allows; true when a message went out. */
function sendAppend(state: RaftState, peer: NodeId, sendIfEmpty: boolean): boolean {
  const pr = state.progress[peer];
  if (pr === undefined || isPaused(state, pr)) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = logTerm(state, prevIndex);
  if (prevTerm === null) {
    if (prevIndex > lastLogIndex(state)) fail(`${state.id}: progress of ${peer} runs past the log (next ${pr.next})`);
    sendSnapshot(state, peer, pr);
    return false;
  }
  const last = lastLogIndex(state);
  let end = prevIndex;
  let bytes = 0;
  const { maxEntriesPerMessage, maxBytesPerMessage } = state.options;
  while (end < last && end - prevIndex < maxEntriesPerMessage) {
    const size = entryAt(state, end + 1)!.data.length;
    if (end > prevIndex && bytes + size > maxBytesPerMessage) break;
    bytes += size;
    end++;
  }
  if (end === prevIndex && !sendIfEmpty) return false;
  const entries = end === prevIndex ? NO_ENTRIES : logSlice(state, prevIndex + 1, end);
  const request: AppendRequest = {
    type: 'append', from: state.id, to: peer, term: state.term, prevIndex, prevTerm, entries, commit: state.commit,
  };
  sendAsLeader(state, request);
  if (pr.state === 'replicate') {
    if (entries.length > 0) {
      pr.next = end + 1;
      pr.inflight.push(end);
    }
  } else {
    pr.probeSent = true;
  }
  return true;
}

function sendSnapshot(state: RaftState, peer: NodeId, pr: Progress): void {
  const snapshot = state.snapshot;
  if (snapshot === null) fail(`${state.id}: ${peer} needs compacted entries but there is no snapshot`);
  const request: SnapshotRequest = { type: 'snapshot', from: state.id, to: peer, term: state.term, snapshot };
  sendAsLeader(state, request);
  pr.state = 'snapshot';
  pr.pendingSnapshot = snapshot.index;
  pr.snapshotWaitRounds = 0;
  pr.inflight = [];
  pr.probeSent = false;
}

function broadcastAppend(state: RaftState): void {
  for (const peer of state.peers) {
    if (sendAppend(state, peer, true)) while (sendAppend(state, peer, false));
  }
}

function broadcastHeartbeat(state: RaftState, context: string | null): void {
  const roundsToRetrySnapshot = Math.ceil(state.options.electionTimeoutMs / state.options.heartbeatIntervalMs);
  for (const peer of state.peers) {
    const pr = state.progress[peer]!;
    if (pr.state === 'snapshot' && ++pr.snapshotWaitRounds >= roundsToRetrySnapshot) becomeProbe(pr);
    const request: HeartbeatRequest = {
      type: 'heartbeat', from: state.id, to: peer, term: state.term, commit: Math.min(pr.match, state.commit), context,
    };
    sendAsLeader(state, request);
  }
}

function becomeProbe(pr: Progress): void {
  pr.state = 'probe';
  pr.next = pr.match + 1;
  pr.probeSent = false;
  pr.inflight = [];
  pr.pendingSnapshot = 0;
}

function becomeReplicate(pr: Progress): void {
  pr.state = 'replicate';
  pr.next = pr.match + 1;
  pr.probeSent = false;
  pr.inflight = [];
  pr.pendingSnapshot = 0;
}

/** Commits the highest index a quorum of voters holds, if it is of the leader's term (§5.4.2: an older-term
 * entry is committed only indirectly, by a current-term entry after it). The leader counts its own log only as
 * far as it is durable. */
function maybeCommit(state: RaftState): boolean {
  const voters = state.membership.voters;
  if (voters.length === 0) return false;
  // Insertion sort, descending, into a reused scratch array: this runs on every acknowledgement.
  const matches = matchScratch;
  matches.length = 0;
  for (const voter of voters) {
    const match = voter === state.id ? state.durableIndex : (state.progress[voter]?.match ?? 0);
    let i = matches.length;
    matches.push(match);
    while (i > 0 && matches[i - 1]! < match) {
      matches[i] = matches[i - 1]!;
      i--;
    }
    matches[i] = match;
  }
  const candidate = matches[quorumSize(voters.length) - 1]!;
  if (candidate <= state.commit || logTerm(state, candidate) !== state.term) return false;
  commitTo(state, candidate);
  return true;
}

// ------------------------------------------------------------------------------------ leader: receiving

function onAppendResponse(state: RaftState, m: AppendResponse): void {
  const pr = state.progress[m.from];
  if (pr === undefined) return;
  pr.recentActive = true;
  if (m.reject) {
    if (pr.state === 'replicate') {
      if (m.index <= pr.match) return;
      becomeProbe(pr);
    } else if (pr.state === 'snapshot' || m.index !== pr.next - 1) {
      return;
    }
    // Skip every index the follower's hint rules out: the last one our log could share with it.
    const hinted = m.hintIndex < state.log.snapshotIndex ? m.hintIndex : lastIndexWithTermAtMost(state, m.hintIndex, m.hintTerm);
    pr.next = Math.max(Math.min(m.index, hinted + 1), pr.match + 1);
    pr.probeSent = false;
    sendAppend(state, m.from, true);
    return;
  }
  if (m.index > pr.match || (m.index === pr.match && pr.state === 'probe')) {
    if (m.index > lastLogIndex(state)) fail(`${state.id}: ${m.from} acknowledged index ${m.index} beyond the leader's log`);
    pr.match = m.index;
    if (pr.next <= m.index) pr.next = m.index + 1;
    if (pr.state === 'probe') becomeReplicate(pr);
    else if (pr.state === 'snapshot') {
      if (pr.match >= pr.pendingSnapshot) becomeReplicate(pr);
    } else {
      let freed = 0;
      while (freed < pr.inflight.length && pr.inflight[freed]! <= m.index) freed++;
      if (freed > 0) pr.inflight.splice(0, freed);
    }
    if (maybeCommit(state)) {
      if (state.role !== 'leader') return;
      broadcastAppend(state);
    } else {
      while (sendAppend(state, m.from, false));
    }
    if (state.leadTransferee === m.from && pr.match === lastLogIndex(state)) sendTimeoutNow(state, m.from);
    if (state.role === 'leader') maybeSayFarewell(state);
  }
}

function onHeartbeatResponse(state: RaftState, m: HeartbeatResponse): void {
  const pr = state.progress[m.from];
  if (pr === undefined) return;
  pr.recentActive = true;
  if (pr.state === 'probe') pr.probeSent = false;
  // A full window whose appends were all lost would never drain: a live peer earns one more append, which it
  // either acknowledges or rejects (sending the leader back to probing from its match).
  if (pr.state === 'replicate' && pr.inflight.length >= state.options.maxInflightMessages) pr.inflight.shift();
  if (pr.match < lastLogIndex(state)) sendAppend(state, m.from, true);
  if (m.context !== null) acknowledgeRead(state, m.from, m.context);
}

function sendTimeoutNow(state: RaftState, to: NodeId): void {
  sendAsLeader(state, { type: 'timeout-now', from: state.id, to, term: state.term });
}

// --------------------------------------------------------------------------------------------- requests

function onPropose(state: RaftState, payloads: Uint8Array[]): void {
  if (state.role !== 'leader') return reject(state, 'propose', 'not-leader', notLeaderDetail(state));
  if (state.leadTransferee !== null) return reject(state, 'propose', 'transfer-in-progress', `leadership is moving to ${state.leadTransferee}`);
  if (payloads.length === 0) return reject(state, 'propose', 'empty-proposal', 'a proposal needs at least one payload');
  let bytes = 0;
  for (const payload of payloads) {
    if (payload.length > state.options.maxEntryBytes) {
      return reject(state, 'propose', 'entry-too-large', `a payload of ${payload.length} bytes exceeds maxEntryBytes ${state.options.maxEntryBytes}`);
    }
    bytes += payload.length;
  }
  // The first proposal always fits, so a single batch larger than the limit cannot wedge the leader.
  if (state.uncommittedBytes > 0 && state.uncommittedBytes + bytes > state.options.maxUncommittedBytes) {
    return reject(state, 'propose', 'uncommitted-limit', `${state.uncommittedBytes} uncommitted bytes + ${bytes} would exceed maxUncommittedBytes ${state.options.maxUncommittedBytes}`);
  }
  const first = lastLogIndex(state) + 1;
  const entries: Entry[] = new Array<Entry>(payloads.length);
  for (let i = 0; i < payloads.length; i++) entries[i] = { index: first + i, term: state.term, kind: 'normal', data: payloads[i]!, conf: null };
  appendToLog(state, entries);
  state.uncommittedBytes += bytes;
  outProposed = { firstIndex: first, lastIndex: first + entries.length - 1, term: state.term };
  broadcastAppend(state);
}

function onProposeConf(state: RaftState, change: ConfChange): void {
  if (state.role !== 'leader') return reject(state, 'propose-conf', 'not-leader', notLeaderDetail(state));
  if (state.leadTransferee !== null) return reject(state, 'propose-conf', 'transfer-in-progress', `leadership is moving to ${state.leadTransferee}`);
  // Ongaro's fix for single-server changes: a new leader must commit an entry of its own term first, or a
  // change it proposes can overlap with an uncommitted change of a previous leader and split the quorum.
  if (state.commit < state.leaderStartIndex) {
    return reject(state, 'propose-conf', 'leader-not-ready', 'the leader has not yet committed an entry of its term');
  }
  if (state.membershipIndex > state.commit) {
    return reject(state, 'propose-conf', 'conf-change-pending', `the change at index ${state.membershipIndex} is not committed yet`);
  }
  const problem = confChangeProblem(state.membership, change);
  if (problem !== null) return reject(state, 'propose-conf', 'invalid-conf-change', problem);
  const index = lastLogIndex(state) + 1;
  appendToLog(state, [{ index, term: state.term, kind: 'conf', data: EMPTY_BYTES, conf: { type: change.type, node: change.node } }]);
  outProposed = { firstIndex: index, lastIndex: index, term: state.term };
  maybeCommit(state);
  if (state.role === 'leader') broadcastAppend(state);
}

function notLeaderDetail(state: RaftState): string {
  return state.leader === null ? `${state.id} is not the leader and knows of none` : `${state.id} is not the leader; try ${state.leader}`;
}

function onTransferLeadership(state: RaftState, to: NodeId): void {
  if (state.role !== 'leader') return reject(state, 'transfer-leadership', 'not-leader', notLeaderDetail(state));
  if (to === state.id) return reject(state, 'transfer-leadership', 'invalid-transfer-target', `${to} is already the leader`);
  if (!isVoter(state, to)) return reject(state, 'transfer-leadership', 'invalid-transfer-target', `${to} is not a voter`);
  if (state.leadTransferee !== null) return reject(state, 'transfer-leadership', 'transfer-in-progress', `leadership is already moving to ${state.leadTransferee}`);
  state.leadTransferee = to;
  // The transfer gets one election timeout to finish before it is abandoned.
  state.electionElapsedMs = 0;
  if (state.progress[to]!.match === lastLogIndex(state)) sendTimeoutNow(state, to);
  else sendAppend(state, to, true);
}

function onReadIndex(state: RaftState, context: string): void {
  if (state.role === 'leader') return leaderRead(state, context, state.id);
  if (state.leader === null) return reject(state, 'read-index', 'not-leader', notLeaderDetail(state), context);
  const request: ReadIndexRequest = { type: 'read-index', from: state.id, to: state.leader, term: state.term, context };
  send(request, false);
}

function onForwardedRead(state: RaftState, m: ReadIndexRequest): void {
  if (state.role === 'leader') return leaderRead(state, m.context, m.from);
  const response: ReadIndexResponse = {
    type: 'read-index-response', from: state.id, to: m.from, term: state.term, context: m.context, index: 0, reject: 'not-leader',
  };
  send(response, false);
}

/** ReadIndex (§6.4): remember the commit index, confirm leadership with a heartbeat round, then serve. A leader
 * that has not committed in its term does not know the true commit index yet, so the read waits for that. */
function leaderRead(state: RaftState, context: string, from: NodeId): void {
  if (state.pendingReads.length + state.readsAwaitingCommit.length >= state.options.maxPendingReads) {
    refuseRead(state, context, from, 'read-limit', `${state.options.maxPendingReads} reads are already awaiting confirmation`);
    return;
  }
  if (state.commit < state.leaderStartIndex) {
    state.readsAwaitingCommit.push({ context, from });
    return;
  }
  if (state.membership.voters.length === 1 && isVoter(state, state.id)) {
    serveRead(state, context, from, state.commit);
    return;
  }
  state.pendingReads.push({ context, from, index: state.commit, acks: isVoter(state, state.id) ? [state.id] : [] });
  broadcastHeartbeat(state, context);
}

function serveRead(state: RaftState, context: string, from: NodeId, index: number): void {
  if (from === state.id) {
    pushReadState({ context, index });
    return;
  }
  const response: ReadIndexResponse = { type: 'read-index-response', from: state.id, to: from, term: state.term, context, index, reject: null };
  sendAsLeader(state, response);
}

function acknowledgeRead(state: RaftState, from: NodeId, context: string): void {
  if (!isVoter(state, from)) return;
  let position = 0;
  while (position < state.pendingReads.length && state.pendingReads[position]!.context !== context) position++;
  if (position === state.pendingReads.length) return;
  const read = state.pendingReads[position]!;
  if (!read.acks.includes(from)) read.acks.push(from);
  let confirmed = 0;
  for (const id of read.acks) if (isVoter(state, id)) confirmed++;
  if (confirmed < quorumSize(state.membership.voters.length)) return;
  // A quorum confirmed leadership after every earlier read arrived too, so those are servable as well.
  const served = state.pendingReads.splice(0, position + 1);
  for (const r of served) serveRead(state, r.context, r.from, r.index);
}

function failPendingReads(state: RaftState): void {
  const reads = [...state.readsAwaitingCommit, ...state.pendingReads];
  state.pendingReads = [];
  state.readsAwaitingCommit = [];
  for (const read of reads) refuseRead(state, read.context, read.from, 'not-leader', `${state.id} lost leadership before the read was confirmed`);
}

/** Refuses a read: locally as a rejection, or by telling the follower that forwarded it. */
function refuseRead(state: RaftState, context: string, from: NodeId, reason: RejectReason, detail: string): void {
  if (from === state.id) {
    pushRejection({ input: 'read-index', reason, leaderHint: state.leader === state.id ? null : state.leader, context, detail });
    return;
  }
  const response: ReadIndexResponse = { type: 'read-index-response', from: state.id, to: from, term: state.term, context, index: 0, reject: reason };
  send(response, false);
}

// ------------------------------------------------------------------------------------------ the driver

function onPersisted(state: RaftState, index: number, term: number): void {
  if (index <= state.durableIndex || index > lastLogIndex(state)) return;
  // A report for an entry since overwritten (different term at that index) says nothing about the current log.
  if (logTerm(state, index) !== term) return;
  state.durableIndex = index;
  if (state.role === 'leader' && maybeCommit(state) && state.role === 'leader') broadcastAppend(state);
}

function onApplied(state: RaftState, index: number): void {
  if (index > state.emittedIndex) fail(`${state.id}: applied ${index} beyond the entries handed out (${state.emittedIndex})`);
  if (index > state.appliedIndex) state.appliedIndex = index;
}

function onCompact(state: RaftState, index: number, data: Uint8Array): void {
  if (index <= state.log.snapshotIndex || index > state.appliedIndex) {
    return reject(state, 'compact', 'invalid-compaction', `compaction index ${index} must be above the snapshot (${state.log.snapshotIndex}) and at most the applied index (${state.appliedIndex})`);
  }
  const term = logTerm(state, index)!;
  const base = state.snapshot?.membership ?? EMPTY_MEMBERSHIP;
  const { membership } = replayMembership(base, state.log.snapshotIndex, state.log.entries, index);
  const snapshot: Snapshot = { index, term, membership, data };
  state.log.entries = state.log.entries.slice(index - state.log.snapshotIndex);
  state.log.snapshotIndex = index;
  state.log.snapshotTerm = term;
  state.snapshot = snapshot;
  state.unstableSnapshot = snapshot;
  state.unstableSnapshotResetsLog = false;
}
