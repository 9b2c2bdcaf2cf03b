// A small, obviously-correct reference model of the etcd v2 store (a flat map from path to node), the
// random operation sequences both are driven with, and the two properties run against any copy of the
// kv module (the real one, or a mutant's).
import fc from 'fast-check';
import type * as Kv from '../../../core/kv/index.ts';
import { keysRequest } from '../../../core/api/request.ts';
import type { KeysRequest, KvCommand, StoreResult } from '../../../core/kv/index.ts';

export type KvModule = typeof Kv;

/** Simulated time starts at a real date: etcd ignores expiry times before 2000. */
export const T0 = Date.UTC(2026, 10, 25, 8, 0, 0);

export type Op =
  | { op: 'set'; path: string; value: string; ttl: number | null }
  | { op: 'mkdir'; path: string; ttl: number | null }
  | { op: 'create'; path: string; value: string; dir: boolean; ttl: number | null }
  | { op: 'update'; path: string; value: string; ttl: number | null }
  | { op: 'cas'; path: string; value: string; prevValue: string; prevIndex: number; ttl: number | null }
  | { op: 'cad'; path: string; prevValue: string; prevIndex: number }
  | { op: 'delete'; path: string; dir: boolean; recursive: boolean }
  | { op: 'get'; path: string }
  | { op: 'refresh'; path: string; ttl: number }
  | { op: 'post'; path: string; value: string }
  /** `back`: null watches from the next index; k watches from k indexes before the current one. */
  | { op: 'watch'; path: string; recursive: boolean; back: number | null }
  | { op: 'expire' };

export interface TimedOp {
  dtMs: number;
  op: Op;
}

const NAMES = ['a', 'b', '_h'];
const pathArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant('/') },
  { weight: 12, arbitrary: fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }).map((parts) => '/' + parts.join('/')) },
);
// The long value holds a lone surrogate (an invalid UTF-8 byte from HTTP) past msgpack's 50-unit
// TextEncoder threshold, so a checkpoint that lost it would break the replicas-agree property.
const valueArb = fc.constantFrom('x', 'y', '', 'bad\udcff' + 'z'.repeat(60) + '\uffff');
const ttlArb = fc.constantFrom<number | null>(null, null, 0, 1, 2, 5);
const prevIndexArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 12 }));
const prevValueArb = fc.constantFrom('', 'x', 'y');

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), path: pathArb, value: valueArb, ttl: ttlArb }),
  fc.record({ op: fc.constant('mkdir' as const), path: pathArb, ttl: ttlArb }),
  fc.record({ op: fc.constant('create' as const), path: pathArb, value: valueArb, dir: fc.boolean(), ttl: ttlArb }),
  fc.record({ op: fc.constant('update' as const), path: pathArb, value: valueArb, ttl: ttlArb }),
  fc
    .record({ op: fc.constant('cas' as const), path: pathArb, value: valueArb, prevValue: prevValueArb, prevIndex: prevIndexArb, ttl: ttlArb })
    .map((o) => (o.prevValue === '' && o.prevIndex === 0 ? { ...o, prevValue: 'x' } : o)),
  fc
    .record({ op: fc.constant('cad' as const), path: pathArb, prevValue: prevValueArb, prevIndex: prevIndexArb })
    .map((o) => (o.prevValue === '' && o.prevIndex === 0 ? { ...o, prevIndex: 1 } : o)),
  fc.record({ op: fc.constant('delete' as const), path: pathArb, dir: fc.boolean(), recursive: fc.boolean() }),
  fc.record({ op: fc.constant('get' as const), path: pathArb }),
  fc.record({ op: fc.constant('refresh' as const), path: pathArb, ttl: fc.constantFrom(1, 2, 5) }),
  fc.record({ op: fc.constant('post' as const), path: pathArb, value: valueArb }),
  fc.record({ op: fc.constant('watch' as const), path: pathArb, recursive: fc.boolean(), back: fc.option(fc.nat(12), { nil: null }) }),
  fc.constant({ op: 'expire' as const }),
);

export const timedOpsArb = fc.array(fc.record({ dtMs: fc.integer({ min: 0, max: 2500 }), op: opArb }), { minLength: 1, maxLength: 80, size: 'large' });


/** The command a replica would log for an operation. */
export function commandOf(op: Op, timeMs: number): KvCommand {
  const req = (r: KeysRequest): KvCommand => ({ kind: 'request', request: r, timeMs });
  switch (op.op) {
    case 'set':
      return req(keysRequest('PUT', op.path, { value: op.value, ttlSeconds: op.ttl }));
    case 'mkdir':
      return req(keysRequest('PUT', op.path, { dir: true, ttlSeconds: op.ttl }));
    case 'create':
      return req(keysRequest('PUT', op.path, { value: op.value, dir: op.dir, prevExist: false, ttlSeconds: op.ttl }));
    case 'update':
      return req(keysRequest('PUT', op.path, { value: op.value, prevExist: true, ttlSeconds: op.ttl }));
    case 'cas':
      return req(keysRequest('PUT', op.path, { value: op.value, prevValue: op.prevValue, prevIndex: op.prevIndex, ttlSeconds: op.ttl }));
    case 'cad':
      return req(keysRequest('DELETE', op.path, { prevValue: op.prevValue, prevIndex: op.prevIndex }));
    case 'delete':
      return req(keysRequest('DELETE', op.path, { dir: op.dir, recursive: op.recursive }));
    case 'get':
      return req(keysRequest('GET', op.path, {}));
    case 'refresh':
      return req(keysRequest('PUT', op.path, { prevExist: true, refresh: true, ttlSeconds: op.ttl }));
    case 'post':
      return req(keysRequest('POST', op.path, { value: op.value }));
    case 'watch':
      throw new Error('a watch is registered with watch(), never logged as a command');
    case 'expire':
      return { kind: 'expire', timeMs };
  }
}

// ---------------------------------------------------------------------------------------------------
// The reference model

interface MNode {
  dir: boolean;
  value: string;
  created: number;
  modified: number;
  expireAt: number | null;
}

/** A watch result reduced to the facts the model decides. */
export type WatchSeen =
  | { kind: 'event'; action: string; key: string; modifiedIndex: number; etcdIndex: number; startIndex: number }
  | { kind: 'registered'; watchId: number; startIndex: number }
  | { kind: 'error'; code: number; cause: string; index: number };

export function observeWatch(w: Kv.WatchResult): WatchSeen {
  if (w.kind === 'error') return { kind: 'error', code: w.error.errorCode, cause: w.error.cause, index: w.error.index };
  if (w.kind === 'registered') return w;
  return { kind: 'event', action: w.event.action, key: w.event.node.key, modifiedIndex: w.event.node.modifiedIndex, etcdIndex: w.event.etcdIndex, startIndex: w.startIndex };
}

/** What a reply must say, reduced to the facts the model decides. */
export type Expected =
  | { ok: true; action: string; key: string; value: string | null; dir: boolean; created: number; modified: number; expiration: number | null; prev: string | null; children: string[] | null; etcdIndex: number }
  | { ok: false; code: number; cause: string; index: number };

const describeNode = (n: MNode): string => `${n.dir ? 'dir' : 'key:' + n.value}@${n.created}/${n.modified}`;

/** A change the model made, as watches see it: the key, and every path its removal took away. */
interface ModelChange {
  index: number;
  action: string;
  key: string;
  /** Whether the node this change removed or replaced was a directory. */
  prevDir: boolean;
  removed: string[];
  refresh: boolean;
}

/** The small history window the model property runs with, so that 401s and the window edge come up. */
export const MODEL_HISTORY_CAPACITY = 8;

interface ModelWatch {
  id: number;
  key: string;
  recursive: boolean;
}

export class Model {
  nodes = new Map<string, MNode>([['/', { dir: true, value: '', created: 0, modified: 0, expireAt: null }]]);
  index = 0;
  changes: ModelChange[] = [];
  history: ModelChange[] = [];
  watches: ModelWatch[] = [];
  nextWatchId = 1;

  /**
   * A watch from `since` (0: the next index): the first recorded change it matches, the 401 error once
   * `since` has left the window, or a registration. History matching differs from live matching: hidden
   * names count, and deleting a directory matches every key that starts with its path.
   */
  watch(key: string, recursive: boolean, since: number): WatchSeen {
    const from = since === 0 ? this.index + 1 : since;
    const start = this.history.length === 0 ? 0 : this.history[0]!.index;
    if (from < start) return { kind: 'error', code: 401, cause: `the requested history has been cleared [${start}/${from}]`, index: this.index };
    const prefix = key === '/' ? '/' : key + '/';
    const hit = this.history.find(
      (c) =>
        c.index >= from &&
        !c.refresh &&
        (c.key === key || (recursive && c.key.startsWith(prefix)) || ((c.action === 'delete' || c.action === 'expire') && c.prevDir && key.startsWith(c.key))),
    );
    if (hit !== undefined) return { kind: 'event', action: hit.action, key: hit.key, modifiedIndex: hit.index, etcdIndex: this.index, startIndex: this.index };
    const id = this.nextWatchId++;
    this.watches.push({ id, key, recursive });
    return { kind: 'registered', watchId: id, startIndex: this.index };
  }

  /** The watches the changes since the last call satisfy (each fires once and is gone), sorted by id. */
  fired(): number[] {
    const out: number[] = [];
    for (const c of this.changes) {
      if (c.refresh) continue;
      this.watches = this.watches.filter((w) => {
        const under = w.key === '/' ? c.key.slice(1) : c.key.startsWith(w.key + '/') ? c.key.slice(w.key.length + 1) : null;
        const visible = under !== null && !under.split('/').some((part) => part.startsWith('_'));
        const hit = w.key === c.key || c.removed.includes(w.key) || (w.recursive && visible);
        if (hit) out.push(w.id);
        return !hit;
      });
    }
    this.changes = [];
    return out.sort((a, b) => a - b);
  }

  private prefixes(path: string): string[] {
    const parts = path.split('/').filter((p) => p !== '');
    return parts.map((_, i) => '/' + parts.slice(0, i + 1).join('/'));
  }

  private err(code: number, cause: string): Expected {
    return { ok: false, code, cause, index: this.index };
  }

  private lookupError(path: string): Expected | null {
    const chain = this.prefixes(path);
    for (let i = 0; i < chain.length; i++) {
      const n = this.nodes.get(chain[i]!);
      if (n === undefined) return this.err(100, chain[i]!);
      if (!n.dir && i < chain.length - 1) return this.err(104, chain[i]!);
    }
    return null;
  }

  private childrenOf(path: string): string[] {
    const prefix = path === '/' ? '/' : path + '/';
    return [...this.nodes.keys()].filter((k) => k !== '/' && k.startsWith(prefix) && !k.slice(prefix.length).includes('/'));
  }

  private removeTree(path: string): string[] {
    const prefix = path + '/';
    const removed: string[] = [];
    for (const k of [...this.nodes.keys()]) {
      if (k === path || k.startsWith(prefix)) {
        this.nodes.delete(k);
        removed.push(k);
      }
    }
    return removed;
  }

  private changed(action: string, key: string, prevDir = false, removed: string[] = [], refresh = false): void {
    const change = { index: this.index, action, key, prevDir, removed, refresh };
    this.changes.push(change);
    this.history.push(change);
    if (this.history.length > MODEL_HISTORY_CAPACITY) this.history.shift();
  }

  private ok(action: string, key: string, n: MNode, modified: number, prev: MNode | null, children: string[] | null = null): Expected {
    return {
      ok: true,
      action,
      key,
      value: n.dir || action === 'delete' || action === 'compareAndDelete' || action === 'expire' ? null : n.value,
      dir: n.dir,
      created: n.created,
      modified,
      expiration: action === 'delete' || action === 'compareAndDelete' || action === 'expire' ? null : n.expireAt,
      prev: prev === null ? null : describeNode(prev),
      children,
      etcdIndex: this.index,
    };
  }

  private place(path: string, dir: boolean, value: string, expireAt: number | null): MNode {
    this.index++;
    for (const p of this.prefixes(path).slice(0, -1)) {
      if (!this.nodes.has(p)) this.nodes.set(p, { dir: true, value: '', created: this.index, modified: this.index, expireAt: null });
    }
    const n: MNode = { dir, value: dir ? '' : value, created: this.index, modified: this.index, expireAt };
    this.nodes.set(path, n);
    return n;
  }

  private compare(n: MNode, prevValue: string, prevIndex: number): string | null {
    const valueOk = prevValue === '' || n.value === prevValue;
    const indexOk = prevIndex === 0 || n.modified === prevIndex;
    if (valueOk && indexOk) return null;
    if (indexOk) return `[${prevValue} != ${n.value}]`;
    if (valueOk) return `[${prevIndex} != ${n.modified}]`;
    return `[${prevValue} != ${n.value}] [${prevIndex} != ${n.modified}]`;
  }

  apply(op: Op, t: number): Expected[] {
    const expiry = (ttl: number | null): number | null => (ttl === null ? null : t + ttl * 1000);
    switch (op.op) {
      case 'get': {
        const e = this.lookupError(op.path);
        if (e) return [e];
        const n = this.nodes.get(op.path)!;
        const kids = n.dir ? this.childrenOf(op.path).filter((k) => !k.split('/').pop()!.startsWith('_')).sort() : null;
        return [this.ok('get', op.path, n, n.modified, null, kids)];
      }
      case 'set':
      case 'mkdir': {
        if (op.path === '/') return [this.err(107, '/')];
        const e = this.lookupError(op.path);
        if (e && e.ok === false && e.code !== 100) return [e];
        const existing = this.nodes.get(op.path) ?? null;
        if (existing?.dir) return [this.err(102, op.path)];
        const n = this.place(op.path, op.op === 'mkdir', op.op === 'set' ? op.value : '', expiry(op.ttl));
        this.changed('set', op.path);
        return [this.ok('set', op.path, n, n.modified, existing)];
      }
      case 'create':
      case 'post': {
        // POST names the new key by the index it is created at, zero-padded to 20 digits.
        const name = String(this.index + 1).padStart(20, '0');
        const path = op.op === 'create' ? op.path : op.path === '/' ? '/' + name : op.path + '/' + name;
        const dir = op.op === 'create' && op.dir;
        if (path === '/') return [this.err(107, '/')];
        for (const p of this.prefixes(path).slice(0, -1)) {
          const n = this.nodes.get(p);
          if (n && !n.dir) return [this.err(104, p)];
        }
        if (this.nodes.has(path)) return [this.err(105, path)];
        const n = this.place(path, dir, op.value, op.op === 'create' ? expiry(op.ttl) : null);
        this.changed('create', path);
        return [this.ok('create', path, n, n.modified, null)];
      }
      case 'update':
      case 'refresh': {
        if (op.path === '/') return [this.err(107, '/')];
        const e = this.lookupError(op.path);
        if (e) return [e];
        const n = this.nodes.get(op.path)!;
        const value = op.op === 'update' ? op.value : n.value;
        if (n.dir && value !== '') return [this.err(102, op.path)];
        const prev = { ...n };
        this.index++;
        if (!n.dir) {
          n.value = value;
          n.modified = this.index;
        }
        n.expireAt = expiry(op.ttl);
        this.changed('update', op.path, prev.dir, [], op.op === 'refresh');
        return [this.ok('update', op.path, n, this.index, prev)];
      }
      case 'cas': {
        if (op.path === '/') return [this.err(107, '/')];
        const e = this.lookupError(op.path);
        if (e) return [e];
        const n = this.nodes.get(op.path)!;
        if (n.dir) return [this.err(102, op.path)];
        const cause = this.compare(n, op.prevValue, op.prevIndex);
        if (cause !== null) return [this.err(101, cause)];
        const prev = { ...n };
        this.index++;
        n.value = op.value;
        n.modified = this.index;
        n.expireAt = expiry(op.ttl);
        this.changed('compareAndSwap', op.path);
        return [this.ok('compareAndSwap', op.path, n, this.index, prev)];
      }
      case 'cad': {
        const e = this.lookupError(op.path);
        if (e) return [e];
        const n = this.nodes.get(op.path)!;
        if (n.dir) return [this.err(102, op.path === '/' ? '' : op.path)];
        const cause = this.compare(n, op.prevValue, op.prevIndex);
        if (cause !== null) return [this.err(101, cause)];
        this.index++;
        this.changed('compareAndDelete', op.path, false, this.removeTree(op.path));
        return [this.ok('compareAndDelete', op.path, n, this.index, n)];
      }
      case 'delete': {
        if (op.path === '/') return [this.err(107, '/')];
        const e = this.lookupError(op.path);
        if (e) return [e];
        const n = this.nodes.get(op.path)!;
        if (n.dir && !op.dir && !op.recursive) return [this.err(102, op.path)];
        if (n.dir && !op.recursive && this.childrenOf(op.path).length > 0) return [this.err(108, op.path)];
        this.index++;
        this.changed('delete', op.path, n.dir, this.removeTree(op.path));
        return [this.ok('delete', op.path, n, this.index, n)];
      }
      case 'watch':
        return [];
      case 'expire': {
        const due = [...this.nodes.entries()]
          .filter(([, n]) => n.expireAt !== null && n.expireAt <= t)
          .sort(([pa, a], [pb, b]) => a.expireAt! - b.expireAt! || (pa < pb ? -1 : 1));
        const out: Expected[] = [];
        for (const [path, n] of due) {
          if (this.nodes.get(path) !== n) continue;
          this.index++;
          this.changed('expire', path, n.dir, this.removeTree(path));
          out.push(this.ok('expire', path, n, this.index, n));
        }
        return out;
      }
    }
  }

  hasTtl(): boolean {
    return [...this.nodes.values()].some((n) => n.expireAt !== null);
  }

  snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, n] of [...this.nodes.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (k !== '/') out[k] = `${describeNode(n)} exp=${n.expireAt}`;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------
// Reading the real store in the model's terms

export function observe(result: StoreResult, action?: string): Expected {
  if (!result.ok) return { ok: false, code: result.error.errorCode, cause: result.error.cause, index: result.error.index };
  const e = result.event;
  const p = e.prevNode;
  return {
    ok: true,
    action: action ?? e.action,
    key: e.node.key,
    value: e.node.value,
    dir: e.node.dir,
    created: e.node.createdIndex,
    modified: e.node.modifiedIndex,
    expiration: e.node.expiration,
    prev: p === null ? null : `${p.dir ? 'dir' : 'key:' + p.value}@${p.createdIndex}/${p.modifiedIndex}`,
    children: e.action === 'get' && e.node.dir ? (e.node.nodes ?? []).map((c) => c.key).sort() : null,
    etcdIndex: e.etcdIndex,
  };
}

export function storeSnapshot(store: Kv.KvStore): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (n: Kv.KvNode): void => {
    if (n.path !== '/') {
      const desc = `${n.children !== null ? 'dir' : 'key:' + n.value}@${n.createdIndex}/${n.modifiedIndex}`;
      out[n.path] = `${desc} exp=${n.expireAtMs === 0 ? null : n.expireAtMs}`;
    }
    if (n.children !== null) for (const name of Object.keys(n.children)) visit(n.children[name]!);
  };
  visit(store.root);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Runs one sequence through the store and the model, throwing (via expect-style errors) on the first
 * disagreement. Returns nothing on agreement. */
export function checkAgainstModel(kv: KvModule, ops: TimedOp[]): void {
  const store = kv.newStore({ historyCapacity: MODEL_HISTORY_CAPACITY });
  const model = new Model();
  let t = T0;
  ops.forEach(({ dtMs, op }, step) => {
    t += dtMs;
    const where = `step ${step} (${JSON.stringify(op)} at +${t - T0}ms)`;
    if (op.op === 'watch') {
      const since = op.back === null ? 0 : Math.max(1, model.index - op.back);
      assertEqual(observeWatch(kv.watch(store, op.path, op.recursive, false, since)), model.watch(op.path, op.recursive, since), `watch at ${where}`);
      return;
    }
    const outcome = kv.applyCommand(store, commandOf(op, t));
    const got = outcome.result === null ? outcome.expired.map((e) => observe({ ok: true, event: e })) : [observe(outcome.result)];
    const want = model.apply(op, t);
    assertEqual(got, want, `reply at ${where}`);
    assertEqual(outcome.deliveries.map((d) => d.watchId).sort((a, b) => a - b), model.fired(), `watches fired at ${where}`);
    assertEqual(store.index, model.index, `index at ${where}`);
    assertEqual(storeSnapshot(store), model.snapshot(), `state at ${where}`);
    assertEqual(store.treeHash, kv.computeTreeHash(store.root), `tree hash at ${where}`);
    assertEqual(kv.hasTtlKeys(store), model.hasTtl(), `hasTtlKeys at ${where}`);
  });
}

export function assertEqual(got: unknown, want: unknown, what: string): void {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: store ${g}\n  model ${w}`);
}

/** The replicas-agree check: two stores fed the same commands (interleaved, as two replicas would be,
 * one of them forked from the other's checkpoint part-way) give identical outcomes and identical bytes. */
export function checkReplicasAgree(kv: KvModule, ops: TimedOp[], forkAt: number): void {
  let a = kv.newStore();
  let b = kv.newStore();
  let t = T0;
  const watchOn = (s: Kv.KvStore): Kv.WatchResult => kv.watch(s, '/a', true, true, 0);
  assertEqual(watchOn(a), watchOn(b), 'watch registration');
  ops.forEach(({ dtMs, op }, step) => {
    if (step === forkAt) b = kv.decodeStore(kv.encodeStore(a));
    t += dtMs;
    if (op.op === 'watch') {
      const since = op.back === null ? 0 : Math.max(1, a.index - op.back);
      assertEqual(kv.watch(a, op.path, op.recursive, op.recursive, since), kv.watch(b, op.path, op.recursive, op.recursive, since), `watch at step ${step}`);
      return;
    }
    const cmd = commandOf(op, t);
    const outA = kv.applyCommand(a, cmd);
    const outB = kv.applyCommand(b, cmd);
    assertEqual(outA, outB, `outcome at step ${step}`);
  });
  const bytesA = kv.encodeStore(a);
  const bytesB = kv.encodeStore(b);
  if (Buffer.compare(Buffer.from(bytesA), Buffer.from(bytesB)) !== 0) throw new Error('encoded stores differ');
  a = kv.cloneStore(a);
  if (Buffer.compare(Buffer.from(kv.encodeStore(a)), Buffer.from(bytesA)) !== 0) throw new Error('clone encodes differently');
}
