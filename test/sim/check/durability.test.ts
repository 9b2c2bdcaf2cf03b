import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as real from '../../../sim/check/durability.ts';
import type { EtcdInput, EtcdOutput, Operation } from '../../../sim/check/history.ts';
import { itCatchesEachMutant, type CaughtMutant } from '../../support/mutants.ts';
import { etcdHistory, etcdOp, plannedOps } from './generate.ts';

type Checker = typeof real;
type Op = Operation<EtcdInput, EtcdOutput>;

const op = (id: number, input: EtcdInput, output: EtcdOutput | null, call: number, ret: number, key = '/a'): Op => etcdOp(id, input, output, call, ret, key);

const set1 = op(0, { f: 'set', value: '1' }, { index: 4 }, 0, 10);
const set2 = op(1, { f: 'set', value: '2' }, { index: 7 }, 20, 30);

const planted = {
  readOfAnOlderVersion: (c: Checker) => c.checkAckedWrites([set1, set2, op(2, { f: 'get' }, { value: '1', index: 4 }, 40, 41)]),
  keyVanished: (c: Checker) => c.checkAckedWrites([set1, op(2, { f: 'get', quorum: true }, { error: 100, index: 9 }, 40, 41)]),
  sameIndexOtherValue: (c: Checker) => c.checkAckedWrites([set1, op(2, { f: 'get' }, { value: 'x', index: 4 }, 40, 41)]),
};

describe('acknowledged-write durability', () => {
  it('names the lost write and the read that missed it', () => {
    const r = planted.readOfAnOlderVersion(real);
    expect(r.ok).toBe(false);
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toEqual({
      property: 'acked-write-lost',
      explanation: 'key "/a": quorum get op 2 invoked at 40 ms saw an older version (index 4, "1"), after set "2" (op 1, index 7, acknowledged at 30 ms)',
      evidence: [1, 2],
    });
  });

  it('catches a key found missing with no delete to explain it, and a changed value at the same index', () => {
    expect(planted.keyVanished(real).violations[0]!.explanation).toMatch(/found the key missing, and no delete could have removed it since/);
    expect(planted.sameIndexOtherValue(real).violations[0]!.explanation).toMatch(/saw index 4 with the value "x"/);
  });

  it('accepts later versions, removals that may explain a missing key, concurrent and non-quorum reads', () => {
    const ops = [
      set1,
      op(2, { f: 'get' }, { value: '1', index: 4 }, 5, 6), // concurrent with the write: may precede it
      op(3, { f: 'get' }, { value: 'z', index: 6 }, 12, 13), // a later (indeterminate) write's version
      op(4, { f: 'get', quorum: false }, { error: 100, index: 1 }, 40, 41), // local read: may be stale
      op(5, { f: 'delete' }, null, 50, 2000), // indeterminate delete
      op(6, { f: 'get' }, { error: 100, index: 9 }, 60, 61),
      op(7, { f: 'set', value: 'b' }, { index: 12 }, 0, 10, '/b'),
      op(8, { f: 'cad', prevIndex: 12 }, { index: 13 }, 20, 30, '/b'),
      op(9, { f: 'get' }, { error: 100, index: 13 }, 40, 41, '/b'),
    ];
    const r = real.checkAckedWrites(ops);
    expect(r.ok).toBe(true);
    expect(r.summary).toBe('acked-writes: ok (3 acknowledged write(s) on 2 key(s) seen by the 3 quorum read(s) after them)');
  });

  it('holds on every history a correct store produces (300 generated, seed 7)', () => {
    fc.assert(
      fc.property(plannedOps(40, 30, 2), (plan) => real.checkAckedWrites(etcdHistory(plan)).ok),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe('mutants of the durability checker are caught', () => {
  const FILE = 'sim/check/durability.ts';
  const mutants: CaughtMutant<Checker>[] = [
    {
      mutant: {
        name: 'durability-ignores-older-index',
        description: 'a read of an older version than the acknowledged write is accepted',
        edits: [{ file: FILE, find: 'else if (out.index < index) problem', replace: 'else if (out.index < index - 1000) problem' }],
      },
      caughtBy: (c) => planted.readOfAnOlderVersion(c).ok,
    },
    {
      mutant: {
        name: 'durability-any-removal-explains',
        description: 'a key found missing is always taken as deleted',
        edits: [{ file: FILE, find: 'if (!explained) problem', replace: 'if (explained && !explained) problem' }],
      },
      caughtBy: (c) => planted.keyVanished(c).ok,
    },
    {
      mutant: {
        name: 'durability-judges-by-read-return',
        description: 'a write acknowledged before the read returned (rather than before it began) must be seen',
        edits: [{ file: FILE, find: 'writes[next]!.ret < read.call', replace: 'writes[next]!.ret < read.ret' }],
      },
      caughtBy: (c) => fc.check(fc.property(plannedOps(40, 30, 2), (plan) => c.checkAckedWrites(etcdHistory(plan)).ok), { numRuns: 300, seed: 7 }).failed,
    },
  ];
  itCatchesEachMutant(FILE, mutants, ['sim/check']);
});
