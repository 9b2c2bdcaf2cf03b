// Checks of the peer-message codec, run against the real codec and against its mutant.
import { encode } from '@msgpack/msgpack';
import { keysRequest } from '../../../core/api/index.ts';
import type { PeerMessage } from '../../../core/replica/index.ts';

export interface PeerCodec {
  encodePeerMessage(m: PeerMessage): Uint8Array;
  decodePeerMessage(b: Uint8Array): PeerMessage;
}

export const validMessages: PeerMessage[] = [
  {
    type: 'raft',
    from: 'a',
    to: 'b',
    message: {
      type: 'append', from: 'a', to: 'b', term: 3, prevIndex: 4, prevTerm: 2, commit: 4,
      entries: [{ index: 5, term: 3, kind: 'normal', data: new Uint8Array([1, 2, 3]), conf: null }],
    },
  },
  { type: 'forward', from: 'b', to: 'a', command: { origin: 'b', requestId: 7, floor: 5, op: { kind: 'kv', request: keysRequest('PUT', '/x', { value: 'v', ttlSeconds: 3, prevExist: true }) } } },
  // A client may send any uint64 prevIndex and any TTL; past 2^53 and past Go's Duration range they arrive as a
  // rounded index and a wrapped (negative, fractional) TTL, and a follower must still be able to forward them.
  { type: 'forward', from: 'b', to: 'a', command: { origin: 'b', requestId: 10, floor: 5, op: { kind: 'kv', request: keysRequest('PUT', '/x', { prevIndex: 18446744073709551615, ttlSeconds: -9223372036.709553 }) } } },
  { type: 'forward', from: 'b', to: 'a', command: { origin: 'b', requestId: 8, floor: 8, op: { kind: 'member-add', member: { id: 'd', name: 'n', peerURLs: ['http://127.0.0.1:1'], clientURLs: [] } } } },
  { type: 'forward', from: 'b', to: 'a', command: { origin: 'b', requestId: 9, floor: 8, op: { kind: 'member-remove', memberId: 'd' } } },
  { type: 'forward-refused', from: 'a', to: 'b', requestId: 7, reason: 'not-leader', leaderHint: 'c' },
  { type: 'forward-refused', from: 'a', to: 'b', requestId: 7, reason: 'entry-too-large', leaderHint: null },
];

/** Messages a codec must refuse, with the error it must give. */
export const invalidMessages: Array<{ name: string; bytes: Uint8Array; error: RegExp }> = [
  { name: 'not msgpack', bytes: new Uint8Array([0xc1]), error: /^codec: peer: not valid msgpack/ },
  { name: 'unknown type', bytes: encode({ type: 'gossip', from: 'a', to: 'b' }), error: /^codec: peer\.type: expected one of raft\|forward\|forward-refused, got string "gossip"$/ },
  {
    name: 'bad method',
    bytes: encode({ ...validMessages[1], command: { origin: 'b', requestId: 7, floor: 5, op: { kind: 'kv', request: { ...keysRequest('PUT', '/x'), method: 'PATCH' } } } }),
    error: /^codec: peer\.command\.op\.request\.method: expected one of GET\|HEAD\|PUT\|POST\|DELETE, got string "PATCH"$/,
  },
  {
    name: 'bad prevIndex',
    bytes: encode({ ...validMessages[1], command: { origin: 'b', requestId: 7, floor: 5, op: { kind: 'kv', request: { ...keysRequest('PUT', '/x'), prevIndex: 'x' } } } }),
    error: /^codec: peer\.command\.op\.request\.prevIndex: expected an unsigned 64-bit integer, got string "x"$/,
  },
  { name: 'empty sender', bytes: encode({ type: 'forward-refused', from: '', to: 'b', requestId: 1, reason: 'not-leader', leaderHint: null }), error: /^codec: peer\.from: expected a node id/ },
  {
    name: 'envelope and Raft message disagree',
    bytes: encode({ type: 'raft', from: 'c', to: 'b', message: new Uint8Array(0) }),
    error: /^codec: /,
  },
];
