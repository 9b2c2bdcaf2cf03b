// The etcd key model against the real etcd v2 store (core/kv): operations run one at a time through the
// store, their replies recorded as outputs, then given random overlapping intervals, indeterminate and failed
// outcomes. The model must find every such history linearizable (so its error codes and indexes mean what the
// store's do), and must reject it once one read's value is tampered with.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keysRequest } from '../../../core/api/index.ts';
import { applyCommand, newStore, type KeysRequest } from '../../../core/kv/index.ts';
import type { EtcdInput, EtcdOutput, Operation, Outcome } from '../../../sim/check/history.ts';
import { checkLinearizability } from '../../../sim/check/linearizability.ts';
import { etcdModel } from '../../../sim/check/models/etcd.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { itCatchesEachMutant } from '../../support/mutants.ts';

const EPOCH = Date.UTC(2026, 10, 25, 8, 0, 0);

const plans = fc.array(
  fc.record({
    f: fc.constantFrom('get', 'get', 'set', 'create', 'update', 'cas', 'casIndex', 'delete', 'cad'),
    key: fc.nat(1),
    value: fc.nat(2),
    before: fc.nat(40),
    after: fc.nat(40),
    fate: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  }),
  { minLength: 1, maxLength: 30 },
);

function execute(plan: { f: string; key: number; value: number; before: number; after: number; fate: number }[]) {
  const store = newStore();
  const ops: Operation<EtcdInput, EtcdOutput>[] = [];
  const busy: number[] = [];
  plan.forEach((p, k) => {
    const path = `/k${p.key}`;
    const value = `v${p.value}`;
    const current = store.root.children![`k${p.key}`];
    let input: EtcdInput;
    let request: KeysRequest;
    switch (p.f) {
      case 'get':
        input = { f: 'get' };
        request = keysRequest('GET', path, { quorum: true });
        break;
      case 'set':
        input = { f: 'set', value };
        request = keysRequest('PUT', path, { value });
        break;
      case 'create':
        input = { f: 'create', value };
        request = keysRequest('PUT', path, { value, prevExist: false });
        break;
      case 'update':
        input = { f: 'update', value };
        request = keysRequest('PUT', path, { value, prevExist: true });
        break;
      case 'cas':
        input = { f: 'cas', value: `${value}'`, prevValue: value };
        request = keysRequest('PUT', path, { value: `${value}'`, prevValue: value });
        break;
      case 'casIndex': {
        const prevIndex = current && p.value < 2 ? current.modifiedIndex : 1000 + p.value;
        input = { f: 'cas', value, prevIndex };
        request = keysRequest('PUT', path, { value, prevIndex });
        break;
      }
      case 'delete':
        input = { f: 'delete' };
        request = keysRequest('DELETE', path);
        break;
      default:
        input = { f: 'cad', prevValue: value };
        request = keysRequest('DELETE', path, { prevValue: value });
    }
    const outcome: Outcome = p.fate === 0 ? 'ok' : p.fate === 3 ? 'fail' : 'info';
    // An indeterminate write may or may not have reached the store; a failed one did not.
    const applied = p.fate === 0 || p.fate === 1;
    let output: EtcdOutput | null = null;
    if (applied) {
      const result = applyCommand(store, { kind: 'request', request, timeMs: EPOCH + k }).result!;
      output = result.ok
        ? input.f === 'get'
          ? { value: result.event.node.value ?? '', index: result.event.node.modifiedIndex }
          : { index: result.event.node.modifiedIndex }
        : { error: result.error.errorCode, index: result.error.index };
    }
    const at = 10 * (k + 1);
    const call = at - p.before;
    let client = busy.findIndex((t) => t < call);
    if (client < 0) client = busy.length;
    busy[client] = outcome === 'info' ? Infinity : at + p.after;
    ops.push({ id: k, client, key: path, input, output: outcome === 'ok' ? output : null, outcome, call, ret: at + p.after });
  });
  return ops;
}

describe('the etcd key model against the etcd v2 store', () => {
  it('finds every history the store produced linearizable', () => {
    fc.assert(
      fc.property(plans, (plan) => checkLinearizability(etcdModel, execute(plan)).verdict === 'linearizable'),
      { numRuns: 300 },
    );
  });

  it('rejects a history with one read tampered with', () => {
    fc.assert(
      fc.property(plans, fc.nat(), (plan, pick) => {
        const ops = execute(plan);
        const reads = ops.filter((o) => o.outcome === 'ok' && o.input.f === 'get' && o.output !== null && !('error' in o.output));
        fc.pre(reads.length > 0);
        const victim = reads[pick % reads.length]!;
        victim.output = { ...(victim.output as { value: string; index: number }), value: 'never written' };
        return checkLinearizability(etcdModel, ops).verdict === 'non-linearizable';
      }),
      { numRuns: 300 },
    );
  });
});

// After a write whose outcome is unknown, the key's index is unknown but still above every index it had: a read
// of an older index, or a compare against one, stays impossible.
const op = (id: number, client: number, input: EtcdInput, output: EtcdOutput | null, call: number, ret: number): Operation<EtcdInput, EtcdOutput> => ({
  id,
  client,
  key: '/k',
  input,
  output,
  outcome: output === null ? 'info' : 'ok',
  call,
  ret,
});
const indeterminate = {
  readOfAnOlderIndex: [
    op(0, 1, { f: 'set', value: '1' }, { index: 5 }, 0, 1),
    op(1, 1, { f: 'set', value: '2' }, { index: 7 }, 2, 3),
    op(2, 2, { f: 'set', value: '1' }, null, 4, 100),
    op(3, 3, { f: 'get', quorum: true }, { value: '1', index: 5 }, 10, 11),
  ],
  compareAgainstAnOlderIndex: [
    op(0, 1, { f: 'set', value: 'a' }, { index: 5 }, 0, 1),
    op(1, 2, { f: 'set', value: 'b' }, null, 4, 100),
    op(2, 3, { f: 'cas', value: 'c', prevIndex: 3 }, { index: 9 }, 10, 11),
  ],
};
const refusedAfterIndeterminateWrite = (check: typeof checkLinearizability): boolean =>
  check(etcdModel, indeterminate.readOfAnOlderIndex).verdict === 'non-linearizable' &&
  check(etcdModel, indeterminate.compareAgainstAnOlderIndex).verdict === 'non-linearizable';

describe('the etcd key model after an indeterminate write', () => {
  it('refuses a read of an index older than one already acknowledged', () => {
    expect(checkLinearizability(etcdModel, indeterminate.readOfAnOlderIndex).verdict).toBe('non-linearizable');
  });

  it('refuses a compare-and-swap that matched an index the key had left behind', () => {
    expect(checkLinearizability(etcdModel, indeterminate.compareAgainstAnOlderIndex).verdict).toBe('non-linearizable');
  });

  it('still accepts what the indeterminate write may have done: its value at a later index, or a compare on that index', () => {
    const [w0, w1, info] = indeterminate.readOfAnOlderIndex;
    expect(checkLinearizability(etcdModel, [w0!, w1!, info!, op(3, 3, { f: 'get', quorum: true }, { value: '1', index: 9 }, 10, 11)]).verdict).toBe('linearizable');
    const [v0, unknown] = indeterminate.compareAgainstAnOlderIndex;
    expect(checkLinearizability(etcdModel, [v0!, unknown!, op(2, 3, { f: 'cas', value: 'c', prevIndex: 8 }, { index: 9 }, 10, 11)]).verdict).toBe('linearizable');
  });
});

describe('mutants of the etcd key model are caught by the store', () => {
  const FILE = 'sim/check/models/etcd.ts';
  const mutants: Mutant[] = [
    {
      name: 'node-exists-inverted',
      description: 'error 105 is explained only when the key is absent',
      edits: [{ file: FILE, find: "return input.f === 'create' && state.value !== null ? state : undefined;", replace: "return input.f === 'create' && state.value === null ? state : undefined;" }],
    },
    {
      name: 'unknown-index-never-matches',
      description: 'after an indeterminate write, a compare on prevIndex is taken to fail',
      edits: [{ file: FILE, find: 'if (state.index === -1) return c.prevIndex > state.above ? undefined : false;', replace: 'if (state.index === -1) return false;' }],
    },
  ];
  for (const mutant of mutants) {
    it(`${mutant.name}: ${mutant.description}`, async () => {
      const caught = await withMutant(
        mutant,
        'sim/check/linearizability.ts',
        (mod: { checkLinearizability: typeof checkLinearizability; modelFor: (n: 'etcd') => typeof etcdModel }) => {
          const model = mod.modelFor('etcd');
          const agrees = fc.check(fc.property(plans, (plan) => mod.checkLinearizability(model, execute(plan)).verdict === 'linearizable'), { numRuns: 3000, seed: 42 });
          return agrees.failed;
        },
        { dirs: ['sim/check'] },
      );
      expect(caught).toBe(true);
    });
  }
});

describe('a mutant of the etcd key model that forgets the index floor is caught by the indeterminate-write histories', () => {
  const FILE = 'sim/check/models/etcd.ts';
  itCatchesEachMutant<{ checkLinearizability: typeof checkLinearizability }>(
    'sim/check/linearizability.ts',
    [
      {
        mutant: {
          name: 'unknown-index-forgets-the-past',
          description: 'after an indeterminate write the key may have any index, even one below those already acknowledged',
          edits: [{ file: FILE, find: 'return { value, index: -1, above: Math.max(leastIndex(state), matchedIndex) };', replace: 'return { value, index: -1, above: 0 };' }],
        },
        caughtBy: (mod) => refusedAfterIndeterminateWrite(mod.checkLinearizability),
      },
    ],
    ['sim/check'],
  );
});
