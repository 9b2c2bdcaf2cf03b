import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { RandomStream, RandomStreams } from '../../../sim/world/random.ts';

type StreamsClass = typeof RandomStreams;
const draw = (s: RandomStream, n: number): number[] => Array.from({ length: n }, () => s.next());

// Streams of one run are independent: the same (seed, name) always gives the same sequence, and draws on one
// stream never move another.
function checkIndependence(Streams: StreamsClass, numRuns = 200): void {
  fc.assert(
    fc.property(fc.integer(), fc.string({ minLength: 1, maxLength: 8 }), fc.string({ minLength: 1, maxLength: 8 }), fc.nat(20), (seed, a, b, extra) => {
      fc.pre(a !== b);
      const one = new Streams(seed);
      const two = new Streams(seed);
      draw(one.stream(b), extra); // draws on b in one family only
      expect(draw(one.stream(a), 5)).toEqual(draw(two.stream(a), 5));
      expect(draw(new Streams(seed).stream(a), 3)).not.toEqual(draw(new Streams(seed).stream(b), 3));
    }),
    { numRuns },
  );
}

describe('random streams', () => {
  it('same (seed, name) => same sequence; different names differ; draws on one stream leave others alone (property)', () => {
    checkIndependence(RandomStreams);
  });

  it('different seeds give different sequences for the same name', () => {
    expect(draw(new RandomStreams(1).stream('network'), 4)).not.toEqual(draw(new RandomStreams(2).stream('network'), 4));
  });

  it('a saved stream state resumes exactly, in place or as a new stream', () => {
    const streams = new RandomStreams('seed');
    const s = streams.stream('disk/n1');
    draw(s, 7);
    const saved = s.save();
    const after = draw(s, 5);
    expect(draw(RandomStream.restore(JSON.parse(JSON.stringify(saved))), 5)).toEqual(after);
    streams.restore([saved]);
    expect(streams.stream('disk/n1')).toBe(s);
    expect(draw(s, 5)).toEqual(after);
    expect(() => s.load({ ...saved, name: 'other' })).toThrow(/state of stream 'other' loaded into 'disk\/n1'/);
  });

  it('helpers stay in their ranges (property)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: -50, max: 50 }), fc.nat(100), (seed, lo, width) => {
        const s = new RandomStreams(seed).stream('helpers');
        const hi = lo + width;
        for (let i = 0; i < 20; i++) {
          const k = s.int(lo, hi);
          expect(Number.isInteger(k) && k >= lo && k <= hi).toBe(true);
          const u = s.uniform(lo, hi + 1);
          expect(u >= lo && u < hi + 1).toBe(true);
          expect(s.exponential(5)).toBeGreaterThanOrEqual(0);
          expect(s.pareto(3, 1.5)).toBeGreaterThanOrEqual(3);
          expect(s.logNormal(10, 0.5)).toBeGreaterThan(0);
          expect([1, 2, 3]).toContain(s.pick([1, 2, 3]));
        }
        expect(s.bernoulli(0)).toBe(false);
        expect(s.bernoulli(1)).toBe(true);
        expect(s.shuffle([1, 2, 3, 4]).sort()).toEqual([1, 2, 3, 4]);
      }),
      { numRuns: 200 },
    );
  });

  it('samples have roughly the right shape (means over 20,000 draws)', () => {
    const s = new RandomStreams(7).stream('shape');
    const n = 20_000;
    const mean = (f: () => number): number => Array.from({ length: n }, f).reduce((a, b) => a + b, 0) / n;
    expect(mean(() => s.exponential(10))).toBeCloseTo(10, 0);
    expect(mean(() => (s.bernoulli(0.3) ? 1 : 0))).toBeCloseTo(0.3, 1);
    expect(mean(() => s.normal())).toBeCloseTo(0, 1);
    // Pareto(scale 1, shape 3) has mean 1.5.
    expect(mean(() => s.pareto(1, 3))).toBeCloseTo(1.5, 1);
    const medianOf = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1]!;
    expect(medianOf(Array.from({ length: n }, () => s.logNormal(20, 1)))).toBeGreaterThan(18);
  });

  it('bad ranges are one-line errors', () => {
    const s = new RandomStreams(1).stream('x');
    expect(() => s.int(3, 1)).toThrow(/need integers lo <= hi, got \[3, 1\]/);
    expect(() => s.pick([])).toThrow(/empty list \(stream x\)/);
  });

  const mutant: Mutant = {
    name: 'random-stream-ignores-name',
    description: 'every stream of a run is seeded from the run seed alone, so all streams are the same sequence',
    edits: [{ file: 'sim/world/random.ts', find: '`${this.seed}\\u0000${name}`', replace: 'this.seed' }],
  };
  it(`independence property catches mutant: ${mutant.name}`, async () => {
    await withMutant(
      mutant,
      'sim/world/random.ts',
      (m: { RandomStreams: StreamsClass }) => expect(() => checkIndependence(m.RandomStreams)).toThrow(/Property failed/),
      { dirs: ['sim/world', 'core/codec'] },
    );
  });
});
