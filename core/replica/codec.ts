// Peer messages as bytes for the real network. Decoding checks every field, so a corrupt or hostile frame
// becomes one CodecError line ("codec: peer.command.op.request.prevIndex: expected an unsigned 64-bit integer, got
// string \"x\"") for the transport to log and drop, never a half-built object reaching `stepReplica`.
import { decode, encode, encodeEnvelope, expectKey, keyBytes, notShaped, readAny, readMapSize, readShaped } from '../codec/msgpack.ts';
import { bad, CodecError, decodeMessage } from '../codec/index.ts';
import type { RejectReason } from '../raft/types.ts';
import type { ForwardedCommand, MemberInfo, PeerMessage } from './types.ts';

type Fields = Record<string, unknown>;

function object(v: unknown, path: string, keys: string[]): Fields {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(path, 'an object', v);
  for (const key of Object.keys(v)) if (!keys.includes(key)) throw new CodecError(`codec: ${path}: unexpected field ${key}`);
  return v as Fields;
}

function str(o: Fields, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') bad(`${path}.${key}`, 'a string', v);
  return v;
}

function id(o: Fields, key: string, path: string): string {
  const v = str(o, key, path);
  if (v.length === 0) bad(`${path}.${key}`, 'a node id (non-empty string)', v);
  return v;
}

function natural(o: Fields, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${path}.${key}`, 'a non-negative integer', v);
  return v;
}

/** A client's uint64 (prevIndex, waitIndex): values past 2^53 arrive rounded but must still be forwarded. */
function uint64(o: Fields, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 64) bad(`${path}.${key}`, 'an unsigned 64-bit integer', v);
  return v;
}

/** A TTL in seconds as etcd's int64 arithmetic leaves it (core/api): wrapped TTLs are negative or fractional. */
function finite(o: Fields, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(`${path}.${key}`, 'a finite number', v);
  return v;
}

function bool(o: Fields, key: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') bad(`${path}.${key}`, 'a boolean', v);
  return v;
}

function oneOf<T extends string>(o: Fields, key: string, path: string, values: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) bad(`${path}.${key}`, `one of ${values.join('|')}`, v);
  return v as T;
}

function strings(o: Fields, key: string, path: string): string[] {
  const v = o[key];
  if (!Array.isArray(v)) bad(`${path}.${key}`, 'an array', v);
  v.forEach((item, i) => {
    if (typeof item !== 'string') bad(`${path}.${key}[${i}]`, 'a string', item);
  });
  return v as string[];
}

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'] as const;
const REJECT_REASONS: readonly RejectReason[] = [
  'not-leader', 'uncommitted-limit', 'entry-too-large', 'empty-proposal', 'conf-change-pending', 'leader-not-ready',
  'invalid-conf-change', 'transfer-in-progress', 'invalid-transfer-target', 'invalid-compaction',
];
const REQUEST_FIELDS = [
  'method', 'path', 'value', 'dir', 'prevValue', 'prevIndex', 'prevExist', 'ttlSeconds', 'refresh', 'wait', 'waitIndex',
  'recursive', 'sorted', 'quorum', 'stream', 'noValueOnSuccess',
];

function checkMember(v: unknown, path: string): MemberInfo {
  const o = object(v, path, ['id', 'name', 'peerURLs', 'clientURLs']);
  return { id: id(o, 'id', path), name: str(o, 'name', path), peerURLs: strings(o, 'peerURLs', path), clientURLs: strings(o, 'clientURLs', path) };
}

function checkCommand(v: unknown, path: string): ForwardedCommand {
  const o = object(v, path, ['origin', 'requestId', 'floor', 'op']);
  const opPath = `${path}.op`;
  const op = object(o.op, opPath, ['kind', 'request', 'member', 'memberId']);
  const kind = oneOf(op, 'kind', opPath, ['kv', 'member-add', 'member-remove'] as const);
  let checked: ForwardedCommand['op'];
  if (kind === 'kv') {
    const rPath = `${opPath}.request`;
    const r = object(op.request, rPath, REQUEST_FIELDS);
    for (const key of ['dir', 'refresh', 'wait', 'recursive', 'sorted', 'quorum', 'stream', 'noValueOnSuccess']) bool(r, key, rPath);
    for (const key of ['path', 'value', 'prevValue']) str(r, key, rPath);
    for (const key of ['prevIndex', 'waitIndex']) uint64(r, key, rPath);
    oneOf(r, 'method', rPath, METHODS);
    if (r.prevExist !== null) bool(r, 'prevExist', rPath);
    if (r.ttlSeconds !== null) finite(r, 'ttlSeconds', rPath);
    checked = { kind, request: r as unknown as Extract<ForwardedCommand['op'], { kind: 'kv' }>['request'] };
  } else if (kind === 'member-add') {
    checked = { kind, member: checkMember(op.member, `${opPath}.member`) };
  } else {
    checked = { kind, memberId: id(op, 'memberId', opPath) };
  }
  return { origin: id(o, 'origin', path), requestId: natural(o, 'requestId', path), floor: natural(o, 'floor', path), op: checked };
}

/** A peer message as bytes; the Raft message inside goes through core/codec. */
export function encodePeerMessage(message: PeerMessage): Uint8Array {
  if (message.type === 'raft') return encodeEnvelope(message as unknown as Record<string, unknown>, 'message');
  return encode(message);
}

const RAFT_KEYS = { type: keyBytes('type'), from: keyBytes('from'), to: keyBytes('to'), message: keyBytes('message') };

/** The envelope of a Raft message as encodePeerMessage writes it (keys in this order); the general path below
 * decides about anything else. */
function readRaftEnvelope(): { from: string; to: string; message: Uint8Array } {
  if (readMapSize() !== 4) notShaped();
  expectKey(RAFT_KEYS.type);
  if (readAny() !== 'raft') notShaped();
  expectKey(RAFT_KEYS.from);
  const from = readAny();
  expectKey(RAFT_KEYS.to);
  const to = readAny();
  expectKey(RAFT_KEYS.message);
  const message = readAny();
  if (typeof from !== 'string' || from.length === 0 || typeof to !== 'string' || to.length === 0 || !(message instanceof Uint8Array)) notShaped();
  return { from, to, message };
}

function raftMessage(from: string, to: string, bytes: Uint8Array): PeerMessage {
  const message = decodeMessage(bytes);
  if (message.from !== from || message.to !== to) throw new CodecError(`codec: peer: the Raft message goes ${message.from} -> ${message.to}, the envelope ${from} -> ${to}`);
  return { type: 'raft', from, to, message };
}

/** The inverse of `encodePeerMessage`; throws a one-line CodecError for anything else. */
export function decodePeerMessage(bytes: Uint8Array): PeerMessage {
  const envelope = bytes instanceof Uint8Array ? readShaped(bytes, readRaftEnvelope) : undefined;
  if (envelope !== undefined) return raftMessage(envelope.from, envelope.to, envelope.message);
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (error) {
    throw new CodecError(`codec: peer: not valid msgpack (${String((error as Error).message).split('\n')[0]})`);
  }
  const path = 'peer';
  const o = object(raw, path, ['type', 'from', 'to', 'message', 'command', 'requestId', 'reason', 'leaderHint']);
  const type = oneOf(o, 'type', path, ['raft', 'forward', 'forward-refused'] as const);
  const from = id(o, 'from', path);
  const to = id(o, 'to', path);
  switch (type) {
    case 'raft':
      if (!(o.message instanceof Uint8Array)) bad(`${path}.message`, 'bytes', o.message);
      return raftMessage(from, to, o.message);
    case 'forward':
      return { type, from, to, command: checkCommand(o.command, `${path}.command`) };
    case 'forward-refused': {
      const leaderHint = o.leaderHint === null ? null : id(o, 'leaderHint', path);
      return { type, from, to, requestId: natural(o, 'requestId', path), reason: oneOf(o, 'reason', path, REJECT_REASONS), leaderHint };
    }
  }
}
