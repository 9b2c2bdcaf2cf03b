// core/codec/msgpack.ts must be @msgpack/msgpack exactly, only faster: the same bytes for every value, the same
// value (or the same error) for every input. The properties run on fixed seeds; the mutants below show them
// failing when the lean encoder or decoder is wrong.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode as packageDecode, encode as packageEncode } from '@msgpack/msgpack';
import * as msgpack from '../../../core/codec/msgpack.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';

type Msgpack = typeof msgpack;

// Integers at and around every boundary of msgpack's integer forms, and the float corner cases.
const edges = [0, -0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1), 0.5, -1.25, 1e300, NaN, Infinity, -Infinity];
const scalar = fc.oneof(
  fc.constantFrom(...edges),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 30, maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.uint8Array({ maxLength: 300 }),
);
const key = fc.oneof(fc.constantFrom('type', 'from', 'to', 'term', 'index', 'data'), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 4 }));
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('value'), { maxLength: 20 }), fc.dictionary(key, tie('value'), { maxKeys: 20 })),
}));

// Inner values whose encodings fall on each side of the bin 8 / 16 / 32 header boundaries.
const binEdges = [0, 100, 125, 126, 127, 128, 200, 252, 253, 254, 255, 256, 65530, 65532, 65533, 65534, 65535, 65536];
const innerValue = fc.oneof(value, fc.constantFrom(...binEdges).map((n) => new Uint8Array(n).fill(n & 0xff)));

/** Byte equality, cheap on large arrays; the element-wise diff only when they differ. */
function expectSameBytes(got: Uint8Array, want: Uint8Array): void {
  if (!Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length))) expect([...got]).toEqual([...want]);
}

function outcome(f: () => unknown): { value: unknown } | { error: string } {
  try {
    return { value: f() };
  } catch (e) {
    return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/** The three properties as one check, so it can run against a mutated copy of the module. */
function matchesPackage(m: Msgpack, runs = 300): boolean {
  const params = { numRuns: runs, seed: 7 };
  const sameBytes = (): boolean =>
    !fc.check(
      fc.property(value, (v) => {
        expectSameBytes(m.encode(v), packageEncode(v));
      }),
      params,
    ).failed;
  const sameValues = (): boolean =>
    !fc.check(
      fc.property(value, (v) => {
        const bytes = packageEncode(v);
        expect(outcome(() => m.decode(bytes))).toEqual(outcome(() => packageDecode(bytes)));
      }),
      params,
    ).failed;
  // Damaged input: a byte changed, the end cut off, or garbage after a whole value.
  const sameOnDamage = (): boolean =>
    !fc.check(
      fc.property(value, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'extend'), (v, at, byte, how) => {
        let bytes = packageEncode(v).slice();
        if (how === 'flip') bytes[at % bytes.length] = byte;
        else if (how === 'cut') bytes = bytes.subarray(0, at % bytes.length);
        else bytes = Uint8Array.from([...bytes, byte]);
        expect(outcome(() => m.decode(bytes))).toEqual(outcome(() => packageDecode(bytes)));
      }),
      { ...params, numRuns: runs * 2 },
    ).failed;
  // A message carrying another's encoding, written in one pass into the shared slab.
  const sameEnvelope = (): boolean =>
    !fc.check(
      fc.property(fc.dictionary(key, value, { maxKeys: 6 }), innerValue, fc.integer({ min: 0, max: 6 }), (envelope, inner, at) => {
        const entries = Object.entries(envelope);
        entries.splice(Math.min(at, entries.length), 0, ['inner', inner]);
        const e = Object.fromEntries(entries);
        expectSameBytes(m.encodeEnvelope(e, 'inner'), packageEncode({ ...e, inner: packageEncode(e.inner) }));
      }),
      params,
    ).failed;
  // Many distinct short strings of one length: some share a slot of the decoder's string cache.
  const sameStrings = (): boolean => {
    const names: string[] = [];
    for (const a of 'abcdefghijklmnopqrstuvwxyz') for (const b of 'abcdefghijklmnopqrstuvwxyz') names.push(a + b);
    return names.every((s) => m.decode(packageEncode(s)) === s);
  };
  return sameBytes() && sameValues() && sameOnDamage() && sameEnvelope() && sameStrings();
}

describe('core/codec/msgpack.ts is @msgpack/msgpack, byte for byte', () => {
  it('same bytes, same values, same errors on random values and damaged input', () => {
    expect(matchesPackage(msgpack)).toBe(true);
  });

  it('a value too deep for the package is refused the same way', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 120; i++) deep = [deep];
    expect(outcome(() => msgpack.encode(deep))).toEqual(outcome(() => packageEncode(deep)));
    let nearLimit: unknown = 1;
    for (let i = 0; i < 99; i++) nearLimit = { k: nearLimit };
    expect(outcome(() => msgpack.encode(nearLimit))).toEqual(outcome(() => packageEncode(nearLimit)));
  });

  it('envelopes from the shared slab stay intact while later ones are written', () => {
    const first = msgpack.encodeEnvelope({ type: 'raft', message: { n: 1 } }, 'message');
    const copy = [...first];
    for (let i = 0; i < 5000; i++) msgpack.encodeEnvelope({ type: 'raft', message: { n: i, pad: 'x'.repeat(40) } }, 'message');
    expect([...first]).toEqual(copy);
  });

  it('binary values are views of the input, as the package gives them', () => {
    const bytes = packageEncode({ data: new Uint8Array([1, 2, 3]) });
    const decoded = msgpack.decode(bytes) as { data: Uint8Array };
    expect(decoded.data.buffer).toBe(bytes.buffer);
  });

  it('a large value leaves no large buffer behind and encodes the same', () => {
    const big = { data: new Uint8Array(3 << 20).fill(7), tail: 'x' };
    expect([...msgpack.encode(big).subarray(0, 16)]).toEqual([...packageEncode(big).subarray(0, 16)]);
    expect(msgpack.encode({ a: 1 })).toEqual(packageEncode({ a: 1 }));
  });
});

const FILE = 'core/codec/msgpack.ts';
const mutants: Mutant[] = [
  {
    name: 'msgpack-uint16-boundary',
    description: 'integers from 256 are written as uint 8, so 256..65535 lose their high byte',
    edits: [{ file: FILE, find: 'else if (x < 0x100) {', replace: 'else if (x < 0x10000) {' }],
  },
  {
    name: 'msgpack-string-cache-unchecked',
    description: 'a cached short string is returned on a hash match without comparing its characters',
    edits: [{ file: FILE, find: 'if (cached.charCodeAt(i) !== input[start + i]) {', replace: 'if (false) {' }],
  },
  {
    name: 'msgpack-trailing-bytes-accepted',
    description: 'bytes after one whole value are ignored instead of refused',
    edits: [{ file: FILE, find: 'if (at !== bytes.length) throw FALLBACK;', replace: '' }],
  },
  {
    name: 'msgpack-envelope-short-header',
    description: 'an inner encoding of 128 bytes or more gets a one-byte length in its bin 8 header cut to 7 bits',
    edits: [{ file: FILE, find: '        out[headerAt + 1] = n;', replace: '        out[headerAt + 1] = n & 0x7f;' }],
  },
  {
    name: 'msgpack-int64-unsigned',
    description: 'a negative int 64 is read as unsigned',
    edits: [{ file: FILE, find: 'return (u32() | 0) * 0x100000000 + u32();', replace: 'return u32() * 0x100000000 + u32();' }],
  },
];

describe('the msgpack properties catch a broken lean codec (mutants)', () => {
  for (const mutant of mutants) {
    it(`catches ${mutant.name}: ${mutant.description}`, async () => {
      const held = await withMutant<Msgpack, boolean>(mutant, FILE, (m) => matchesPackage(m));
      expect(held).toBe(false);
    });
  }
});
