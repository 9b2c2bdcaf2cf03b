import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatRfc3339Nano, ttlSecondsLeft } from '../../../core/kv/time.ts';
import { civilDateOffByOneDay } from '../../../sim/mutants/kv.ts';
import { withMutant } from '../../../sim/mutants/mutate.ts';

describe('time as etcd prints it', () => {
  it('formats RFC3339 with nanoseconds, trailing zeros dropped, like Go', () => {
    const samples = [0, 1, 999, 1000, 946_684_800_000, 951_782_400_123, 1_764_057_600_500, 4_102_444_799_999, Date.UTC(2024, 1, 29, 23, 59, 59, 10)];
    for (const ms of samples) {
      const iso = new Date(ms).toISOString(); // the test's oracle; core itself never touches Date
      const expected = iso.replace(/\.(\d{3})Z$/, (_m, f: string) => (f === '000' ? 'Z' : '.' + f.replace(/0+$/, '') + 'Z'));
      expect(formatRfc3339Nano(ms)).toBe(expected);
    }
    expect(formatRfc3339Nano(1000.5)).toBe('1970-01-01T00:00:01.0005Z');
    expect(formatRfc3339Nano(1000.000001)).toBe('1970-01-01T00:00:01.000000001Z');
  });

  it('rounds the seconds left up, and truncates toward zero once overdue', () => {
    expect([5000, 4001, 4000, 1, 0, -1, -999, -1000, -1001, -2500].map((left) => ttlSecondsLeft(left, 0))).toEqual([5, 5, 4, 1, 0, 0, 0, -1, -1, -2]);
  });
});

describe('time formatting property', () => {
  const agreesWithDate = (format: (ms: number) => string) =>
    fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
      const iso = new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_m, f: string) => (f === '000' ? 'Z' : '.' + f.replace(/0+$/, '') + 'Z'));
      if (format(ms) !== iso) throw new Error(`${ms}: ${format(ms)} != ${iso}`);
    });

  it('agrees with the platform calendar for every millisecond from 1970 to 9999', () => {
    fc.assert(agreesWithDate(formatRfc3339Nano), { numRuns: 1000 });
  });

  it('catches a calendar that is a day off (mutant)', async () => {
    await withMutant(civilDateOffByOneDay, 'core/kv/time.ts', (mod: { formatRfc3339Nano: (ms: number) => string }) => {
      expect(() => fc.assert(agreesWithDate(mod.formatRfc3339Nano), { numRuns: 200, seed: 1 })).toThrow();
    });
  });
});
