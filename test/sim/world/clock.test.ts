import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LocalClock } from '../../../sim/world/clock.ts';

// The drift-change property was seen failing when setDrift skipped re-anchoring (the reading jumped); the
// examples failed with the drift computed as elapsed * (1 + ppm * 1e-6), which rounds a millisecond away.

describe('local clock', () => {
  it('reads virtual time plus its offset, in whole ms', () => {
    const c = new LocalClock({ offsetMs: 1000 });
    expect(c.read(0)).toBe(1000);
    expect(c.read(12.7)).toBe(1012);
  });

  it('drifts by ppm: +1000 ppm gains 1 ms per virtual second', () => {
    const c = new LocalClock({ driftPpm: 1000 });
    expect(c.read(10_000)).toBe(10_010);
    expect(new LocalClock({ driftPpm: -1000 }).read(10_000)).toBe(9_990);
  });

  it('jumps forward and back without changing its rate', () => {
    const c = new LocalClock({ driftPpm: 1000 });
    c.jump(-5000, 10_000);
    expect(c.read(10_000)).toBe(5_010);
    expect(c.read(20_000)).toBe(15_020);
    c.jump(60_000, 20_000);
    expect(c.read(20_000)).toBe(75_020);
  });

  it('a drift change applies from then on; the reading does not jump (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 1e6 }), (d1, d2, at) => {
        const c = new LocalClock({ driftPpm: d1 });
        const before = c.read(at);
        c.setDrift(d2, at);
        expect(c.read(at)).toBe(before);
        expect(Math.abs(c.read(at + 1e6) - (before + 1e6 * (1 + d2 * 1e-6)))).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
  });

  it('timers run at the drifted rate: 1000 local ms take fewer virtual ms on a fast clock', () => {
    expect(new LocalClock({ driftPpm: 100_000 }).virtualDelay(1100)).toBeCloseTo(1000, 9);
    expect(new LocalClock().virtualDelay(5)).toBe(5);
  });

  it('bad settings are one-line errors', () => {
    expect(() => new LocalClock({ driftPpm: 2e6 })).toThrow(/drift must be within ±500000 ppm, got 2000000/);
    expect(() => new LocalClock({ offsetMs: Infinity })).toThrow(/offsetMs must be finite/);
    expect(() => new LocalClock().jump(NaN, 0)).toThrow(/jump must be finite/);
  });
});
