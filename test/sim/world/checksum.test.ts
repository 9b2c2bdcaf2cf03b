import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { crc32 } from '../../../sim/world/checksum.ts';
import { fnv1a32, fnv1a64, RunHash } from '../../../sim/world/run-hash.ts';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

function checkCrcVectors(f: typeof crc32): void {
  // Published CRC-32/ISO-HDLC check values.
  expect(f(ascii('123456789'))).toBe(0xcbf43926);
  expect(f(ascii(''))).toBe(0);
  expect(f(ascii('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
}

describe('checksums and the run hash', () => {
  it('CRC-32 matches the published check values', () => checkCrcVectors(crc32));

  it('CRC-32 detects every single-bit flip (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), (bytes, bitSeed) => {
        const bit = bitSeed % (bytes.length * 8);
        const flipped = bytes.slice();
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        expect(crc32(flipped)).not.toBe(crc32(bytes));
      }),
      { numRuns: 200 },
    );
  });

  it('FNV-1a matches the published 64- and 32-bit test vectors', () => {
    expect(fnv1a64(ascii(''))).toBe('cbf29ce484222325');
    expect(fnv1a64(ascii('a'))).toBe('af63dc4c8601ec8c');
    expect(fnv1a64(ascii('foobar'))).toBe('85944171f73967e8');
    expect(fnv1a32(ascii('a'))).toBe(0xe40c292c);
    expect(fnv1a32(ascii('foobar'))).toBe(0xbf9cf968);
  });

  it('the run hash separates values that a careless encoding would confuse', () => {
    const of = (f: (h: RunHash) => void): string => {
      const h = new RunHash();
      f(h);
      return h.hex();
    };
    expect(of((h) => (h.string('ab'), h.string('c')))).not.toBe(of((h) => (h.string('a'), h.string('bc'))));
    expect(of((h) => h.number(0.1 + 0.2))).not.toBe(of((h) => h.number(0.3)));
    expect(of((h) => h.number(1))).not.toBe(of((h) => h.number(1.5)));
    expect(of((h) => (h.word(1), h.word(2)))).not.toBe(of((h) => (h.word(2), h.word(1))));
    expect(of((h) => h.bytes(ascii('x')))).toBe(of((h) => h.bytes(ascii('x'))));
  });

  const mutant: Mutant = {
    name: 'crc32-wrong-polynomial',
    description: 'the CRC table is built from a different polynomial',
    edits: [{ file: 'sim/world/checksum.ts', find: '0xedb88320', replace: '0x82f63b78' }],
  };
  it(`check-value test catches mutant: ${mutant.name}`, async () => {
    await withMutant(mutant, 'sim/world/checksum.ts', (m: { crc32: typeof crc32 }) => expect(() => checkCrcVectors(m.crc32)).toThrow(), {
      dirs: ['sim/world'],
    });
  });
});
