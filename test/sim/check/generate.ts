// Random histories that are linearizable by construction: operations run one after another against a small
// sequential implementation (written here, independent of the checker's models), each at its own instant; then
// each gets a random interval around that instant, and some become indeterminate (applied or not) or failed
// (not applied). Clients are assigned so that no client has two operations outstanding.
import fc from 'fast-check';
import type { EtcdInput, EtcdOutput, KvInput, KvOutput, Operation, Outcome, RegisterInput, RegisterOutput } from '../../../sim/check/history.ts';

/** One etcd-model operation written by hand: ok with its output, or indeterminate when the output is null. */
export function etcdOp(id: number, input: EtcdInput, output: EtcdOutput | null, call: number, ret: number, key: string): Operation<EtcdInput, EtcdOutput> {
  return { id, client: id, key, input, output, outcome: output === null ? 'info' : 'ok', call, ret };
}

export interface Planned {
  /** 0..1: which operation kind, key, value. */
  kind: number;
  key: number;
  value: number;
  before: number;
  after: number;
  /** 0 ok, 1 info-applied, 2 info-not-applied, 3 fail (not applied); weighted towards ok. */
  fate: number;
}

export const plannedOps = (maxOps: number, maxWindow: number, keys: number) =>
  fc.array(
    fc.record({
      kind: fc.nat(99),
      key: fc.nat(keys - 1),
      value: fc.nat(4),
      before: fc.nat(maxWindow),
      after: fc.nat(maxWindow),
      fate: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }) }),
    }),
    { minLength: 1, maxLength: maxOps },
  );

const SPACING = 10;

function assignClients<I, O>(raw: Omit<Operation<I, O>, 'client' | 'id'>[]): Operation<I, O>[] {
  const order = raw.map((_, i) => i).sort((a, b) => raw[a]!.call - raw[b]!.call || a - b);
  const busyUntil: number[] = [];
  const ops: Operation<I, O>[] = new Array(raw.length);
  for (const i of order) {
    const op = raw[i]!;
    let client = busyUntil.findIndex((t) => t < op.call);
    if (client < 0) client = busyUntil.length;
    // An indeterminate operation leaves its client hanging forever, as in Jepsen.
    busyUntil[client] = op.outcome === 'info' ? Infinity : op.ret;
    ops[i] = { ...op, id: i, client };
  }
  return ops;
}

function fateOf(p: Planned): { outcome: Outcome; applied: boolean } {
  return p.fate === 0 ? { outcome: 'ok', applied: true } : p.fate === 1 ? { outcome: 'info', applied: true } : p.fate === 2 ? { outcome: 'info', applied: false } : { outcome: 'fail', applied: false };
}

export function registerHistory(plan: Planned[]): Operation<RegisterInput, RegisterOutput>[] {
  let value: number | null = null;
  const raw = plan.map((p, k) => {
    const { outcome, applied } = fateOf(p);
    const at = SPACING * (k + 1);
    let input: RegisterInput;
    let output: RegisterOutput;
    if (p.kind < 40) {
      input = { f: 'read' };
      output = value ?? 'nil';
    } else if (p.kind < 75) {
      input = { f: 'write', value: p.value };
      output = true;
      if (applied) value = p.value;
    } else {
      input = { f: 'cas', from: p.value, to: (p.value + 1) % 5 };
      output = value === p.value;
      if (applied && value === p.value) value = input.to;
    }
    return { key: '', input, output: outcome === 'ok' ? output : null, outcome, call: at - p.before, ret: at + p.after };
  });
  return assignClients(raw);
}

export function kvHistory(plan: Planned[]): Operation<KvInput, KvOutput>[] {
  const store = new Map<string, string>();
  const raw = plan.map((p, k) => {
    const { outcome, applied } = fateOf(p);
    const at = SPACING * (k + 1);
    const key = `k${p.key}`;
    let input: KvInput;
    let output: KvOutput = null;
    if (p.kind < 40) {
      input = { f: 'get' };
      output = store.get(key) ?? '';
    } else if (p.kind < 70) {
      input = { f: 'put', value: `v${p.value}` };
      if (applied) store.set(key, input.value);
    } else {
      input = { f: 'append', value: `+${p.value}` };
      if (applied) store.set(key, (store.get(key) ?? '') + input.value);
    }
    return { key, input, output: outcome === 'ok' ? output : null, outcome, call: at - p.before, ret: at + p.after };
  });
  return assignClients(raw);
}

/** etcd v2 semantics for plain keys, with a store-wide index like etcd's. */
export function etcdHistory(plan: Planned[]): Operation<EtcdInput, EtcdOutput>[] {
  const store = new Map<string, { value: string; index: number }>();
  let index = 0;
  const raw = plan.map((p, k) => {
    const { outcome, applied } = fateOf(p);
    const at = SPACING * (k + 1);
    const key = `/k${p.key}`;
    const node = store.get(key);
    const value = `v${p.value}`;
    let input: EtcdInput;
    let output: EtcdOutput;
    const write = (next: string | null): EtcdOutput => {
      if (!applied) return { index: index + 1 };
      index++;
      if (next === null) store.delete(key);
      else store.set(key, { value: next, index });
      return { index };
    };
    const kinds = ['get', 'get', 'get', 'set', 'set', 'create', 'update', 'cas', 'casIndex', 'delete', 'cad'] as const;
    const kind = kinds[p.kind % kinds.length]!;
    switch (kind) {
      case 'get':
        input = { f: 'get' };
        output = node ? { value: node.value, index: node.index } : { error: 100, index };
        break;
      case 'set':
        input = { f: 'set', value };
        output = write(value);
        break;
      case 'create':
        input = { f: 'create', value };
        output = node ? { error: 105, index } : write(value);
        break;
      case 'update':
        input = { f: 'update', value };
        output = node ? write(value) : { error: 100, index };
        break;
      case 'cas':
        input = { f: 'cas', value: `v${(p.value + 1) % 5}`, prevValue: value };
        output = !node ? { error: 100, index } : node.value === value ? write(input.value) : { error: 101, index };
        break;
      case 'casIndex': {
        const prevIndex = node && p.value < 3 ? node.index : index + 7;
        input = { f: 'cas', value, prevIndex };
        output = !node ? { error: 100, index } : node.index === prevIndex ? write(value) : { error: 101, index };
        break;
      }
      case 'delete':
        input = { f: 'delete' };
        output = node ? write(null) : { error: 100, index };
        break;
      case 'cad':
        input = { f: 'cad', prevValue: value };
        output = !node ? { error: 100, index } : node.value === value ? write(null) : { error: 101, index };
        break;
    }
    return { key, input, output: outcome === 'ok' ? output : null, outcome, call: at - p.before, ret: at + p.after };
  });
  return assignClients(raw);
}
