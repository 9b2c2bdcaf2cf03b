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

  it('skewRange: the lowest and highest reading-minus-time over a run, jumps and drift changes included', () => {
    const c = new LocalClock({ offsetMs: 40, driftPpm: 1000 });
    expect(c.skewRange(10_000)).toEqual({ min: 40, max: 50 });
    c.jump(-500, 10_000);
    c.setDrift(-2000, 20_000);
    // Skew: 40 -> 50 at 10 s, -450 after the jump, -440 at 20 s, then falling 2 ms a second: -480 at 40 s.
    const r = c.skewRange(40_000);
    expect(r.max).toBeCloseTo(50, 9);
    expect(r.min).toBeCloseTo(-480, 9);
    // Only what happened up to `untilMs` counts.
    expect(c.skewRange(5_000)).toEqual({ min: 40, max: 45 });
  });

  it('skewRange bounds every reading the clock gave (property)', () => {
    const change = fc.record({ at: fc.integer({ min: 0, max: 100_000 }), jump: fc.integer({ min: -3000, max: 3000 }), drift: fc.integer({ min: -500, max: 500 }) });
    fc.assert(
      fc.property(fc.integer({ min: -100, max: 100 }), fc.array(change, { maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 20 }), (offset, changes, probes) => {
        const c = new LocalClock({ offsetMs: offset });
        const events = [...changes].sort((a, b) => a.at - b.at);
        const readings: Array<[number, number]> = [];
        const times = [...probes].sort((a, b) => a - b);
        let e = 0;
        for (const t of times) {
          while (e < events.length && events[e]!.at <= t) {
            const x = events[e++]!;
            c.jump(x.jump, x.at);
            c.setDrift(x.drift, x.at);
          }
          readings.push([t, c.read(t)]);
        }
        const { min, max } = c.skewRange(100_000);
        for (const [t, reading] of readings) {
          expect(reading - t).toBeLessThanOrEqual(max);
          expect(reading - t).toBeGreaterThanOrEqual(min - 1); // a reading floors up to 1 ms away
        }
      }),
      { numRuns: 300, seed: 7 },
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
