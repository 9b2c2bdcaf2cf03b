import { describe, expect, it } from 'vitest';
import type { EtcdInput, EtcdOutput, Operation } from '../../../sim/check/history.ts';
import * as real from '../../../sim/check/ttl.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';

type Checker = typeof real;
type Op = Operation<EtcdInput, EtcdOutput>;
const options = { expiryTickMs: 500, clockErrorMs: 100 };

const op = (id: number, input: EtcdInput, output: EtcdOutput | null, call: number, ret: number, key = '/lease'): Op => ({
  id,
  client: id,
  key,
  input,
  output,
  outcome: output === null ? 'info' : 'ok',
  call,
  ret,
});

// A key written with a 2 s TTL at 0..10 ms: gone for sure by 10 + 2000 + 500 + 100 = 2610 ms.
const write = op(0, { f: 'set', value: 'v', ttl: 2 }, { index: 5 }, 0, 10);

const planted = {
  expiredKeyReadBack(c: Checker): string[] {
    const ops = [write, op(1, { f: 'get' }, { value: 'v', index: 5 }, 2700, 2710)];
    return c.checkTtl(ops, options).violations.map((v) => v.property);
  },
  refreshedKeyExpired(c: Checker): string[] {
    // Refreshed at 1500 ms with another 2 s: it may not vanish before 1500 + 2000 - 100 = 3400 ms.
    const ops = [write, op(1, { f: 'set', value: 'v', ttl: 2 }, { index: 9 }, 1500, 1510), op(2, { f: 'get' }, { error: 100, index: 9 }, 3000, 3010)];
    return c.checkTtl(ops, options).violations.map((v) => v.property);
  },
};

describe('ttl checker', () => {
  it('catches an expired key read back after its deadline plus slack', () => {
    expect(planted.expiredKeyReadBack(real)).toEqual(['expired-read']);
    const r = real.checkTtl([write, op(1, { f: 'get' }, { value: 'v', index: 5 }, 2700, 2710)], options);
    expect(r.violations[0]!.explanation).toBe(
      'key "/lease": get op 1 invoked at 2700 ms returned the version written by op 0 (index 5, ttl 2 s, completed at 10 ms), which had to be gone by 2610 ms',
    );
  });
  it('catches a refreshed key that expired early', () => expect(planted.refreshedKeyExpired(real)).toEqual(['early-expiry']));

  it('accepts reads inside the slack, expiry after the deadline, and a refreshed key read late', () => {
    const ops = [
      write,
      op(1, { f: 'get' }, { value: 'v', index: 5 }, 2600, 2605), // before 2610: the tick may not have come yet
      op(2, { f: 'get' }, { error: 100, index: 5 }, 2700, 2710),
      op(3, { f: 'set', value: 'w', ttl: 2 }, { index: 6 }, 3000, 3010),
      op(4, { f: 'set', value: 'w', ttl: 2 }, { index: 7 }, 4000, 4010), // refresh
      op(5, { f: 'get' }, { value: 'w', index: 7 }, 5500, 5510),
      op(6, { f: 'get' }, { error: 100, index: 7 }, 6600, 6610),
      // Non-quorum reads may lag: not judged.
      op(7, { f: 'get', quorum: false }, { value: 'v', index: 5 }, 9000, 9010),
    ];
    const r = real.checkTtl(ops, options);
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('does not judge a vanished key when something else may have removed it', () => {
    const ops = [write, op(1, { f: 'delete' }, null, 100, 200), op(2, { f: 'get' }, { error: 100, index: 6 }, 300, 310)];
    expect(real.checkTtl(ops, options).ok).toBe(true);
  });
});

const FILE = 'sim/check/ttl.ts';
const mutants: Array<{ mutant: Mutant; caughtBy: (c: Checker) => boolean }> = [
  {
    mutant: { name: 'expiry-deadline-ignored', description: 'reads of an expired version are never judged', edits: [{ file: FILE, find: 'if (read.call > deadline) {', replace: 'if (read.call > Infinity) {' }] },
    caughtBy: (c) => !planted.expiredKeyReadBack(c).includes('expired-read'),
  },
  {
    mutant: { name: 'first-write-counts', description: 'the deadline is measured from the first write, ignoring refreshes', edits: [{ file: FILE, find: '(!last || m.ret > last.ret)', replace: '(!last || m.ret < last.ret)' }] },
    caughtBy: (c) => !planted.refreshedKeyExpired(c).includes('early-expiry'),
  },
];

describe('mutants of the ttl checker are caught', () => {
  for (const { mutant, caughtBy } of mutants) {
    it(`${mutant.name}: ${mutant.description}`, async () => {
      expect(await withMutant(mutant, FILE, (mod: Checker) => caughtBy(mod), { dirs: ['sim/check'] })).toBe(true);
    });
  }
});
