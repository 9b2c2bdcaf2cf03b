import { describe, expect, it } from 'vitest';
import * as kv from '../../../core/kv/index.ts';
import type { KeysRequest, KvStore, StoreResult } from '../../../core/kv/index.ts';
import { checks } from './checks.ts';
import { T0 } from './model.ts';

function req(method: KeysRequest['method'], path: string, fields: Partial<KeysRequest> = {}): KeysRequest {
  return {
    method, path, value: '', dir: false, prevValue: '', prevIndex: 0, prevExist: null, ttlSeconds: null, refresh: false,
    wait: false, waitIndex: 0, recursive: false, sorted: false, quorum: false, stream: false, noValueOnSuccess: false, ...fields,
  };
}

function apply(s: KvStore, r: KeysRequest, t = T0): StoreResult {
  return kv.applyCommand(s, { kind: 'request', request: r, timeMs: t }).result!;
}

function ok(r: StoreResult) {
  if (!r.ok) throw new Error(`expected success, got ${JSON.stringify(r.error)}`);
  return r.event;
}

function err(r: StoreResult) {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.event)}`);
  return [r.error.errorCode, r.error.message, r.error.cause, r.error.index];
}

describe('focused checks (each also kills a mutant)', () => {
  for (const [name, check] of Object.entries(checks)) it(name, () => check(kv));
});

describe('set and get', () => {
  it('creates missing parent directories at the same index and reports prevNode on replace', () => {
    const s = kv.newStore();
    const first = ok(apply(s, req('PUT', '/a/b/c', { value: 'v1' })));
    expect(first).toMatchObject({ action: 'set', etcdIndex: 1, prevNode: null, node: { key: '/a/b/c', value: 'v1', modifiedIndex: 1, createdIndex: 1 } });
    expect(kv.findNode(s, '/a/b')).toMatchObject({ createdIndex: 1, modifiedIndex: 1 });
    const second = ok(apply(s, req('PUT', '/a/b/c', { value: 'v2' })));
    expect(second.node).toMatchObject({ modifiedIndex: 2, createdIndex: 2 });
    expect(second.prevNode).toMatchObject({ key: '/a/b/c', value: 'v1', modifiedIndex: 1, createdIndex: 1 });
  });

  it('lists a directory one level deep unless recursive, sorted on request, hidden names left out', () => {
    const s = kv.newStore();
    for (const p of ['/d/z', '/d/a', '/d/sub/x', '/d/_h']) apply(s, req('PUT', p, { value: p }));
    const flat = ok(apply(s, req('GET', '/d', { sorted: true })));
    expect(flat.node.nodes!.map((n) => [n.key, n.dir, n.nodes])).toEqual([['/d/a', false, null], ['/d/sub', true, null], ['/d/z', false, null]]);
    const deep = ok(apply(s, req('GET', '/d', { sorted: true, recursive: true })));
    expect(deep.node.nodes![1]!.nodes!.map((n) => n.key)).toEqual(['/d/sub/x']);
    const unsorted = ok(apply(s, req('GET', '/d')));
    expect(unsorted.node.nodes!.map((n) => n.key).sort()).toEqual(['/d/a', '/d/sub', '/d/z']);
  });

  it('reports 100 for the first missing component and 104 for a key used as a directory', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/f', { value: 'x' }));
    expect(err(apply(s, req('GET', '/nope/deeper')))).toEqual([100, 'Key not found', '/nope', 1]);
    expect(err(apply(s, req('GET', '/f/child')))).toEqual([104, 'Not a directory', '/f', 1]);
    expect(err(apply(s, req('PUT', '/f/child', { value: 'y' })))).toEqual([104, 'Not a directory', '/f', 1]);
  });

  it('refuses to replace a directory with set (102) and to write the root (107)', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/d', { dir: true }));
    expect(err(apply(s, req('PUT', '/d', { value: 'x' })))).toEqual([102, 'Not a file', '/d', 1]);
    expect(err(apply(s, req('PUT', '/d', { dir: true })))).toEqual([102, 'Not a file', '/d', 1]);
    expect(err(apply(s, req('PUT', '/', { value: 'x' })))).toEqual([107, 'Root is read only', '/', 1]);
  });

  it('reads the root as a directory with index 0', () => {
    const s = kv.newStore();
    const root = ok(apply(s, req('GET', '/')));
    expect(root.node).toMatchObject({ key: '/', dir: true, modifiedIndex: 0, createdIndex: 0, nodes: [] });
  });
});

describe('create, in-order keys, update', () => {
  it('create fails on an existing node (105) and under a key (104, counted as a failed set too, as etcd does)', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/k', { value: 'x' }));
    expect(err(apply(s, req('PUT', '/k', { value: 'y', prevExist: false })))).toEqual([105, 'Key already exists', '/k', 1]);
    expect(err(apply(s, req('PUT', '/k/c', { value: 'y', prevExist: false })))).toEqual([104, 'Not a directory', '/k', 1]);
    expect(kv.storeStats(s)).toMatchObject({ setsSuccess: 1, setsFail: 1, createFail: 2, createSuccess: 0 });
  });

  it('POST names children by their index, zero-padded to 20 digits', () => {
    const s = kv.newStore();
    const a = ok(apply(s, req('POST', '/q', { value: 'a' })));
    const b = ok(apply(s, req('POST', '/q', { value: 'b' })));
    expect([a.node.key, b.node.key]).toEqual(['/q/00000000000000000001', '/q/00000000000000000002']);
    expect(a.action).toBe('create');
    const atRoot = ok(apply(s, req('POST', '/', { value: 'r' })));
    expect(atRoot.node.key).toBe('/00000000000000000003');
  });

  it('update needs the node, keeps createdIndex, and clears the TTL when none is given', () => {
    const s = kv.newStore();
    expect(err(apply(s, req('PUT', '/k', { value: 'x', prevExist: true })))).toEqual([100, 'Key not found', '/k', 0]);
    apply(s, req('PUT', '/k', { value: 'x', ttlSeconds: 10 }));
    const u = ok(apply(s, req('PUT', '/k', { value: 'y', prevExist: true }), T0 + 1000));
    expect(u).toMatchObject({ action: 'update', node: { value: 'y', modifiedIndex: 2, createdIndex: 1, expiration: null, ttl: 0 } });
    expect(u.prevNode).toMatchObject({ value: 'x', ttl: 9, expiration: T0 + 10_000 });
    expect(kv.hasTtlKeys(s)).toBe(false);
  });

  it('update of a directory changes only its TTL and (like etcd) not its modifiedIndex', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/d', { dir: true }));
    expect(err(apply(s, req('PUT', '/d', { value: 'x', prevExist: true })))).toEqual([102, 'Not a file', '/d', 1]);
    const u = ok(apply(s, req('PUT', '/d', { dir: true, prevExist: true, ttlSeconds: 5 })));
    expect(u.node).toMatchObject({ dir: true, modifiedIndex: 2, createdIndex: 1, ttl: 5 });
    expect(kv.findNode(s, '/d')).toMatchObject({ modifiedIndex: 1, expireAtMs: T0 + 5000 });
    expect(err(apply(s, req('PUT', '/', { prevExist: true })))).toEqual([107, 'Root is read only', '/', 2]);
  });
});

describe('compare-and-swap and compare-and-delete', () => {
  it('reports which comparison failed, as etcd words it', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/k', { value: 'v' }));
    expect(err(apply(s, req('PUT', '/k', { value: 'n', prevValue: 'w' })))).toEqual([101, 'Compare failed', '[w != v]', 1]);
    expect(err(apply(s, req('PUT', '/k', { value: 'n', prevIndex: 7 })))).toEqual([101, 'Compare failed', '[7 != 1]', 1]);
    expect(err(apply(s, req('PUT', '/k', { value: 'n', prevValue: 'w', prevIndex: 7 })))).toEqual([101, 'Compare failed', '[w != v] [7 != 1]', 1]);
    expect(err(apply(s, req('DELETE', '/k', { prevValue: 'w' })))).toEqual([101, 'Compare failed', '[w != v]', 1]);
    const cas = ok(apply(s, req('PUT', '/k', { value: 'n', prevValue: 'v', prevIndex: 1 })));
    expect(cas).toMatchObject({ action: 'compareAndSwap', node: { value: 'n', modifiedIndex: 2, createdIndex: 1 }, prevNode: { value: 'v' } });
    const cad = ok(apply(s, req('DELETE', '/k', { prevIndex: 2 })));
    expect(cad).toMatchObject({ action: 'compareAndDelete', node: { key: '/k', value: null, modifiedIndex: 3, createdIndex: 1 }, prevNode: { value: 'n' } });
  });

  it('refuses directories (102), the root included with an empty cause, and missing keys (100)', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/d', { dir: true }));
    expect(err(apply(s, req('PUT', '/d', { value: 'x', prevValue: 'a' })))).toEqual([102, 'Not a file', '/d', 1]);
    expect(err(apply(s, req('DELETE', '/d', { prevValue: 'a' })))).toEqual([102, 'Not a file', '/d', 1]);
    expect(err(apply(s, req('DELETE', '/', { prevValue: 'a' })))).toEqual([102, 'Not a file', '', 1]);
    expect(err(apply(s, req('PUT', '/', { value: 'x', prevValue: 'a' })))).toEqual([107, 'Root is read only', '/', 1]);
    expect(err(apply(s, req('PUT', '/none', { value: 'x', prevValue: 'a' })))).toEqual([100, 'Key not found', '/none', 1]);
  });
});

describe('delete', () => {
  it('needs dir=true for a directory, recursive=true when it has children, and refuses the root', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/d/k', { value: 'x' }));
    expect(err(apply(s, req('DELETE', '/d')))).toEqual([102, 'Not a file', '/d', 1]);
    expect(err(apply(s, req('DELETE', '/d', { dir: true })))).toEqual([108, 'Directory not empty', '/d', 1]);
    expect(err(apply(s, req('DELETE', '/')))).toEqual([107, 'Root is read only', '/', 1]);
    const k = ok(apply(s, req('DELETE', '/d/k', { dir: true })));
    expect(k).toMatchObject({ action: 'delete', node: { key: '/d/k', dir: false, modifiedIndex: 2, createdIndex: 1 } });
    const d = ok(apply(s, req('DELETE', '/d', { dir: true })));
    expect(d).toMatchObject({ node: { key: '/d', dir: true, modifiedIndex: 3 }, prevNode: { key: '/d', dir: true } });
    expect(kv.storeStats(s)).toMatchObject({ deleteSuccess: 2, deleteFail: 3 });
  });
});

describe('TTL and expiry', () => {
  it('rounds ttl up to whole seconds and prints the expiry time', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/k', { value: 'x', ttlSeconds: 5 }));
    const at = (ms: number) => ok(apply(s, req('GET', '/k'), T0 + ms)).node;
    expect(at(0)).toMatchObject({ ttl: 5, expiration: T0 + 5000 });
    expect(at(1)).toMatchObject({ ttl: 5 });
    expect(at(1000)).toMatchObject({ ttl: 4 });
    expect(at(4999)).toMatchObject({ ttl: 1 });
    expect(at(5000)).toMatchObject({ ttl: 0 });
    expect(at(6500)).toMatchObject({ ttl: -1 });
  });

  it('expires in expiry order, one index each, with prevNode, directories with their subtree', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/d', { dir: true, ttlSeconds: 2 })); // 1
    apply(s, req('PUT', '/d/child', { value: 'c', ttlSeconds: 30 })); // 2
    apply(s, req('PUT', '/k', { value: 'k', ttlSeconds: 1 })); // 3
    const w = kv.watch(s, '/d/child', false, false, 0);
    expect(w.kind).toBe('registered');
    const out = kv.applyCommand(s, { kind: 'expire', timeMs: T0 + 2000 });
    expect(out.expired.map((e) => [e.action, e.node.key, e.node.dir, e.node.modifiedIndex, e.etcdIndex, e.prevNode?.createdIndex])).toEqual([
      ['expire', '/k', false, 4, 4, 3],
      ['expire', '/d', true, 5, 5, 1],
    ]);
    expect(out.deliveries.map((d) => d.event.node.key)).toEqual(['/d']);
    expect(kv.hasTtlKeys(s)).toBe(false);
    expect(kv.nextExpiryMs(s)).toBe(null);
    expect(kv.storeStats(s).expireCount).toBe(2);
  });

  it('treats expiry times before 2000 as no TTL on create, as etcd does', () => {
    const s = kv.newStore();
    const e = ok(apply(s, req('PUT', '/k', { value: 'x', ttlSeconds: 5 }), 0));
    expect(e.node.expiration).toBe(null);
    expect(kv.hasTtlKeys(s)).toBe(false);
  });

  it('set with refresh keeps the value, replaces the node (new createdIndex) and marks the event', () => {
    const s = kv.newStore();
    expect(err(apply(s, req('PUT', '/k', { refresh: true, ttlSeconds: 5 })))).toEqual([100, 'Key not found', '/k', 0]);
    apply(s, req('PUT', '/k', { value: 'x', ttlSeconds: 5 }));
    const r = ok(apply(s, req('PUT', '/k', { refresh: true, ttlSeconds: 9 }), T0 + 3000));
    expect(r).toMatchObject({ action: 'set', refresh: true, node: { value: 'x', ttl: 9, createdIndex: 2 }, prevNode: { ttl: 2 } });
  });

  it('keeps the TTL queue bounded under repeated refreshes', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/k', { value: 'x', ttlSeconds: 5 }));
    for (let i = 1; i <= 5000; i++) apply(s, req('PUT', '/k', { prevExist: true, refresh: true, ttlSeconds: 5 }), T0 + i);
    expect(s.ttlHeap.length).toBeLessThanOrEqual(2 * s.ttlNodeCount + 65);
    expect(kv.nextExpiryMs(s)).toBe(T0 + 5000 + 5000);
  });
});

describe('watches', () => {
  it('answers from history with the current index, or registers and is delivered once', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/k', { value: 'a' })); // 1
    apply(s, req('PUT', '/other', { value: 'b' })); // 2
    const past = kv.watch(s, '/k', false, false, 1);
    expect(past).toMatchObject({ kind: 'event', startIndex: 2, event: { action: 'set', etcdIndex: 2, node: { modifiedIndex: 1 } } });
    const live = kv.watch(s, '/k', false, false, 0);
    expect(live).toMatchObject({ kind: 'registered', startIndex: 2 });
    expect(kv.applyCommand(s, { kind: 'request', request: req('PUT', '/other', { value: 'c' }), timeMs: T0 }).deliveries).toEqual([]);
    const hit = kv.applyCommand(s, { kind: 'request', request: req('PUT', '/k', { value: 'd' }), timeMs: T0 });
    expect(hit.deliveries.map((d) => [d.watchId, d.event.node.value])).toEqual([[live.kind === 'registered' ? live.watchId : -1, 'd']]);
    expect(kv.storeStats(s).watchers).toBe(0);
  });

  it('recursive watches see descendants but not hidden ones; a watch on the hidden key itself does', () => {
    const s = kv.newStore();
    const dirWatch = kv.watch(s, '/d', true, true, 0);
    const hiddenWatch = kv.watch(s, '/d/_h', false, false, 0);
    const a = kv.applyCommand(s, { kind: 'request', request: req('PUT', '/d/_h', { value: 'x' }), timeMs: T0 });
    expect(a.deliveries.map((d) => d.watchId)).toEqual([hiddenWatch.kind === 'registered' ? hiddenWatch.watchId : -1]);
    const b = kv.applyCommand(s, { kind: 'request', request: req('PUT', '/d/x', { value: 'y' }), timeMs: T0 });
    const c = kv.applyCommand(s, { kind: 'request', request: req('PUT', '/d/y', { value: 'z' }), timeMs: T0 });
    const streamId = dirWatch.kind === 'registered' ? dirWatch.watchId : -1;
    expect([...b.deliveries, ...c.deliveries].map((d) => d.watchId)).toEqual([streamId, streamId]);
    expect(kv.unwatch(s, streamId, '/d')).toBe(true);
    expect(kv.unwatch(s, streamId, '/d')).toBe(false);
    expect(kv.storeStats(s).watchers).toBe(0);
  });

  it('skips refresh events when scanning history, and keeps etcd\'s prefix match for deleted directories', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/foo', { dir: true })); // 1
    apply(s, req('PUT', '/k', { value: 'x', ttlSeconds: 5 })); // 2
    apply(s, req('PUT', '/k', { prevExist: true, refresh: true, ttlSeconds: 5 })); // 3 (refresh)
    expect(kv.watch(s, '/k', false, false, 3).kind).toBe('registered');
    apply(s, req('DELETE', '/foo', { dir: true })); // 4: registering a watch takes no index
    expect(kv.watch(s, '/foobar', false, false, 4)).toMatchObject({ kind: 'event', event: { action: 'delete', node: { key: '/foo' } } });
  });

  it('rejects a cleared index with the store index in the error', () => {
    const s = kv.newStore({ historyCapacity: 3 });
    for (let i = 0; i < 5; i++) apply(s, req('PUT', '/k', { value: String(i) }));
    const w = kv.watch(s, '/k', false, false, 2);
    expect(w).toEqual({ kind: 'error', error: { errorCode: 401, message: 'The event in requested index is outdated and cleared', cause: 'the requested history has been cleared [3/2]', index: 5 } });
  });
});

describe('stats, copies and encoding', () => {
  it('counts gets, sets and failures like /v2/stats/store', () => {
    const s = kv.newStore();
    apply(s, req('GET', '/missing'));
    apply(s, req('PUT', '/k', { value: 'x' }));
    apply(s, req('GET', '/k'));
    apply(s, req('HEAD', '/k'));
    expect(kv.storeStats(s)).toMatchObject({ getsSuccess: 2, getsFail: 1, setsSuccess: 1, setsFail: 0 });
  });

  it('counts every operation\'s successes and failures, expiries and live watchers', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/k', { value: 'a', prevExist: false }));
    apply(s, req('PUT', '/k', { value: 'a', prevExist: false }));
    apply(s, req('PUT', '/k', { value: 'b', prevExist: true }));
    apply(s, req('PUT', '/none', { value: 'b', prevExist: true }));
    apply(s, req('PUT', '/k', { value: 'c', prevValue: 'b' }));
    apply(s, req('PUT', '/k', { value: 'c', prevValue: 'zz' }));
    apply(s, req('DELETE', '/k', { prevValue: 'zz' }));
    apply(s, req('DELETE', '/k', { prevValue: 'c' }));
    apply(s, req('DELETE', '/k'));
    apply(s, req('PUT', '/t', { value: 'x', ttlSeconds: 1 }));
    apply(s, req('DELETE', '/t/x'));
    kv.applyCommand(s, { kind: 'expire', timeMs: T0 + 1000 });
    kv.watch(s, '/w', false, false, 0);
    expect(kv.storeStats(s)).toEqual({
      getsSuccess: 0, getsFail: 0, setsSuccess: 1, setsFail: 0, deleteSuccess: 0, deleteFail: 2, updateSuccess: 1, updateFail: 1,
      createSuccess: 1, createFail: 1, compareAndSwapSuccess: 1, compareAndSwapFail: 1, compareAndDeleteSuccess: 1,
      compareAndDeleteFail: 1, expireCount: 1, watchers: 1,
    });
  });

  it('clones deeply and round-trips through msgpack', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/a/b', { value: 'x', ttlSeconds: 3 }));
    kv.watch(s, '/a/__proto__', false, false, 0);
    const copy = kv.cloneStore(s);
    apply(copy, req('PUT', '/a/c', { value: 'y' }));
    expect(kv.findNode(s, '/a/c')).toBe(null);
    const back = kv.decodeStore(kv.encodeStore(s));
    expect(Buffer.from(kv.encodeStore(back)).equals(Buffer.from(kv.encodeStore(s)))).toBe(true);
    expect(Object.getPrototypeOf(back.root.children)).toBe(null);
    const out = kv.applyCommand(back, { kind: 'request', request: req('PUT', '/a/__proto__', { value: 'z' }), timeMs: T0 });
    expect(out.deliveries.length).toBe(1);
    expect(kv.findNode(back, '/a/__proto__')?.value).toBe('z');
  });
});

describe('msgpack-safe strings', () => {
  it('round-trips lone surrogates and U+FFFF in keys and values of any length', () => {
    const s = kv.newStore();
    const long = 'v\udcff\ud800x\uffff\uffff\ue000' + 'y'.repeat(80) + '\udc80';
    apply(s, req('PUT', '/d\udce9/k', { value: long }));
    const back = kv.decodeStore(kv.encodeStore(s));
    expect(kv.findNode(back, '/d\udce9/k')?.value).toBe(long);
    expect(kv.unescapeLoneSurrogates(kv.escapeLoneSurrogates(long))).toBe(long);
    expect(kv.escapeLoneSurrogates('plain 😀')).toBe('plain 😀');
  });
});

describe('snapshots, and a watch quirk kept from etcd', () => {
  it('carry the replicated state but not watches; installing one keeps the local watches', () => {
    const leader = kv.newStore();
    apply(leader, req('PUT', '/a', { value: '1' }));
    kv.watch(leader, '/leader-only', false, false, 0);
    const follower = kv.newStore();
    const w = kv.watch(follower, '/a', false, false, 0);
    const restored = kv.restoreStore(kv.snapshotStore(leader), follower);
    expect(restored.index).toBe(1);
    expect(restored.watchers['/leader-only']).toBeUndefined();
    const out = kv.applyCommand(restored, { kind: 'request', request: req('PUT', '/a', { value: '2' }), timeMs: T0 });
    expect(out.deliveries.map((d) => d.watchId)).toEqual([w.kind === 'registered' ? w.watchId : -1]);
    expect(kv.restoreStore(kv.snapshotStore(leader)).watcherCount).toBe(0);
  });

  it('delivers a delete twice to a stream watch on the deleted directory, as etcd does', () => {
    const s = kv.newStore();
    apply(s, req('PUT', '/d', { dir: true }));
    const w = kv.watch(s, '/d', false, true, 0);
    const out = kv.applyCommand(s, { kind: 'request', request: req('DELETE', '/d', { dir: true }), timeMs: T0 });
    const id = w.kind === 'registered' ? w.watchId : -1;
    expect(out.deliveries.map((d) => [d.watchId, d.event.action])).toEqual([[id, 'delete'], [id, 'delete']]);
  });
});

describe('routing requests', () => {
  it('treats GET wait=true as a watch unless quorum=true makes it a read through the log, as etcd does', () => {
    expect(kv.isWatchRequest(req('GET', '/k', { wait: true }))).toBe(true);
    expect(kv.isWatchRequest(req('GET', '/k', { wait: true, quorum: true }))).toBe(false);
    expect(kv.goesThroughLog(req('GET', '/k', { wait: true, quorum: true }))).toBe(true);
    expect(kv.goesThroughLog(req('GET', '/k'))).toBe(false);
    expect(kv.goesThroughLog(req('HEAD', '/k', { quorum: true }))).toBe(false);
    for (const m of ['PUT', 'POST', 'DELETE'] as const) expect(kv.goesThroughLog(req(m, '/k'))).toBe(true);
  });
});
