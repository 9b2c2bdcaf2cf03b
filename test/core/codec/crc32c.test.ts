// CRC-32C frames every record of both the real write-ahead log (net/storage) and the simulated disk
// (sim/world/disk.ts): a wrong checksum there means corruption goes unnoticed, or good records are refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../core/codec/crc32c.ts';
import { itCatchesEachMutant, throws, type CaughtMutant } from '../../support/mutants.ts';

type Crc32c = typeof crc32c;

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** One bit at a time, straight from the definition: slow and obviously right. */
function bitwiseCrc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function checkPublishedValues(f: Crc32c): void {
  expect(f(ascii(''))).toBe(0);
  expect(f(ascii('123456789'))).toBe(0xe3069283);
  // RFC 3720 (iSCSI), appendix B.4: 32-byte buffers, long enough for the eight-bytes-a-step loop.
  expect(f(new Uint8Array(32))).toBe(0x8a9136aa);
  expect(f(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  expect(f(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
  expect(f(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
}

function checkAgainstDefinition(f: Crc32c): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (b % (bytes.length - start + 1));
      expect(f(bytes, 0, start, end)).toBe(bitwiseCrc32c(bytes.subarray(start, end)));
    }),
    { numRuns: 300 },
  );
}

function checkInPieces(f: Crc32c): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(), (bytes, cut) => {
      const at = cut % (bytes.length + 1);
      expect(f(bytes, f(bytes, 0, 0, at), at)).toBe(f(bytes));
    }),
    { numRuns: 300 },
  );
}

describe('CRC-32C', () => {
  it('matches the published check values', () => checkPublishedValues(crc32c));

  it('equals a bit-at-a-time CRC-32C over any range of any bytes (property)', () => checkAgainstDefinition(crc32c));

  it('checksummed in two pieces equals checksummed whole (property)', () => checkInPieces(crc32c));

  it('detects every single-bit flip (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), (bytes, bitSeed) => {
        const bit = bitSeed % (bytes.length * 8);
        const flipped = bytes.slice();
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        expect(crc32c(flipped)).not.toBe(crc32c(bytes));
      }),
      { numRuns: 200 },
    );
  });

  const FILE = 'core/codec/crc32c.ts';
  const mutants: CaughtMutant<{ crc32c: Crc32c }>[] = [
    {
      mutant: {
        name: 'crc32c-zip-polynomial',
        description: 'the tables are built from the zip (IEEE) polynomial',
        edits: [{ file: FILE, find: '= 0x82f63b78;', replace: '= 0xedb88320;' }],
      },
      caughtBy: (m) => throws(() => checkPublishedValues(m.crc32c)),
    },
    {
      mutant: {
        name: 'crc32c-slices-swapped',
        description: 'the eight-bytes-a-step loop looks the first two bytes up in each other\'s tables',
        edits: [{ file: FILE, find: '      T7[lo & 0xff]! ^\n      T6[(lo >>> 8) & 0xff]! ^', replace: '      T6[lo & 0xff]! ^\n      T7[(lo >>> 8) & 0xff]! ^' }],
      },
      caughtBy: (m) => throws(() => checkAgainstDefinition(m.crc32c)),
    },
    {
      mutant: {
        name: 'crc32c-restarts-instead-of-continuing',
        description: 'a CRC passed in to continue from is ignored',
        edits: [{ file: FILE, find: 'let c = ~crc >>> 0;', replace: 'let c = ~0 >>> 0;' }],
      },
      caughtBy: (m) => throws(() => checkInPieces(m.crc32c)),
    },
  ];
  itCatchesEachMutant(FILE, mutants, ['core/codec']);
});
