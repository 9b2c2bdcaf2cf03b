import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { Scheduler, SchedulerOverflowError } from '../../../sim/world/scheduler.ts';

type SchedulerClass = typeof Scheduler;

// Interleaved schedules and pops must come out ordered by (time, scheduling order), exactly like a stable sort
// of what was pending. The model is a plain array sorted on every pop.
function checkOrder(S: SchedulerClass, numRuns = 200): void {
  // Twice as many pushes at "now" as pops: the heap grows deep and is full of ties, which is where an ordering
  // bug hides (with pushes spread out, a tie-break bug escaped 1 run in 5).
  const op = fc.oneof(
    { weight: 1, arbitrary: fc.record({ push: fc.oneof(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 50 })) }) },
    { weight: 1, arbitrary: fc.record({ pop: fc.constant(true) }) },
    { weight: 2, arbitrary: fc.record({ push: fc.constant(0) }) },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const s = new S<number>();
      const model: Array<{ at: number; seq: number }> = [];
      let seq = 0;
      for (const o of ops) {
        if ('push' in o) {
          const at = s.now + o.push;
          s.schedule(at, seq);
          model.push({ at, seq: seq++ });
        } else {
          model.sort((a, b) => a.at - b.at || a.seq - b.seq);
          const expected = model.shift();
          const got = s.pop();
          expect(got).toBe(expected?.seq);
          if (expected) expect(s.now).toBe(expected.at);
        }
      }
      expect(s.size).toBe(model.length);
    }),
    { numRuns },
  );
}

describe('scheduler', () => {
  it('pops events in (time, sequence) order under any interleaving (property)', () => {
    checkOrder(Scheduler);
  });

  it('jumps time to the next event and reports Infinity when empty', () => {
    const s = new Scheduler<string>();
    expect(s.peekTime()).toBe(Infinity);
    s.schedule(1_000_000, 'far');
    s.schedule(5, 'near');
    expect(s.pop()).toBe('near');
    expect(s.now).toBe(5);
    expect(s.pop()).toBe('far');
    expect(s.now).toBe(1_000_000);
    expect(s.pop()).toBeUndefined();
  });

  it('refuses to schedule in the past, with a one-line error', () => {
    const s = new Scheduler<string>();
    s.schedule(10, 'a');
    s.pop();
    expect(() => s.schedule(9, 'b')).toThrow(/cannot schedule at t=9ms, before now \(t=10ms\) or never/);
    expect(() => s.schedule(NaN, 'b')).toThrow(/cannot schedule at t=NaNms/);
    expect(() => s.schedule(Infinity, 'b')).toThrow(/cannot schedule at t=Infinityms/);
  });

  it('is bounded: scheduling past maxQueueSize throws a clear error', () => {
    const s = new Scheduler<number>({ maxQueueSize: 3 });
    s.schedule(1, 1);
    s.schedule(2, 2);
    s.schedule(3, 3);
    expect(() => s.schedule(4, 4)).toThrow(SchedulerOverflowError);
    expect(() => s.schedule(4, 4)).toThrow(/event queue full: 3 events pending at t=0ms/);
    expect(() => new Scheduler({ maxQueueSize: 0 })).toThrow(/maxQueueSize must be a positive integer/);
  });

  // The order property is trusted because it catches these planted heap bugs.
  const mutants: Mutant[] = [
    {
      name: 'scheduler-ties-unordered',
      description: 'ties in time are not broken by sequence number',
      edits: [{ file: 'sim/world/scheduler.ts', find: 'ti < tj || (ti === tj && this.seqs[i]! < this.seqs[j]!)', replace: 'ti < tj' }],
    },
    {
      name: 'scheduler-sift-down-left-only',
      description: 'sift-down always follows the left child, breaking the heap order',
      edits: [{ file: 'sim/world/scheduler.ts', find: 'right < n && this.less(right, left) ? right : left', replace: 'left' }],
    },
  ];
  for (const mutant of mutants) {
    it(`order property catches mutant: ${mutant.name}`, async () => {
      await withMutant(
        mutant,
        'sim/world/scheduler.ts',
        (m: { Scheduler: SchedulerClass }) => expect(() => checkOrder(m.Scheduler)).toThrow(/Property failed/),
        { dirs: ['sim/world', 'core/codec'] },
      );
    });
  }
});
