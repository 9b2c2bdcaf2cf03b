import { describe, expect, it } from 'vitest';
import { fnv1a32, fnv1a64, RunHash } from '../../../sim/world/run-hash.ts';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('the run hash', () => {
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
});
