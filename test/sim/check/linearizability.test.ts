import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EtcdInput, EtcdOutput, Operation, RegisterInput, RegisterOutput } from '../../../sim/check/history.ts';
import * as real from '../../../sim/check/linearizability.ts';
import { etcdModel } from '../../../sim/check/models/etcd.ts';
import { kvModel } from '../../../sim/check/models/kv.ts';
import { registerModel } from '../../../sim/check/models/register.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { itCatchesEachMutant, type CaughtMutant } from '../../support/mutants.ts';
import { etcdHistory, kvHistory, plannedOps, registerHistory } from './generate.ts';

type Checker = typeof real;
const RUNS = 200;

function op<I, O>(id: number, client: number, key: string, input: I, output: O | null, call: number, ret: number, outcome: 'ok' | 'info' | 'fail' = 'ok'): Operation<I, O> {
  return { id, client, key, input, output: outcome === 'ok' ? output : null, outcome, call, ret };
}
const reg = (id: number, client: number, input: RegisterInput, output: RegisterOutput | null, call: number, ret: number, outcome: 'ok' | 'info' | 'fail' = 'ok') =>
  op<RegisterInput, RegisterOutput>(id, client, '', input, output, call, ret, outcome);
const etcd = (id: number, client: number, input: EtcdInput, output: EtcdOutput | null, call: number, ret: number, outcome: 'ok' | 'info' | 'fail' = 'ok') =>
  op<EtcdInput, EtcdOutput>(id, client, '/a', input, output, call, ret, outcome);

// Each scenario returns whether the checker judged it right, so the same scenario runs against mutants.
const scenarios = {
  /** A read that returned a value written by a write invoked only after the read had returned. */
  readFromTheFuture(c: Checker): boolean {
    const ops = [reg(0, 0, { f: 'read' }, 7, 0, 10), reg(1, 1, { f: 'write', value: 7 }, true, 20, 30)];
    return c.checkLinearizability(registerModel, ops).verdict === 'non-linearizable';
  },
  /** etcd: a quorum read returns the version a completed write had already replaced. */
  staleRead(c: Checker): boolean {
    const ops = [
      etcd(0, 0, { f: 'set', value: 'one' }, { index: 4 }, 0, 10),
      etcd(1, 0, { f: 'set', value: 'two' }, { index: 5 }, 20, 30),
      etcd(2, 1, { f: 'get' }, { value: 'one', index: 4 }, 40, 50),
    ];
    const r = c.checkLinearizability(etcdModel, ops);
    return r.verdict === 'non-linearizable' && r.partitions[0]!.failure!.blocked === 2 && r.partitions[0]!.failure!.window.includes(1);
  },
  /** An indeterminate write may take effect long after its client gave up. */
  infoTakesEffectLate(c: Checker): boolean {
    const ops = [
      reg(0, 0, { f: 'write', value: 1 }, null, 0, 5, 'info'),
      reg(1, 1, { f: 'read' }, 'nil', 10, 20),
      reg(2, 1, { f: 'read' }, 1, 30, 40),
    ];
    return c.checkLinearizability(registerModel, ops).verdict === 'linearizable';
  },
  /** etcd: a write's index below one that was already observed (rank pruning; the model alone misses it). */
  indexOrder(c: Checker): boolean {
    const ops = [
      etcd(0, 0, { f: 'set', value: 'i' }, null, 0, 100, 'info'),
      etcd(1, 1, { f: 'set', value: 'p' }, { index: 9 }, 10, 40),
      etcd(2, 2, { f: 'set', value: 'q' }, { index: 8 }, 10, 40),
      etcd(3, 3, { f: 'get' }, { value: 'q', index: 8 }, 50, 60),
    ];
    return c.checkLinearizability(etcdModel, ops).verdict === 'non-linearizable';
  },
  /**
   * Steps the search takes over 12 concurrent writes with distinct returned indexes and a read no order explains.
   * The model alone refuses every order that is not by index, but only after trying it: without the index ranks
   * the search visits every subset of the writes (thousands of steps); with them, one order.
   */
  stepsOverConcurrentIndexedWrites(c: Checker): number {
    const writes = Array.from({ length: 12 }, (_, i) => etcd(i, i, { f: 'set', value: String(i) }, { index: 10 + i }, 0, 100));
    return c.checkLinearizability(etcdModel, [...writes, etcd(12, 12, { f: 'get' }, { value: 'never written', index: 22 }, 200, 210)]).steps;
  },
};

describe('linearizability: planted bugs and their correct twins', () => {
  it('rejects a read from the future', () => expect(scenarios.readFromTheFuture(real)).toBe(true));
  it('rejects a stale quorum read and names the blocked read and the overwriting write', () => expect(scenarios.staleRead(real)).toBe(true));
  it('lets an indeterminate write take effect after its timeout', () => expect(scenarios.infoTakesEffectLate(real)).toBe(true));
  it('uses returned etcd indexes to order writes', () => expect(scenarios.indexOrder(real)).toBe(true));
  it('lets returned etcd indexes prune the search to the one order they allow', () => expect(scenarios.stepsOverConcurrentIndexedWrites(real)).toBeLessThan(200));

  it('accepts the correct twins', () => {
    const ok = [reg(0, 1, { f: 'write', value: 7 }, true, 0, 10), reg(1, 0, { f: 'read' }, 7, 20, 30)];
    expect(real.checkLinearizability(registerModel, ok).verdict).toBe('linearizable');
    const fresh = [
      etcd(0, 0, { f: 'set', value: 'one' }, { index: 4 }, 0, 10),
      etcd(1, 0, { f: 'set', value: 'two' }, { index: 5 }, 20, 30),
      etcd(2, 1, { f: 'get' }, { value: 'two', index: 5 }, 40, 50),
      // Non-quorum reads may be stale in etcd v2: they are not judged.
      etcd(3, 2, { f: 'get', quorum: false }, { value: 'one', index: 4 }, 40, 50),
    ];
    expect(real.checkLinearizability(etcdModel, fresh).verdict).toBe('linearizable');
    const ordered = [
      etcd(0, 0, { f: 'set', value: 'i' }, null, 0, 100, 'info'),
      etcd(1, 1, { f: 'set', value: 'p' }, { index: 9 }, 10, 40),
      etcd(2, 2, { f: 'set', value: 'q' }, { index: 8 }, 10, 40),
      etcd(3, 3, { f: 'get' }, { value: 'p', index: 9 }, 50, 60),
    ];
    expect(real.checkLinearizability(etcdModel, ordered).verdict).toBe('linearizable');
  });

  it('takes a TTL expiry from the history as an operation of the store', () => {
    const ops = [
      etcd(0, 0, { f: 'set', value: 'lease', ttl: 1 }, { index: 3 }, 0, 10),
      etcd(1, 1, { f: 'get' }, { value: 'lease', index: 3 }, 20, 30),
      etcd(3, 1, { f: 'get' }, { error: 100, index: 4 }, 1500, 1510),
    ];
    expect(real.checkLinearizability(etcdModel, ops).verdict).toBe('non-linearizable');
    const expiry = etcd(2, -1, { f: 'expire' }, { index: 4 }, 1000, 1100);
    expect(real.checkLinearizability(etcdModel, [...ops, expiry]).verdict).toBe('linearizable');
    // An expiry cannot come before the write it expires.
    const early = etcd(2, -1, { f: 'expire' }, { index: 2 }, 1000, 1100);
    expect(real.checkLinearizability(etcdModel, [...ops, early]).verdict).toBe('non-linearizable');
  });

  it('an indeterminate write cannot un-happen, and a failed one never happened', () => {
    const unhappen = [
      reg(0, 0, { f: 'write', value: 1 }, null, 0, 5, 'info'),
      reg(1, 1, { f: 'read' }, 1, 10, 20),
      reg(2, 1, { f: 'read' }, 'nil', 30, 40),
    ];
    expect(real.checkLinearizability(registerModel, unhappen).verdict).toBe('non-linearizable');
    const failed = [reg(0, 0, { f: 'write', value: 1 }, null, 0, 5, 'fail'), reg(1, 1, { f: 'read' }, 1, 10, 20)];
    expect(real.checkLinearizability(registerModel, failed).verdict).toBe('non-linearizable');
  });

  it("reads Jepsen's failed cas as having happened and seen another value", () => {
    const sawSame = [reg(0, 0, { f: 'write', value: 3 }, true, 0, 5), reg(1, 0, { f: 'cas', from: 3, to: 4 }, false, 10, 20)];
    expect(real.checkLinearizability(registerModel, sawSame).verdict).toBe('non-linearizable');
    const sawOther = [reg(0, 0, { f: 'write', value: 2 }, true, 0, 5), reg(1, 0, { f: 'cas', from: 3, to: 4 }, false, 10, 20)];
    expect(real.checkLinearizability(registerModel, sawOther).verdict).toBe('linearizable');
  });

  it('checks keys independently and reports the failing one', () => {
    const ops = [
      op(0, 0, 'x', { f: 'put' as const, value: 'a' }, null, 0, 10),
      op(1, 1, 'y', { f: 'put' as const, value: 'b' }, null, 0, 10),
      op(2, 0, 'x', { f: 'get' as const }, 'a', 20, 30),
      op(3, 1, 'y', { f: 'get' as const }, 'a', 20, 30),
    ];
    const r = real.checkLinearizability(kvModel, ops, { stopAtFirstFailure: false });
    expect(r.verdict).toBe('non-linearizable');
    expect(r.partitions.map((p) => [p.key, p.verdict]).sort()).toEqual([
      ['x', 'linearizable'],
      ['y', 'non-linearizable'],
    ]);
    expect(r.explanation).toMatch(/^key "y": operation 3 \(client 1, get\(\) -> "a"/);
  });

  it('says unknown, not a wrong answer, when the budget runs out', () => {
    // Many concurrent writes and reads of distinct values: a large search space.
    const ops: Operation<RegisterInput, RegisterOutput>[] = [];
    for (let i = 0; i < 40; i++) ops.push(reg(i, i, { f: 'write', value: i }, null, 0, 1000, 'info'));
    for (let i = 0; i < 20; i++) ops.push(reg(40 + i, 40 + i, { f: 'read' }, 39 - i, 10 + i, 2000));
    ops.push(reg(60, 60, { f: 'read' }, 1000, 3000, 3001));
    const r = real.checkLinearizability(registerModel, ops, { maxSteps: 20_000 });
    expect(r.verdict).toBe('unknown');
    expect(r.explanation).toMatch(/budget exhausted/);
    expect(real.checkLinearizability(registerModel, ops, { maxVisited: 1000 }).verdict).toBe('unknown');
  });
});

// Properties: sequential executions with random overlap are linearizable; corrupting one read breaks that.
const histories = {
  register: { model: registerModel, build: registerHistory, corrupt: () => 12345 as RegisterOutput, isRead: (i: { f: string }) => i.f === 'read' },
  kv: { model: kvModel, build: kvHistory, corrupt: () => 'never-written', isRead: (i: { f: string }) => i.f === 'get' },
  etcd: { model: etcdModel, build: etcdHistory, corrupt: (o: unknown) => ({ ...(o as object), value: 'never-written' }), isRead: (i: { f: string }) => i.f === 'get' },
} as const;

type Kind = keyof typeof histories;

function linearizableProperty(c: Checker, kind: Kind) {
  const h = histories[kind];
  return fc.property(plannedOps(30, 40, 3), (plan) => {
    const ops = (h.build as (p: typeof plan) => Operation[])(plan);
    const r = c.checkLinearizability(h.model as never, ops as never);
    return r.verdict === 'linearizable';
  });
}

function corruptedProperty(c: Checker, kind: Kind) {
  const h = histories[kind];
  return fc.property(plannedOps(30, 40, 3), fc.nat(), (plan, pick) => {
    const ops = (h.build as (p: typeof plan) => Operation[])(plan);
    const reads = ops.filter((o) => o.outcome === 'ok' && h.isRead(o.input as { f: string }) && (o.output as { error?: number }).error === undefined);
    fc.pre(reads.length > 0);
    const victim = reads[pick % reads.length]!;
    const corrupted = ops.map((o) => (o === victim ? { ...o, output: h.corrupt(o.output) } : o));
    return c.checkLinearizability(h.model as never, corrupted as never).verdict === 'non-linearizable';
  });
}

describe('linearizability properties', () => {
  for (const kind of Object.keys(histories) as Kind[]) {
    it(`${kind}: sequential executions with random overlap and indeterminate operations are linearizable`, () => {
      fc.assert(linearizableProperty(real, kind), { numRuns: RUNS });
    });
    it(`${kind}: one read corrupted to a never-written value is not linearizable`, () => {
      fc.assert(corruptedProperty(real, kind), { numRuns: RUNS });
    });
  }
});

// Mutants of the checker itself: each must make at least one of the tests above fail.
const FILE = 'sim/check/linearizability.ts';
const VISITED = 'sim/check/visited.ts';
const mutants: CaughtMutant<Checker>[] = [
  {
    mutant: {
      name: 'accept-before-invocation',
      description: 'every call entry sorts at the beginning of time, so an operation may take effect before it was invoked',
      edits: [{ file: FILE, find: 'entryTime[i] = ordered[i]!.call;', replace: 'entryTime[i] = -Infinity;' }],
    },
    caughtBy: (c) => !scenarios.readFromTheFuture(c),
  },
  {
    mutant: {
      name: 'info-blocks-completion',
      description: 'indeterminate operations get a return entry, so they must take effect before the client gave up',
      edits: [{ file: FILE, find: "const definite = ops.filter((op) => op.outcome === 'ok')", replace: "const definite = ops.filter((op) => op.outcome !== 'fail')" }],
    },
    caughtBy: (c) => !scenarios.infoTakesEffectLate(c),
  },
  {
    mutant: {
      name: 'ranks-ignored',
      description: 'the etcd index order does not prune the search (the model still refuses out-of-order indexes, later)',
      edits: [{ file: FILE, find: 'if (rankedBefore[op]! <= rankedDone || ranks[op] === undefined) {', replace: 'if (true) {' }],
    },
    caughtBy: (c) => scenarios.stepsOverConcurrentIndexedWrites(c) > 2000,
  },
  {
    mutant: {
      name: 'memo-ignores-state',
      description: 'the visited set forgets the model state, so two different states with one linearized set look the same',
      edits: [
        { file: VISITED, find: 'if (same && this.equal(this.states[g]!, state)) {', replace: 'if (same) {' },
        { file: FILE, find: 'visited.add(hash1, hash2, model.hash(state) | 0,', replace: 'visited.add(hash1, hash2, 0,' },
      ],
    },
    caughtBy: (c) => fc.check(linearizableProperty(c, 'register'), { numRuns: RUNS, seed: 42 }).failed,
  },
  {
    mutant: {
      name: 'skip-unplaceable-return',
      description: 'a return entry of an operation not yet linearized is walked past instead of backtracking',
      edits: [{ file: FILE, find: '    // A return of an operation not linearized: every order from here has failed.\n', replace: '    if (depth >= 0) { entry = next[entry]!; continue; }\n' }],
    },
    caughtBy: (c) => fc.check(corruptedProperty(c, 'kv'), { numRuns: RUNS, seed: 42 }).failed,
  },
];

describe('mutants of the linearizability checker are caught', () => itCatchesEachMutant(FILE, mutants, ['sim/check']));

// An oracle: the definition itself, by brute force over every order, for histories small enough to enumerate.
function bruteForce<S, I, O>(model: { init(): S; step(s: S, i: I, o: O | null): S | undefined }, ops: Operation<I, O>[]): boolean {
  const live = ops.filter((o) => o.outcome !== 'fail');
  const definite = live.filter((o) => o.outcome === 'ok').length;
  const done = new Set<number>();
  const search = (state: S, definiteDone: number): boolean => {
    if (definiteDone === definite) return true;
    for (const o of live) {
      if (done.has(o.id)) continue;
      // Everything that returned before o was invoked must already have taken effect.
      if (live.some((p) => p.outcome === 'ok' && !done.has(p.id) && p !== o && p.ret < o.call)) continue;
      const next = model.step(state, o.input, o.outcome === 'ok' ? o.output : null);
      if (next === undefined) continue;
      done.add(o.id);
      const ok = search(next, definiteDone + (o.outcome === 'ok' ? 1 : 0));
      done.delete(o.id);
      if (ok) return true;
    }
    return false;
  };
  return search(model.init(), 0);
}

const small = fc.array(
  fc.record({
    f: fc.constantFrom('read', 'write', 'cas'),
    a: fc.nat(2),
    b: fc.nat(2),
    out: fc.oneof(fc.nat(2), fc.constant(-1), fc.boolean()),
    call: fc.nat(40),
    len: fc.nat(30),
    outcome: fc.constantFrom('ok', 'ok', 'ok', 'info', 'fail'),
  }),
  { minLength: 1, maxLength: 7 },
);

describe('linearizability agrees with brute force on small arbitrary histories', () => {
  it('register histories with random outputs (both verdicts occur)', () => {
    const seen = { linearizable: 0, not: 0 };
    fc.assert(oracleProperty(real, seen), { numRuns: 500 });
    expect(seen.linearizable).toBeGreaterThan(20);
    expect(seen.not).toBeGreaterThan(20);
  });
  it('a mutant whose dominance rule points the wrong way disagrees with the oracle', async () => {
    const mutant: Mutant = {
      name: 'dominance-reversed',
      description: 'a configuration is pruned when one that used more indeterminate operations was visited',
      edits: [{ file: VISITED, find: 'subset = (this.pool[off + k]! & ~bits[infoFrom + k]!) === 0', replace: 'subset = (bits[infoFrom + k]! & ~this.pool[off + k]!) === 0' }],
    };
    const failed = await withMutant(mutant, FILE, (mod: Checker) => fc.check(oracleProperty(mod, { linearizable: 0, not: 0 }), { numRuns: 2000, seed: 42 }).failed, { dirs: ['sim/check'] });
    expect(failed).toBe(true);
  });
});

function oracleProperty(c: Checker, seen: { linearizable: number; not: number }) {
  return fc.property(small, (raw) => {
    const ops = raw.map((r, id): Operation<RegisterInput, RegisterOutput> => {
      const input: RegisterInput = r.f === 'read' ? { f: 'read' } : r.f === 'write' ? { f: 'write', value: r.a } : { f: 'cas', from: r.a, to: r.b };
      let output: RegisterOutput = true;
      if (r.f === 'read') output = typeof r.out === 'number' ? (r.out < 0 ? 'nil' : r.out) : 'nil';
      if (r.f === 'cas') output = typeof r.out === 'boolean' ? r.out : r.out > 0;
      const outcome = r.outcome as 'ok' | 'info' | 'fail';
      // Each operation its own client, so any overlap is possible.
      return { id, client: id, key: '', input, output: outcome === 'ok' ? output : null, outcome, call: r.call, ret: r.call + r.len };
    });
    const expected = bruteForce(registerModel, ops);
    if (expected) seen.linearizable++;
    else seen.not++;
    return (c.checkLinearizability(registerModel, ops).verdict === 'linearizable') === expected;
  });
}

// The essential reads are a claim: the key's writes up to windowEnd (those still running then taken as
// indeterminate) with only these reads admit no order. The oracle verifies the claim.
function essentialClaimHolds(c: Checker, ops: Operation<RegisterInput, RegisterOutput>[]): boolean {
  const r = c.checkLinearizability(registerModel, ops);
  const failure = r.partitions.find((p) => p.failure)?.failure;
  if (!failure?.essentialReads) return true;
  const keep = new Set(failure.essentialReads);
  const claimed = ops
    .filter((o) => o.outcome !== 'fail' && o.call <= failure.windowEnd)
    .filter((o) => o.input.f !== 'read' || (o.outcome === 'ok' && keep.has(o.id) && o.ret <= failure.windowEnd))
    .map((o) => (o.outcome === 'ok' && o.ret > failure.windowEnd ? { ...o, outcome: 'info' as const, output: null } : o));
  return !bruteForce(registerModel, claimed);
}

describe('the essential reads of a failure', () => {
  const histories = small.map((raw) =>
    raw.map((r, id): Operation<RegisterInput, RegisterOutput> => {
      const input: RegisterInput = r.f === 'read' ? { f: 'read' } : r.f === 'write' ? { f: 'write', value: r.a } : { f: 'cas', from: r.a, to: r.b };
      let output: RegisterOutput = true;
      if (r.f === 'read') output = typeof r.out === 'number' ? (r.out < 0 ? 'nil' : r.out) : 'nil';
      if (r.f === 'cas') output = typeof r.out === 'boolean' ? r.out : r.out > 0;
      const outcome = r.outcome as 'ok' | 'info' | 'fail';
      return { id, client: id, key: '', input, output: outcome === 'ok' ? output : null, outcome, call: r.call, ret: r.call + r.len };
    }),
  );

  it('are, with the writes, not linearizable on their own (checked by brute force)', () => {
    fc.assert(fc.property(histories, (ops) => essentialClaimHolds(real, ops)), { numRuns: 500 });
  });

  it('a minimizer that may drop writes makes false claims', async () => {
    const mutant: Mutant = {
      name: 'minimizer-drops-writes',
      description: 'the shrinking treats writes as droppable too, so the claim "these reads with all the writes" is no longer what was shown',
      edits: [
        { file: FILE, find: "let reads = cut.filter((op) => op.outcome === 'ok' && model.readOnly(op.input)).map((op) => op.id);", replace: 'let reads = cut.map((op) => op.id);' },
        { file: FILE, find: "const others = cut.filter((op) => !(op.outcome === 'ok' && model.readOnly(op.input)));", replace: 'const others: typeof cut = [];' },
      ],
    };
    const failed = await withMutant(mutant, FILE, (mod: Checker) => fc.check(fc.property(histories, (ops) => essentialClaimHolds(mod, ops)), { numRuns: 2000, seed: 42 }).failed, { dirs: ['sim/check'] });
    expect(failed).toBe(true);
  });
});
