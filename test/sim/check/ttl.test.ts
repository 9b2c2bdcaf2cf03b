import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EtcdInput, EtcdOutput, Operation } from '../../../sim/check/history.ts';
import { checkLinearizability } from '../../../sim/check/linearizability.ts';
import { etcdModel } from '../../../sim/check/models/etcd.ts';
import * as real from '../../../sim/check/ttl.ts';
import { itCatchesEachMutant, type CaughtMutant } from '../../support/mutants.ts';
import { etcdOp } from './generate.ts';

type Checker = typeof real;
type Op = Operation<EtcdInput, EtcdOutput>;
const options = { expiryTickMs: 500, clockErrorMs: 100 };

const op = (id: number, input: EtcdInput, output: EtcdOutput | null, call: number, ret: number, key = '/lease'): Op => etcdOp(id, input, output, call, ret, key);

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
  /** A service instance that died after registering: the store never expires its key, and nobody reads it. */
  deadInstanceNeverExpired(c: Checker): string[] {
    return c.checkTtl([write], { ...options, observedUntilMs: 10_000 }).violations.map((v) => v.property);
  },
  /** A live instance refreshed at 1500 ms; the store expires it at 2000 ms, before 1500 + 2000 - 100 = 3400 ms. */
  liveInstanceExpiredByTheStore(c: Checker): string[] {
    const ops = [write, op(1, { f: 'update', value: 'v', ttl: 2 }, { index: 9 }, 1500, 1510), op(2, { f: 'expire' }, { index: 10 }, 1990, 2000)];
    return c.checkTtl(ops, { ...options, observedUntilMs: 10_000 }).violations.map((v) => v.property);
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

  it('gives leaderless periods their length and one tick more', () => {
    // Deadline 2610 ms; a 1000 ms leaderless period inside the window pushes it to 2610 + 1000 + 500 = 4110 ms.
    const late = [write, op(1, { f: 'get' }, { value: 'v', index: 5 }, 4000, 4010)];
    expect(real.checkTtl(late, options).ok).toBe(false);
    expect(real.checkTtl(late, { ...options, leaderless: [{ from: 1000, to: 2000 }] }).ok).toBe(true);
    const later = [write, op(1, { f: 'get' }, { value: 'v', index: 5 }, 4200, 4210)];
    expect(real.checkTtl(later, { ...options, leaderless: [{ from: 1000, to: 2000 }] }).ok).toBe(false);
  });

  it("judges the store's own expirations: a dead instance's key must go by its deadline, a live one not before it is due", () => {
    expect(planted.deadInstanceNeverExpired(real)).toEqual(['late-expiry']);
    expect(planted.liveInstanceExpiredByTheStore(real)).toEqual(['early-expiry']);
    const ttl = { ...options, observedUntilMs: 10_000 };
    // Expired at 2300 ms: after 0 + 2000 - 100 (not early) and before 2610 (not late).
    const expired = [write, op(1, { f: 'expire' }, { index: 6 }, 2290, 2300)];
    expect(real.checkTtl(expired, ttl).violations).toEqual([]);
    expect(real.checkTtl(expired, ttl).summary).toMatch(/1 expirations not early, 1 abandoned versions expired in time/);
    // Expired too late, at 2700 ms.
    const late = [write, op(1, { f: 'expire' }, { index: 6 }, 2690, 2700)];
    expect(real.checkTtl(late, ttl).violations[0]!.explanation).toBe(
      'key "/lease": the version op 0 wrote (index 5, ttl 2 s, completed at 10 ms) was left alone but expired only at 2700 ms; it had to be gone by 2610 ms',
    );
    // A key written without a TTL is never the store's to expire.
    const forever = [op(0, { f: 'set', value: 'v' }, { index: 5 }, 0, 10), op(1, { f: 'expire' }, { index: 6 }, 50_000, 50_010)];
    expect(real.checkTtl(forever, ttl).violations.map((v) => v.explanation)).toEqual([
      'key "/lease": the store expired it at index 6 (50000..50010 ms) after op 0 (index 5, 0..10 ms), but no version it could have removed had a TTL',
    ]);
  });

  it('does not expect an expiration the run did not watch for long enough, or one something else may have made unnecessary', () => {
    // Deadline 2610 ms: not judged when expirations were recorded only until 2600 ms, nor without observedUntilMs.
    expect(real.checkTtl([write], { ...options, observedUntilMs: 2600 }).ok).toBe(true);
    expect(real.checkTtl([write], options).ok).toBe(true);
    // Rewritten before its deadline: the old version never had to expire.
    expect(real.checkTtl([write, op(1, { f: 'set', value: 'w' }, { index: 6 }, 2000, 2010)], { ...options, observedUntilMs: 10_000 }).ok).toBe(true);
    // An indeterminate write may have refreshed it at any time.
    expect(real.checkTtl([write, op(1, { f: 'update', value: 'v', ttl: 2 }, null, 1000, 3000)], { ...options, observedUntilMs: 10_000 }).ok).toBe(true);
    // A leaderless period widens the deadline: 2610 + 1000 + 500.
    const late = [write, op(1, { f: 'expire' }, { index: 6 }, 3990, 4000)];
    expect(real.checkTtl(late, { ...options, observedUntilMs: 10_000 }).ok).toBe(false);
    expect(real.checkTtl(late, { ...options, observedUntilMs: 10_000, leaderless: [{ from: 1000, to: 2000 }] }).ok).toBe(true);
  });

  it('does not judge a vanished key when something else may have removed it', () => {
    const ops = [write, op(1, { f: 'delete' }, null, 100, 200), op(2, { f: 'get' }, { error: 100, index: 6 }, 300, 310)];
    expect(real.checkTtl(ops, options).ok).toBe(true);
  });
});

// Correct executions of a store with TTLs: the leader stamps deadlines with its clock, expiry ticks carry
// another clock (a later leader's) at most `skew` away and are applied up to `latency` after they are proposed.
const ttlPlans = fc.record({
  skew: fc.nat(300),
  interval: fc.integer({ min: 100, max: 1000 }),
  latency: fc.nat(200),
  phase: fc.nat(999),
  stampOffset: fc.nat(300),
  tickOffset: fc.nat(300),
  ops: fc.array(fc.record({ gap: fc.integer({ min: 1, max: 900 }), kind: fc.nat(9), key: fc.nat(1), ttl: fc.nat(3), before: fc.nat(40), after: fc.nat(40) }), { minLength: 5, maxLength: 60 }),
});

type Plan = typeof ttlPlans extends fc.Arbitrary<infer T> ? T : never;

function ttlExecution(plan: Plan): { ops: Op[]; options: real.TtlOptions } {
  const stampOffset = Math.min(plan.stampOffset, plan.skew);
  const tickOffset = Math.min(plan.tickOffset, plan.skew);
  const store = new Map<string, { value: string; index: number; deadline?: number }>();
  const ops: Op[] = [];
  let index = 0;
  let now = 0;
  let nextTick = plan.phase;
  const expireUpTo = (t: number): void => {
    // Ticks proposed at nextTick with the tick clock, applied `latency` later.
    while (nextTick + plan.latency <= t) {
      const reading = nextTick + tickOffset;
      for (const [key, node] of [...store]) {
        if (node.deadline !== undefined && node.deadline <= reading) {
          store.delete(key);
          index++;
          ops.push({ id: ops.length, client: -1, key, input: { f: 'expire' }, output: { index }, outcome: 'ok', call: nextTick, ret: nextTick + plan.latency });
        }
      }
      nextTick += plan.interval;
    }
  };
  const finish = (): { ops: Op[]; options: real.TtlOptions } => {
    // Expirations are recorded for a while after the last operation, so abandoned versions are judged too.
    const end = now + 10_000;
    expireUpTo(end);
    return { ops, options: { expiryTickMs: plan.interval + plan.latency, clockErrorMs: plan.skew, observedUntilMs: end } };
  };
  for (const p of plan.ops) {
    now += p.gap;
    expireUpTo(now);
    const key = `/k${p.key}`;
    const node = store.get(key);
    const call = now - p.before;
    const ret = now + p.after;
    if (p.kind < 5) {
      ops.push({ id: ops.length, client: ops.length, key, input: { f: 'get' }, output: node ? { value: node.value, index: node.index } : { error: 100, index }, outcome: 'ok', call, ret });
    } else if (p.kind < 9) {
      index++;
      const ttl = p.ttl === 0 ? undefined : p.ttl;
      store.set(key, { value: `v${index}`, index, deadline: ttl === undefined ? undefined : now + stampOffset + ttl * 1000 });
      const input: EtcdInput = ttl === undefined ? { f: 'set', value: `v${index}` } : { f: 'set', value: `v${index}`, ttl };
      ops.push({ id: ops.length, client: ops.length, key, input, output: { index }, outcome: 'ok', call, ret });
    } else if (node) {
      store.delete(key);
      index++;
      ops.push({ id: ops.length, client: ops.length, key, input: { f: 'delete' }, output: { index }, outcome: 'ok', call, ret });
    }
  }
  return finish();
}

describe('ttl checker over generated correct executions', () => {
  it('finds no violation, and the histories (with expiries as operations) are linearizable', () => {
    fc.assert(
      fc.property(ttlPlans, (plan) => {
        const { ops, options } = ttlExecution(plan);
        const r = real.checkTtl(ops, options);
        if (!r.ok) throw new Error(r.summary);
        return checkLinearizability(etcdModel, ops).verdict === 'linearizable';
      }),
      { numRuns: 300 },
    );
  });

  it('catches a missing expiration of an abandoned version', () => {
    fc.assert(
      fc.property(ttlPlans, (plan) => {
        const { ops, options } = ttlExecution(plan);
        // An expiration that is the last change of its key: nothing else can stand in for it.
        const index = (o: Op): number => (o.output as { index: number }).index;
        const last = ops.filter((o) => o.input.f === 'expire' && !ops.some((x) => x.key === o.key && x.input.f !== 'get' && index(x) > index(o)));
        fc.pre(last.length > 0);
        const dropped = last[0]!;
        return real.checkTtl(ops.filter((o) => o !== dropped), options).violations.some((v) => v.property === 'late-expiry');
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('catches a read of the last TTL version just after its deadline', () => {
    fc.assert(
      fc.property(ttlPlans, (plan) => {
        const { ops, options } = ttlExecution(plan);
        const w = [...ops].reverse().find((o) => o.input.f === 'set' && o.input.ttl !== undefined);
        fc.pre(w !== undefined);
        const version = w!.output as { index: number };
        const at = w!.ret + (w!.input as { ttl: number }).ttl * 1000 + options.expiryTickMs + options.clockErrorMs + 1;
        const stale: Op = { id: ops.length, client: -2, key: w!.key, input: { f: 'get' }, output: { value: (w!.input as { value: string }).value, index: version.index }, outcome: 'ok', call: at, ret: at + 1 };
        return real.checkTtl([...ops, stale], options).violations.some((v) => v.property === 'expired-read');
      }),
      { numRuns: 300 },
    );
  });
});

const FILE = 'sim/check/ttl.ts';
const mutants: CaughtMutant<Checker>[] = [
  {
    mutant: { name: 'expiry-deadline-ignored', description: 'reads of an expired version are never judged', edits: [{ file: FILE, find: 'if (read.call > deadline) {', replace: 'if (read.call > Infinity) {' }] },
    caughtBy: (c) => !planted.expiredKeyReadBack(c).includes('expired-read'),
  },
  {
    mutant: {
      name: 'refresh-ignored',
      description: 'the write before the last one is taken as the one that set the TTL, so a refresh is missed',
      edits: [{ file: FILE, find: 'const lastWrite = changes[j]!;', replace: 'const lastWrite = changes[Math.max(0, j - 1)]!;' }],
    },
    caughtBy: (c) => !planted.refreshedKeyExpired(c).includes('early-expiry'),
  },
];

mutants.push({
  mutant: {
    name: 'no-tick-slack',
    description: 'the deadline forgets that expiry waits for the next tick',
    edits: [{ file: FILE, find: 'const deadline = write.ret + ttl + options.expiryTickMs + options.clockErrorMs', replace: 'const deadline = write.ret + ttl + options.clockErrorMs' }],
  },
  caughtBy: (c) => fc.check(fc.property(ttlPlans, (plan) => { const { ops, options } = ttlExecution(plan); return c.checkTtl(ops, options).ok; }), { numRuns: 300, seed: 42 }).failed,
});

mutants.push(
  {
    mutant: {
      name: 'missing-expiry-not-judged',
      description: 'a version left to expire is never required to be expired',
      edits: [{ file: FILE, find: 'if (ex === undefined || ex.ret > deadline) {', replace: 'if (ex !== undefined && ex.ret > deadline) {' }],
    },
    caughtBy: (c) => !planted.deadInstanceNeverExpired(c).includes('late-expiry'),
  },
  {
    mutant: {
      name: 'store-expiry-judged-by-the-first-write',
      description: "the store's expiration is judged against the key's first write, not the last one before it, so a refresh is missed",
      edits: [{ file: FILE, find: 'const write = byIndex[w];', replace: 'const write = byIndex[0];' }],
    },
    caughtBy: (c) => !planted.liveInstanceExpiredByTheStore(c).includes('early-expiry'),
  },
  {
    mutant: {
      name: 'abandoned-ignores-rewrite',
      description: 'a version rewritten before its deadline is still required to expire',
      edits: [{ file: FILE, find: 'if (next !== undefined && next.call <= deadline) return;', replace: '' }],
    },
    caughtBy: (c) => fc.check(fc.property(ttlPlans, (plan) => { const { ops, options } = ttlExecution(plan); return c.checkTtl(ops, options).ok; }), { numRuns: 300, seed: 42 }).failed,
  },
);

describe('mutants of the ttl checker are caught', () => itCatchesEachMutant(FILE, mutants, ['sim/check']));

