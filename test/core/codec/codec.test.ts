import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CodecError,
  decodeEntries,
  decodeEntry,
  decodeHardState,
  decodeInput,
  decodeMessage,
  decodePersistedState,
  decodeRaftState,
  decodeSnapshot,
  encodeEntries,
  encodeEntry,
  encodeHardState,
  encodeInput,
  encodeMessage,
  encodePersistedState,
  encodeRaftState,
  encodeSnapshot,
} from '../../../core/codec/index.ts';
import * as codecModule from '../../../core/codec/index.ts';
import { encode } from '@msgpack/msgpack';
import type { Message, RaftInput, RaftState } from '../../../core/raft/index.ts';
import { step } from '../../../core/raft/index.ts';
import { withMutant } from '../../../sim/mutants/mutate.ts';
import { Cluster } from '../raft/cluster.ts';

import { conf, context, entry, message, nat, nodeId, persisted, snapshot } from './arbitraries.ts';

describe('codec round trips are exact', () => {
  it('messages', () => {
    fc.assert(fc.property(message, (m) => {
      expect(decodeMessage(encodeMessage(m))).toEqual(m);
    }), { numRuns: 300 });
  });
  it('entries, one and many', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), (es) => {
        expect(decodeEntries(encodeEntries(es))).toEqual(es);
        for (const e of es) expect(decodeEntry(encodeEntry(e))).toEqual(e);
      }),
      { numRuns: 200 },
    );
  });
  it('snapshots and hard states', () => {
    fc.assert(
      fc.property(snapshot, persisted, (s, p) => {
        expect(decodeSnapshot(encodeSnapshot(s))).toEqual(s);
        expect(decodeHardState(encodeHardState(p.hardState))).toEqual(p.hardState);
      }),
      { numRuns: 200 },
    );
  });
  it('inputs to step', () => {
    const input: fc.Arbitrary<RaftInput> = fc.oneof(
      fc.record({ type: fc.constant('tick' as const), now: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x)) }), // msgpack writes -0 as the integer 0
      fc.record({ type: fc.constant('message' as const), message }),
      fc.record({ type: fc.constant('propose' as const), payloads: fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 3 }) }),
      fc.record({ type: fc.constant('propose-conf' as const), change: conf }),
      fc.record({ type: fc.constant('read-index' as const), context }),
      fc.record({ type: fc.constant('transfer-leadership' as const), to: nodeId }),
      fc.record({ type: fc.constant('campaign' as const) }),
      fc.record({ type: fc.constant('persisted' as const), index: nat, term: nat }),
      fc.record({ type: fc.constant('applied' as const), index: nat }),
      fc.record({ type: fc.constant('compact' as const), index: nat, data: fc.uint8Array({ maxLength: 8 }) }),
    );
    fc.assert(
      fc.property(input, (i) => {
        expect(decodeInput(encodeInput(i))).toEqual(i);
      }),
      { numRuns: 300 },
    );
    expect(() => decodeInput(encode({ type: 'tick', now: 'soon' }))).toThrow('codec: input.now: expected a finite number, got string "soon"');
    expect(() => decodeInput(encode({ type: 'reboot' }))).toThrow('codec: input.type: expected an input type, got string "reboot"');
  });

  it('persisted state', () => {
    fc.assert(fc.property(persisted, (p) => {
      expect(decodePersistedState(encodePersistedState(p))).toEqual(p);
    }), { numRuns: 200 });
  });
  it('a whole node state from a live cluster (checkpoint and fork)', () => {
    const cluster = new Cluster({ voters: ['1', '2', '3'], learners: ['4'] });
    cluster.elect('1');
    cluster.propose('1', 'x', 'y');
    cluster.step('1', { type: 'read-index', context: 'r1' });
    for (const id of cluster.ids) {
      const state = cluster.node(id).state;
      const copy = decodeRaftState(encodeRaftState(state));
      expect(copy).toEqual(state);
      // A fork steps exactly like the original.
      const input = { type: 'tick', now: 5000 } as const;
      expect(JSON.stringify(cluster.step(id, input), replacer)).toBe(JSON.stringify(stepCopy(copy, input), replacer));
    }
  });
});

function stepCopy(state: RaftState, input: RaftInput) {
  return step(state, input);
}
const MESSAGE_TYPES = ['vote', 'vote-response', 'append', 'append-response', 'heartbeat', 'heartbeat-response', 'snapshot', 'timeout-now', 'read-index', 'read-index-response'];

/** What any decoded message must look like, checked independently of the codec's own validator. */
function expectWellFormed(m: Message): void {
  if (!MESSAGE_TYPES.includes(m.type)) throw new Error(`decoded an unknown type ${String(m.type)}`);
  for (const id of [m.from, m.to]) if (typeof id !== 'string' || id === '') throw new Error('decoded a bad node id');
  if (!Number.isSafeInteger(m.term) || m.term < 0) throw new Error('decoded a bad term');
  if (m.type === 'append') for (const e of m.entries) if (!(e.data instanceof Uint8Array) || !Number.isSafeInteger(e.index)) throw new Error('decoded a bad entry');
}

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Array.from(value) : value;
}

describe('bad bytes give one clear CodecError', () => {
  const good = encodeMessage({ type: 'append', from: '1', to: '2', term: 3, prevIndex: 4, prevTerm: 2, entries: [], commit: 4 });

  it('every truncation of a valid message', () => {
    for (let n = 0; n < good.length; n++) {
      expect(() => decodeMessage(good.subarray(0, n))).toThrow(CodecError);
    }
  });

  it('random corruption never crashes with anything but CodecError (or decodes to a valid message)', () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, at, byte) => {
        const bytes = encodeMessage(m).slice();
        bytes[at % bytes.length] = byte;
        try {
          expectWellFormed(decodeMessage(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(CodecError);
          expect((err as Error).message).toMatch(/^codec: /);
          expect((err as Error).message).not.toContain('\n');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('names the offending field', () => {
    const wrongTerm = encode({ type: 'vote', from: '1', to: '2', term: 'three', preVote: false, transfer: false, lastIndex: 1, lastTerm: 1 });
    expect(() => decodeMessage(wrongTerm)).toThrow('codec: message.term: expected a non-negative integer, got string "three"');
    const unknownType = encode({ type: 'gossip', from: '1', to: '2', term: 1 });
    expect(() => decodeMessage(unknownType)).toThrow('codec: message.type: expected a message type, got string "gossip"');
    const missing = encode({ type: 'timeout-now', from: '1', to: '2' });
    expect(() => decodeMessage(missing)).toThrow('codec: message: missing field term');
    const extra = encode({ type: 'timeout-now', from: '1', to: '2', term: 1, sneaky: true });
    expect(() => decodeMessage(extra)).toThrow('codec: message: unexpected field sneaky');
    const badEntry = encode({ index: 1, term: 1, kind: 'conf', data: new Uint8Array(0), conf: null });
    expect(() => decodeEntry(badEntry)).toThrow('codec: entry: conf must be set exactly for kind conf');
    const nested = encode({ hardState: { term: 1, vote: null, commit: 0 }, snapshot: null, entries: [{ index: -1 }] });
    expect(() => decodePersistedState(nested)).toThrow(/codec: persistedState.entries\[0\]: missing field term|entries\[0\].index/);
  });

  it('empty input, trailing garbage and non-bytes', () => {
    expect(() => decodeMessage(new Uint8Array(0))).toThrow('codec: message: no bytes to decode');
    const withTrailer = new Uint8Array([...good, 0xc0]);
    expect(() => decodeMessage(withTrailer)).toThrow(/codec: message: not valid msgpack/);
    expect(() => decodeMessage('hello' as unknown as Uint8Array)).toThrow('codec: message: expected bytes to decode, got string "hello"');
    expect(() => decodeRaftState(encode({ id: '1' }))).toThrow(CodecError);
  });
});

type Codec = typeof import('../../../core/codec/index.ts');

/** The round-trip and bad-input properties as plain checks, so they can run against a mutated codec. */
function codecPropertiesHold(codec: Codec): boolean {
  const roundTrip = fc.check(
    fc.property(message, persisted, (m, p) => {
      expect(codec.decodeMessage(codec.encodeMessage(m))).toEqual(m);
      expect(codec.decodePersistedState(codec.encodePersistedState(p))).toEqual(p);
    }),
    { numRuns: 200, seed: 42 },
  );
  const corruption = fc.check(
    fc.property(message, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, at, byte) => {
      const bytes = codec.encodeMessage(m).slice();
      bytes[at % bytes.length] = byte;
      try {
        expectWellFormed(codec.decodeMessage(bytes));
      } catch (err) {
        expect((err as Error).name).toBe('CodecError');
      }
    }),
    { numRuns: 300, seed: 42 },
  );
  const truncation = (() => {
    const good = codec.encodeMessage({ type: 'heartbeat', from: '1', to: '2', term: 3, commit: 4, context: 'abc' });
    for (let n = 0; n < good.length; n++) {
      try {
        codec.decodeMessage(good.subarray(0, n));
        return false;
      } catch (err) {
        if ((err as Error).name !== 'CodecError') return false;
      }
    }
    return true;
  })();
  return !roundTrip.failed && !corruption.failed && truncation;
}

describe('the codec properties catch broken codecs (mutants)', () => {
  it('the real codec passes them', () => {
    expect(codecPropertiesHold({ ...codecModule })).toBe(true);
  });
  const mutants = [
    {
      name: 'codec-loses-bytes',
      description: 'payload bytes are encoded through JSON, so they come back as plain objects',
      edits: [{ file: 'core/codec/index.ts', find: 'return encode(value);', replace: 'return encode(JSON.parse(JSON.stringify(value)));' }],
    },
    {
      name: 'codec-skips-shape-check',
      description: 'decoding trusts whatever msgpack produced, so corrupt bytes escape as odd values or crashes',
      edits: [{ file: 'core/codec/index.ts', find: '  if (!valid.ok(value)) {\n    valid(value, what);', replace: '  if (false) {\n    valid(value, what);' }],
    },
    {
      name: 'codec-leaks-msgpack-errors',
      description: 'msgpack decode errors are not wrapped, so truncated input escapes as RangeError',
      edits: [{ file: 'core/codec/index.ts', find: '    value = decode(bytesIn);\n  } catch (err) {', replace: '    value = decode(bytesIn);\n  } catch (err) {\n    throw err;' }],
    },
  ];
  for (const mutant of mutants) {
    it(`catches mutant ${mutant.name}: ${mutant.description}`, async () => {
      const held = await withMutant<Codec, boolean>(mutant, 'core/codec/index.ts', (codec) => codecPropertiesHold(codec));
      expect(held).toBe(false);
    });
  }
});
