// Focused behavioural checks written against any copy of the kv module, so the same check both passes
// on the real store (store.test.ts) and is shown to fail on a planted bug (mutants.test.ts).
import type { KeysRequest, KvStore, StoreResult } from '../../../core/kv/index.ts';
import { assertEqual, T0, type KvModule } from './model.ts';

function req(method: KeysRequest['method'], path: string, fields: Partial<KeysRequest> = {}): KeysRequest {
  return {
    method, path, value: '', dir: false, prevValue: '', prevIndex: 0, prevExist: null, ttlSeconds: null, refresh: false,
    wait: false, waitIndex: 0, recursive: false, sorted: false, quorum: false, stream: false, noValueOnSuccess: false, ...fields,
  };
}

function run(kv: KvModule, s: KvStore, r: KeysRequest, timeMs = T0) {
  return kv.applyCommand(s, { kind: 'request', request: r, timeMs });
}

function code(r: StoreResult | null): number {
  return r !== null && !r.ok ? r.error.errorCode : 0;
}

export const checks: Record<string, (kv: KvModule) => void> = {
  'compare-and-swap honours prevIndex'(kv) {
    const s = kv.newStore();
    run(kv, s, req('PUT', '/k', { value: 'a' })); // index 1
    run(kv, s, req('PUT', '/k', { value: 'b' })); // index 2
    const stale = run(kv, s, req('PUT', '/k', { value: 'c', prevIndex: 1 }));
    assertEqual(code(stale.result), 101, 'CAS with a stale prevIndex');
    const cad = run(kv, s, req('DELETE', '/k', { prevIndex: 1 }));
    assertEqual(code(cad.result), 101, 'CAD with a stale prevIndex');
    const fresh = run(kv, s, req('PUT', '/k', { value: 'c', prevIndex: 2 }));
    assertEqual(fresh.result?.ok, true, 'CAS with the current prevIndex');
  },

  'a refresh wakes no watcher'(kv) {
    const s = kv.newStore();
    run(kv, s, req('PUT', '/k', { value: 'a', ttlSeconds: 5 }));
    const w = kv.watch(s, '/k', false, false, 0);
    assertEqual(w.kind, 'registered', 'watch kind');
    const refreshed = run(kv, s, req('PUT', '/k', { prevExist: true, refresh: true, ttlSeconds: 10 }), T0 + 1000);
    assertEqual(refreshed.deliveries.length, 0, 'deliveries of a refresh');
    assertEqual(refreshed.result?.ok && refreshed.result.event.refresh, true, 'refresh flag');
    const set = run(kv, s, req('PUT', '/k', { value: 'b' }), T0 + 2000);
    assertEqual(set.deliveries.length, 1, 'deliveries of the next write');
  },

  'listings leave out hidden names'(kv) {
    const s = kv.newStore();
    run(kv, s, req('PUT', '/d/_hidden', { value: 'h' }));
    run(kv, s, req('PUT', '/d/shown', { value: 's' }));
    const got = run(kv, s, req('GET', '/d', { recursive: true })).result;
    const keys = got?.ok ? (got.event.node.nodes ?? []).map((n) => n.key) : null;
    assertEqual(keys, ['/d/shown'], 'listed keys');
    const direct = run(kv, s, req('GET', '/d/_hidden')).result;
    assertEqual(direct?.ok, true, 'a hidden key can still be read by name');
  },

  'expiry is decided by the time the tick carries'(kv) {
    const s = kv.newStore();
    run(kv, s, req('PUT', '/k', { value: 'a', ttlSeconds: 1 }), T0);
    const early = kv.applyCommand(s, { kind: 'expire', timeMs: T0 + 999 });
    assertEqual(early.expired.length, 0, 'expired 1 ms before the TTL ends');
    const due = kv.applyCommand(s, { kind: 'expire', timeMs: T0 + 1000 });
    assertEqual(due.expired.map((e) => e.node.key), ['/k'], 'expired when the TTL ends');
  },

  'a recursive delete takes the whole subtree with it'(kv) {
    const s = kv.newStore();
    run(kv, s, req('PUT', '/d/e/k', { value: 'a', ttlSeconds: 60 }));
    const w = kv.watch(s, '/d/e/k', false, false, 0);
    assertEqual(w.kind, 'registered', 'watch kind');
    const del = run(kv, s, req('DELETE', '/d', { recursive: true }));
    assertEqual(del.deliveries.map((d) => d.event.node.key), ['/d'], 'the child watch hears the delete');
    assertEqual(kv.hasTtlKeys(s), false, 'no TTL left');
    assertEqual(kv.storeStats(s).watchers, 0, 'no watcher left');
    assertEqual(code(run(kv, s, req('GET', '/d/e/k')).result), 100, 'child gone');
  },

  'the history window holds exactly the last 1000 events'(kv) {
    const s = kv.newStore();
    for (let i = 0; i < 1001; i++) run(kv, s, req('PUT', '/k', { value: String(i) }));
    const cleared = kv.watch(s, '/k', false, false, 1);
    assertEqual(cleared.kind === 'error' ? [cleared.error.errorCode, cleared.error.cause, cleared.error.index] : cleared.kind, [401, 'the requested history has been cleared [2/1]', 1001], 'index 1');
    const oldest = kv.watch(s, '/k', false, false, 2);
    assertEqual(oldest.kind === 'event' ? oldest.event.node.modifiedIndex : oldest.kind, 2, 'index 2');
  },

  'the tree hash follows every change'(kv) {
    const s = kv.newStore();
    const steps: Array<[KeysRequest, number]> = [
      [req('PUT', '/d/e/k', { value: 'a', ttlSeconds: 5 }), T0],
      [req('PUT', '/d/e/k', { value: 'b', prevValue: 'a' }), T0],
      [req('PUT', '/d/e/k', { value: 'c', prevExist: true, ttlSeconds: 9 }), T0],
      [req('PUT', '/d', { dir: true, prevExist: true, ttlSeconds: 7 }), T0],
      [req('POST', '/q', { value: 'x' }), T0],
      [req('DELETE', '/d', { recursive: true }), T0],
    ];
    const seen = new Set<string>();
    for (const [r, t] of steps) {
      run(kv, s, r, t);
      assertEqual(s.treeHash, kv.computeTreeHash(s.root), `tree hash after ${r.method} ${r.path}`);
      seen.add(JSON.stringify(s.treeHash));
    }
    assertEqual(seen.size, steps.length, 'distinct trees hash differently');
  },
};
