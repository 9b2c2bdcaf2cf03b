import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../../core/codec/index.ts';
import { decodePeerMessage, encodePeerMessage } from '../../../core/replica/index.ts';
import { invalidMessages, validMessages } from './codec.ts';

describe('peer message codec', () => {
  it('round-trips every kind of peer message exactly', () => {
    for (const m of validMessages) {
      const bytes = encodePeerMessage(m);
      expect(decodePeerMessage(bytes)).toEqual(m);
      expect(encodePeerMessage(decodePeerMessage(bytes))).toEqual(bytes);
    }
  });

  for (const { name, bytes, error } of invalidMessages) {
    it(`refuses ${name} with one line`, () => {
      expect(() => decodePeerMessage(bytes)).toThrow(CodecError);
      expect(() => decodePeerMessage(bytes)).toThrow(error);
      try {
        decodePeerMessage(bytes);
      } catch (e) {
        expect((e as Error).message).not.toContain('\n');
      }
    });
  }

  it('truncated or corrupted frames give a CodecError or a valid message, nothing else', () => {
    const encoded = validMessages.map(encodePeerMessage);
    fc.assert(
      fc.property(fc.nat({ max: encoded.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (which, at, value, truncate) => {
        const original = encoded[which]!;
        const bytes = truncate ? original.slice(0, at % original.length) : original.slice();
        if (!truncate) bytes[at % bytes.length] = value;
        try {
          const m = decodePeerMessage(bytes);
          expect(decodePeerMessage(encodePeerMessage(m))).toEqual(m);
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});
