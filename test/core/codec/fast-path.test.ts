// decodeMessage and decodePeerMessage read what core's encoders write (keys in their shape's order) through a
// fast path (keys compared as bytes, objects built as literals) and everything else through the general
// decode-then-check path. The two must agree on every input: the same message (same key order, so it re-encodes
// to the same bytes) or the same CodecError. The reference here is a copy of the code with the fast paths cut
// out; mutants show a wrong fast path caught.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as codec from '../../../core/codec/index.ts';
import * as replica from '../../../core/replica/index.ts';
import { materialize, withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { message } from './arbitraries.ts';

type Codec = typeof codec;
type Replica = typeof replica;

const FILE = 'core/codec/index.ts';
const PEER_FILE = 'core/replica/codec.ts';
const withoutFastPath: Mutant = {
  name: 'codec-general-path-only',
  description: 'messages and peer envelopes are always decoded by the general path (the reference for the fast ones)',
  edits: [
    { file: FILE, find: '(b instanceof Uint8Array ? readShaped(b, readMessage) : undefined) ??', replace: '' },
    { file: PEER_FILE, find: 'const envelope = bytes instanceof Uint8Array ? readShaped(bytes, readRaftEnvelope) : undefined;', replace: 'const envelope = undefined as ReturnType<typeof readRaftEnvelope> | undefined;' },
  ],
};

function outcome(f: () => unknown): unknown {
  try {
    const m = f();
    return { keys: JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)) };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** The fast and general paths agree on random messages, each damaged in one byte or cut short too. */
function pathsAgree(fast: Codec, general: Codec): boolean {
  const result = fc.check(
    fc.property(message, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('whole', 'flip', 'cut'), (m, at, byte, how) => {
      const bytes = damaged(codec.encodeMessage(m), at, byte, how);
      expect(outcome(() => fast.decodeMessage(bytes))).toEqual(outcome(() => general.decodeMessage(bytes)));
    }),
    { numRuns: 1500, seed: 11 },
  );
  return !result.failed;
}

/** The same for peer messages carrying Raft messages. */
function peerPathsAgree(fast: Replica, general: Replica): boolean {
  const result = fc.check(
    fc.property(message, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('whole', 'flip', 'cut'), (m, at, byte, how) => {
      const bytes = damaged(replica.encodePeerMessage({ type: 'raft', from: m.from, to: m.to, message: m }), at, byte, how);
      expect(outcome(() => fast.decodePeerMessage(bytes))).toEqual(outcome(() => general.decodePeerMessage(bytes)));
    }),
    { numRuns: 1500, seed: 12 },
  );
  return !result.failed;
}

function damaged(encoded: Uint8Array, at: number, byte: number, how: 'whole' | 'flip' | 'cut'): Uint8Array {
  const bytes = encoded.slice();
  if (how === 'flip') bytes[at % bytes.length] = byte;
  return how === 'cut' ? bytes.subarray(0, at % bytes.length) : bytes;
}

describe('the fast path of decodeMessage', () => {
  it('agrees with the general path on random messages and peer messages, damaged or not', async () => {
    const reference = materialize(withoutFastPath);
    try {
      expect(pathsAgree(codec, await reference.import<Codec>(FILE))).toBe(true);
      expect(peerPathsAgree(replica, await reference.import<Replica>('core/replica/index.ts'))).toBe(true);
    } finally {
      reference.remove();
    }
  });

  it('catches fast paths that build a message wrong', async () => {
    const reference = materialize(withoutFastPath);
    try {
      const general = await reference.import<Codec>(FILE);
      const wrongBuild: Mutant = {
        name: 'codec-fast-path-swaps-fields',
        description: "the fast path puts a read-index response's term where its index goes",
        edits: [{ file: FILE, find: 'context: v[3], index: v[4], reject: v[5] })', replace: 'context: v[3], index: v[2], reject: v[5] })' }],
      };
      const agreed = await withMutant<Codec, boolean>(wrongBuild, FILE, (fast) => pathsAgree(fast, general));
      expect(agreed).toBe(false);
      const generalPeer = await reference.import<Replica>('core/replica/index.ts');
      const lostEnvelope: Mutant = {
        name: 'codec-fast-envelope-swaps-ends',
        description: "the peer envelope's fast path hands back the Raft message with its ends swapped",
        edits: [{ file: PEER_FILE, find: 'if (envelope !== undefined) return raftMessage(envelope.from, envelope.to, envelope.message);', replace: 'if (envelope !== undefined) return { ...raftMessage(envelope.from, envelope.to, envelope.message), from: envelope.to, to: envelope.from };' }],
      };
      const peerAgreed = await withMutant<Replica, boolean>(lostEnvelope, 'core/replica/index.ts', (fast) => peerPathsAgree(fast, generalPeer));
      expect(peerAgreed).toBe(false);
    } finally {
      reference.remove();
    }
  });
});
