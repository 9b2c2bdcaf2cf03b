// msgpack encoding of the Raft core's data: messages, entries, snapshots, persisted state and whole node
// states. Decoding checks the shape of everything, so truncated or corrupt bytes become one clear
// CodecError ("codec: message.entries[2].term: expected a non-negative integer, got string") and never a
// half-built object or a crash further in.
import { decode, encode } from './msgpack.ts';
import type { Entry, HardState, Membership, Message, PersistedState, RaftInput, RaftState, Snapshot } from '../raft/types.ts';

export class CodecError extends Error {
  override name = 'CodecError';
}

type Check = (value: unknown, path: string) => void;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function bad(path: string, expected: string, value: unknown): never {
  throw new CodecError(`codec: ${path}: expected ${expected}, got ${describe(value)}`);
}

const natural: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(p, 'a non-negative integer', v);
};
const integer: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(p, 'an integer', v);
};
const finite: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(p, 'a finite number', v);
};
const text: Check = (v, p) => {
  if (typeof v !== 'string') bad(p, 'a string', v);
};
const nodeId: Check = (v, p) => {
  if (typeof v !== 'string' || v.length === 0) bad(p, 'a node id (non-empty string)', v);
};
const flag: Check = (v, p) => {
  if (typeof v !== 'boolean') bad(p, 'a boolean', v);
};
const bytes: Check = (v, p) => {
  if (!(v instanceof Uint8Array)) bad(p, 'bytes', v);
};
const nullable =
  (check: Check): Check =>
  (v, p) => {
    if (v !== null) check(v, p);
  };
const oneOf =
  (...values: string[]): Check =>
  (v, p) => {
    if (typeof v !== 'string' || !values.includes(v)) bad(p, `one of ${values.join('|')}`, v);
  };
const listOf =
  (check: Check): Check =>
  (v, p) => {
    if (!Array.isArray(v)) bad(p, 'an array', v);
    v.forEach((item, i) => check(item, `${p}[${i}]`));
  };
const recordOf =
  (check: Check): Check =>
  (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(p, 'an object', v);
    for (const [key, item] of Object.entries(v)) check(item, `${p}.${key}`);
  };
/** Exactly these fields, no more (so a decoded value re-encodes to the same bytes). */
const shape =
  (fields: Record<string, Check>): Check =>
  (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(p, 'an object', v);
    const record = v as Record<string, unknown>;
    for (const [key, check] of Object.entries(fields)) {
      if (!(key in record)) throw new CodecError(`codec: ${p}: missing field ${key}`);
      check(record[key], `${p}.${key}`);
    }
    for (const key of Object.keys(record)) if (!(key in fields)) throw new CodecError(`codec: ${p}: unexpected field ${key}`);
  };

const confChange = shape({ type: oneOf('add-voter', 'add-learner', 'promote', 'remove'), node: nodeId });
const entry: Check = (v, p) => {
  shape({ index: natural, term: natural, kind: oneOf('normal', 'noop', 'conf'), data: bytes, conf: nullable(confChange) })(v, p);
  const e = v as Entry;
  if ((e.kind === 'conf') !== (e.conf !== null)) throw new CodecError(`codec: ${p}: conf must be set exactly for kind conf`);
};
const membership = shape({ voters: listOf(nodeId), learners: listOf(nodeId) });
const snapshot = shape({ index: natural, term: natural, membership, data: bytes });
const hardState = shape({ term: natural, vote: nullable(nodeId), commit: natural });
const persistedState = shape({ hardState, snapshot: nullable(snapshot), entries: listOf(entry) });

const base = { from: nodeId, to: nodeId, term: natural };
const rejectReason = oneOf(
  'not-leader',
  'uncommitted-limit',
  'entry-too-large',
  'empty-proposal',
  'conf-change-pending',
  'leader-not-ready',
  'invalid-conf-change',
  'transfer-in-progress',
  'invalid-transfer-target',
  'invalid-compaction',
  'read-limit',
);
const messageShapes: Record<Message['type'], Check> = {
  vote: shape({ type: text, ...base, preVote: flag, transfer: flag, lastIndex: natural, lastTerm: natural }),
  'vote-response': shape({ type: text, ...base, preVote: flag, granted: flag }),
  append: shape({ type: text, ...base, prevIndex: natural, prevTerm: natural, entries: listOf(entry), commit: natural }),
  'append-response': shape({ type: text, ...base, reject: flag, index: natural, hintIndex: natural, hintTerm: natural }),
  heartbeat: shape({ type: text, ...base, commit: natural, context: nullable(text) }),
  'heartbeat-response': shape({ type: text, ...base, context: nullable(text) }),
  snapshot: shape({ type: text, ...base, snapshot }),
  'timeout-now': shape({ type: text, ...base }),
  'read-index': shape({ type: text, ...base, context: text }),
  'read-index-response': shape({ type: text, ...base, context: text, index: natural, reject: nullable(rejectReason) }),
};
const message: Check = (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(p, 'an object', v);
  const type = (v as { type?: unknown }).type;
  const check = typeof type === 'string' && Object.hasOwn(messageShapes, type) ? messageShapes[type as Message['type']] : undefined;
  if (check === undefined) bad(`${p}.type`, 'a message type', type);
  check(v, p);
};

const inputShapes: Record<RaftInput['type'], Check> = {
  tick: shape({ type: text, now: finite }),
  message: shape({ type: text, message }),
  propose: shape({ type: text, payloads: listOf(bytes) }),
  'propose-conf': shape({ type: text, change: confChange }),
  'read-index': shape({ type: text, context: text }),
  'transfer-leadership': shape({ type: text, to: nodeId }),
  campaign: shape({ type: text }),
  persisted: shape({ type: text, index: natural, term: natural }),
  applied: shape({ type: text, index: natural }),
  compact: shape({ type: text, index: natural, data: bytes }),
};
const input: Check = (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(p, 'an object', v);
  const type = (v as { type?: unknown }).type;
  const check = typeof type === 'string' && Object.hasOwn(inputShapes, type) ? inputShapes[type as RaftInput['type']] : undefined;
  if (check === undefined) bad(`${p}.type`, 'an input type', type);
  check(v, p);
};

const progress = shape({
  match: natural,
  next: natural,
  state: oneOf('probe', 'replicate', 'snapshot'),
  probeSent: flag,
  inflight: listOf(natural),
  pendingSnapshot: natural,
  snapshotWaitRounds: natural,
  recentActive: flag,
});
const options = shape({
  id: nodeId,
  seed: integer,
  electionTimeoutMs: natural,
  heartbeatIntervalMs: natural,
  maxEntriesPerMessage: natural,
  maxBytesPerMessage: natural,
  maxEntryBytes: natural,
  maxInflightMessages: natural,
  maxUncommittedBytes: natural,
  maxPendingReads: natural,
  preVote: flag,
  checkQuorum: flag,
});
const raftState = shape({
  options,
  id: nodeId,
  term: natural,
  vote: nullable(nodeId),
  commit: natural,
  role: oneOf('follower', 'pre-candidate', 'candidate', 'leader'),
  leader: nullable(nodeId),
  log: shape({ entries: listOf(entry), snapshotIndex: natural, snapshotTerm: natural }),
  snapshot: nullable(snapshot),
  durableIndex: natural,
  emittedIndex: natural,
  appliedIndex: natural,
  membership,
  membershipIndex: natural,
  votes: recordOf(flag),
  progress: recordOf(progress),
  peers: listOf(nodeId),
  clockMs: nullable(finite),
  electionElapsedMs: finite,
  heartbeatElapsedMs: finite,
  randomizedElectionTimeoutMs: natural,
  rng: natural,
  leadTransferee: nullable(nodeId),
  leaderStartIndex: natural,
  pendingReads: listOf(shape({ context: text, from: nodeId, index: natural, acks: listOf(nodeId) })),
  readsAwaitingCommit: listOf(shape({ context: text, from: nodeId })),
  uncommittedBytes: natural,
  unstableFrom: natural,
  hardStateChanged: flag,
  termOrVoteChanged: flag,
  unstableSnapshot: nullable(snapshot),
  unstableSnapshotResetsLog: flag,
});

function decodeChecked<T>(bytesIn: Uint8Array, check: Check, what: string): T {
  if (!(bytesIn instanceof Uint8Array)) throw new CodecError(`codec: ${what}: expected bytes to decode, got ${describe(bytesIn)}`);
  if (bytesIn.length === 0) throw new CodecError(`codec: ${what}: no bytes to decode`);
  let value: unknown;
  try {
    value = decode(bytesIn);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CodecError(`codec: ${what}: not valid msgpack (${reason.split('\n')[0]})`);
  }
  check(value, what);
  return value as T;
}

function encodeValue(value: unknown): Uint8Array {
  return encode(value);
}

export const encodeMessage = (m: Message): Uint8Array => encodeValue(m);
export const decodeMessage = (b: Uint8Array): Message => decodeChecked<Message>(b, message, 'message');
export const encodeEntry = (e: Entry): Uint8Array => encodeValue(e);
export const decodeEntry = (b: Uint8Array): Entry => decodeChecked<Entry>(b, entry, 'entry');
export const encodeEntries = (e: Entry[]): Uint8Array => encodeValue(e);
export const decodeEntries = (b: Uint8Array): Entry[] => decodeChecked<Entry[]>(b, listOf(entry), 'entries');
export const encodeSnapshot = (s: Snapshot): Uint8Array => encodeValue(s);
export const decodeSnapshot = (b: Uint8Array): Snapshot => decodeChecked<Snapshot>(b, snapshot, 'snapshot');
export const encodeHardState = (h: HardState): Uint8Array => encodeValue(h);
export const decodeHardState = (b: Uint8Array): HardState => decodeChecked<HardState>(b, hardState, 'hardState');
export const encodeMembership = (m: Membership): Uint8Array => encodeValue(m);
export const decodeMembership = (b: Uint8Array): Membership => decodeChecked<Membership>(b, membership, 'membership');
export const encodePersistedState = (p: PersistedState): Uint8Array => encodeValue(p);
export const decodePersistedState = (b: Uint8Array): PersistedState => decodeChecked<PersistedState>(b, persistedState, 'persistedState');
/** One input to `step`, for traces that record and replay a node. */
export const encodeInput = (i: RaftInput): Uint8Array => encodeValue(i);
export const decodeInput = (b: Uint8Array): RaftInput => decodeChecked<RaftInput>(b, input, 'input');
/** A whole node, for trace checkpoints and forks. */
export const encodeRaftState = (s: RaftState): Uint8Array => encodeValue(s);
export const decodeRaftState = (b: Uint8Array): RaftState => decodeChecked<RaftState>(b, raftState, 'raftState');
