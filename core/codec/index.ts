// msgpack encoding of the Raft core's data: messages, entries, snapshots, persisted state and whole node
// states. Decoding checks the shape of everything, so truncated or corrupt bytes become one clear
// CodecError ("codec: message.entries[2].term: expected a non-negative integer, got string") and never a
// half-built object or a crash further in.
import { decode, encode, expectKey, keyBytes, notShaped, readAny, readArraySize, readMapSize, readShaped } from './msgpack.ts';
import type { Entry, HardState, Membership, Message, PersistedState, RaftInput, RaftState, Snapshot } from '../raft/types.ts';

export class CodecError extends Error {
  override name = 'CodecError';
}

/**
 * A check explains what is wrong with a value (`check(value, path)` throws a CodecError naming the path) and has a
 * fast `ok(value)` test for the common case: decoding tests `ok` first, and builds paths and messages only for a
 * value that fails it.
 */
type Check = ((value: unknown, path: string) => void) & { ok: (value: unknown) => boolean };

function check(ok: (value: unknown) => boolean, explain: (value: unknown, path: string) => void): Check {
  return Object.assign(explain, { ok });
}

/** A check of one value on its own: its explanation is `expected` when `ok` fails. */
function leaf(expected: string, ok: (value: unknown) => boolean): Check {
  return check(ok, (v, p) => {
    if (!ok(v)) bad(p, expected, v);
  });
}

/** How a codec error names a value it did not expect: short, and never the whole of a large value. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** Throws the CodecError for a value at `path` that is not what was `expected`. */
export function bad(path: string, expected: string, value: unknown): never {
  throw new CodecError(`codec: ${path}: expected ${expected}, got ${describeValue(value)}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const natural = leaf('a non-negative integer', (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
const integer = leaf('an integer', (v) => typeof v === 'number' && Number.isSafeInteger(v));
const finite = leaf('a finite number', (v) => typeof v === 'number' && Number.isFinite(v));
const text = leaf('a string', (v) => typeof v === 'string');
const nodeId = leaf('a node id (non-empty string)', (v) => typeof v === 'string' && v.length > 0);
const flag = leaf('a boolean', (v) => typeof v === 'boolean');
const bytes = leaf('bytes', (v) => v instanceof Uint8Array);
const nullable = (inner: Check): Check =>
  check(
    (v) => v === null || inner.ok(v),
    (v, p) => {
      if (v !== null) inner(v, p);
    },
  );
const oneOf = (...values: string[]): Check => leaf(`one of ${values.join('|')}`, (v) => typeof v === 'string' && values.includes(v));
const listOf = (item: Check): Check =>
  check(
    (v) => {
      if (!Array.isArray(v)) return false;
      for (let i = 0; i < v.length; i++) if (!item.ok(v[i])) return false;
      return true;
    },
    (v, p) => {
      if (!Array.isArray(v)) bad(p, 'an array', v);
      v.forEach((x, i) => item(x, `${p}[${i}]`));
    },
  );
const recordOf = (item: Check): Check =>
  check(
    (v) => {
      if (!isRecord(v)) return false;
      for (const key of Object.keys(v)) if (!item.ok(v[key])) return false;
      return true;
    },
    (v, p) => {
      if (!isRecord(v)) bad(p, 'an object', v);
      for (const [key, x] of Object.entries(v)) item(x, `${p}.${key}`);
    },
  );
/** Exactly these fields, no more (so a decoded value re-encodes to the same bytes). */
const shape = (fields: Record<string, Check>): Check => {
  const keys = Object.keys(fields);
  const checks = keys.map((key) => fields[key]!);
  return check(
    (v) => {
      if (!isRecord(v)) return false;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if (!(key in v) || !checks[i]!.ok(v[key])) return false;
      }
      for (const key in v) if (!(key in fields) && Object.hasOwn(v, key)) return false;
      return true;
    },
    (v, p) => {
      if (!isRecord(v)) bad(p, 'an object', v);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if (!(key in v)) throw new CodecError(`codec: ${p}: missing field ${key}`);
        checks[i]!(v[key], `${p}.${key}`);
      }
      for (const key of Object.keys(v)) if (!(key in fields)) throw new CodecError(`codec: ${p}: unexpected field ${key}`);
    },
  );
};

const confChange = shape({ type: oneOf('add-voter', 'add-learner', 'promote', 'remove'), node: nodeId });
const entryFields = shape({ index: natural, term: natural, kind: oneOf('normal', 'noop', 'conf'), data: bytes, conf: nullable(confChange) });
const confMatchesKind = (e: Entry): boolean => (e.kind === 'conf') === (e.conf !== null);
const entry = check(
  (v) => entryFields.ok(v) && confMatchesKind(v as Entry),
  (v, p) => {
    entryFields(v, p);
    if (!confMatchesKind(v as Entry)) throw new CodecError(`codec: ${p}: conf must be set exactly for kind conf`);
  },
);
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
/** A check of `{ type, ... }` values by the shape their type names. */
function byType(shapes: Record<string, Check>, what: string): Check {
  const shapeOf = (v: unknown): Check | undefined => {
    const type = (v as { type?: unknown }).type;
    return typeof type === 'string' && Object.hasOwn(shapes, type) ? shapes[type] : undefined;
  };
  return check(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && shapeOf(v)?.ok(v) === true,
    (v, p) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(p, 'an object', v);
      const shapeCheck = shapeOf(v);
      if (shapeCheck === undefined) bad(`${p}.type`, what, (v as { type?: unknown }).type);
      shapeCheck(v, p);
    },
  );
}
const message = byType(messageShapes, 'a message type');

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
const input = byType(inputShapes, 'an input type');

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

// ---------------------------------------------------------------------------------- the messages' fast path
// Messages are decoded at every delivery. Encoded from core's own objects, their keys come in the order of the
// shapes above, so they are read against those shapes: keys compared as bytes, each value checked with the same
// `ok` test, each object built as a literal. Anything else (another key order, a bad value, damaged bytes)
// goes the general way, decodeChecked, which decides; a value read here is exactly the one it would return.

const K = {
  type: keyBytes('type'),
  index: keyBytes('index'),
  term: keyBytes('term'),
  kind: keyBytes('kind'),
  data: keyBytes('data'),
  conf: keyBytes('conf'),
};

function readEntry(): Entry {
  if (readMapSize() !== 5) notShaped();
  expectKey(K.index);
  const index = readAny() as number;
  expectKey(K.term);
  const term = readAny() as number;
  expectKey(K.kind);
  const kind = readAny() as Entry['kind'];
  expectKey(K.data);
  const data = readAny() as Uint8Array;
  expectKey(K.conf);
  const conf = readAny() as Entry['conf'];
  const e: Entry = { index, term, kind, data, conf };
  if (!entry.ok(e)) notShaped();
  return e;
}

function readEntries(): Entry[] {
  const n = readArraySize();
  const entries = new Array<Entry>(n);
  for (let i = 0; i < n; i++) entries[i] = readEntry();
  return entries;
}

interface MessageSchema {
  /** The keys after `type`, in shape order, as bytes. */
  keys: Uint8Array[];
  checks: Check[];
  /** Where `entries` is among the keys (read with the entries' own fast path), or -1. */
  entriesAt: number;
  build: (type: string, v: unknown[]) => Message;
}

function messageSchema(fields: Record<string, Check>, build: MessageSchema['build']): MessageSchema {
  const names = Object.keys(fields).filter((k) => k !== 'type');
  return { keys: names.map(keyBytes), checks: names.map((k) => fields[k]!), entriesAt: names.indexOf('entries'), build };
}

// v[i] is the value of the i-th key after `type`, in the order of messageShapes.
const messageSchemas: Record<Message['type'], MessageSchema> = {
  vote: messageSchema({ ...base, preVote: flag, transfer: flag, lastIndex: natural, lastTerm: natural }, (type, v) =>
    ({ type, from: v[0], to: v[1], term: v[2], preVote: v[3], transfer: v[4], lastIndex: v[5], lastTerm: v[6] }) as Message),
  'vote-response': messageSchema({ ...base, preVote: flag, granted: flag }, (type, v) => ({ type, from: v[0], to: v[1], term: v[2], preVote: v[3], granted: v[4] }) as Message),
  append: messageSchema({ ...base, prevIndex: natural, prevTerm: natural, entries: listOf(entry), commit: natural }, (type, v) =>
    ({ type, from: v[0], to: v[1], term: v[2], prevIndex: v[3], prevTerm: v[4], entries: v[5], commit: v[6] }) as Message),
  'append-response': messageSchema({ ...base, reject: flag, index: natural, hintIndex: natural, hintTerm: natural }, (type, v) =>
    ({ type, from: v[0], to: v[1], term: v[2], reject: v[3], index: v[4], hintIndex: v[5], hintTerm: v[6] }) as Message),
  heartbeat: messageSchema({ ...base, commit: natural, context: nullable(text) }, (type, v) => ({ type, from: v[0], to: v[1], term: v[2], commit: v[3], context: v[4] }) as Message),
  'heartbeat-response': messageSchema({ ...base, context: nullable(text) }, (type, v) => ({ type, from: v[0], to: v[1], term: v[2], context: v[3] }) as Message),
  snapshot: messageSchema({ ...base, snapshot }, (type, v) => ({ type, from: v[0], to: v[1], term: v[2], snapshot: v[3] }) as Message),
  'timeout-now': messageSchema({ ...base }, (type, v) => ({ type, from: v[0], to: v[1], term: v[2] }) as Message),
  'read-index': messageSchema({ ...base, context: text }, (type, v) => ({ type, from: v[0], to: v[1], term: v[2], context: v[3] }) as Message),
  'read-index-response': messageSchema({ ...base, context: text, index: natural, reject: nullable(rejectReason) }, (type, v) =>
    ({ type, from: v[0], to: v[1], term: v[2], context: v[3], index: v[4], reject: v[5] }) as Message),
};
function readMessage(): Message {
  const size = readMapSize();
  expectKey(K.type);
  const type = readAny();
  const schema = typeof type === 'string' && Object.hasOwn(messageSchemas, type) ? messageSchemas[type as Message['type']] : undefined;
  if (schema === undefined || size !== schema.keys.length + 1) notShaped();
  const v = new Array<unknown>(schema.keys.length);
  for (let i = 0; i < v.length; i++) {
    expectKey(schema.keys[i]!);
    v[i] = i === schema.entriesAt ? readEntries() : readAny();
    if (!schema.checks[i]!.ok(v[i])) notShaped();
  }
  return schema.build(type as string, v);
}

function decodeChecked<T>(bytesIn: Uint8Array, valid: Check, what: string): T {
  if (!(bytesIn instanceof Uint8Array)) throw new CodecError(`codec: ${what}: expected bytes to decode, got ${describeValue(bytesIn)}`);
  if (bytesIn.length === 0) throw new CodecError(`codec: ${what}: no bytes to decode`);
  let value: unknown;
  try {
    value = decode(bytesIn);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CodecError(`codec: ${what}: not valid msgpack (${reason.split('\n')[0]})`);
  }
  if (!valid.ok(value)) {
    valid(value, what);
    throw new CodecError(`codec: ${what}: does not have the expected shape`);
  }
  return value as T;
}

function encodeValue(value: unknown): Uint8Array {
  return encode(value);
}

export const encodeMessage = (m: Message): Uint8Array => encodeValue(m);
export const decodeMessage = (b: Uint8Array): Message =>
  (b instanceof Uint8Array ? readShaped(b, readMessage) : undefined) ?? decodeChecked<Message>(b, message, 'message');
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
