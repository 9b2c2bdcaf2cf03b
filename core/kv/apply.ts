// What a committed command does to the store: the mapping from an etcd keys request to a store
// operation (etcd's applierV2), and the expiry tick (etcd's SYNC). This is the replica's state machine:
// a pure function of (store, command) apart from mutating the store it is given.
import {
  compareAndDelete,
  compareAndSwap,
  create,
  deleteExpired,
  deleteNode,
  expiryFromTtl,
  get,
  set,
  update,
} from './store.ts';
import type { ApplyOutcome, KeysRequest, KvCommand, KvStore, StoreResult, WatchDelivery } from './types.ts';

/** Applies one request at `timeMs`. A GET here is a read (etcd's QGET when it goes through the log);
 * `wait` is ignored because watches never go through the log: register them with `watch`. */
export function applyRequest(store: KvStore, request: KeysRequest, timeMs: number, out: WatchDelivery[]): StoreResult {
  const r = request;
  const expireAtMs = expiryFromTtl(timeMs, r.ttlSeconds);
  switch (r.method) {
    case 'GET':
    case 'HEAD':
      return get(store, r.path, r.recursive, r.sorted, timeMs);
    case 'POST':
      return create(store, r.path, r.dir, r.value, true, expireAtMs, timeMs, out);
    case 'DELETE':
      if (r.prevIndex > 0 || r.prevValue !== '') return compareAndDelete(store, r.path, r.prevValue, r.prevIndex, timeMs, out);
      return deleteNode(store, r.path, r.dir, r.recursive, timeMs, out);
    case 'PUT':
      if (r.prevExist === true) {
        if (r.prevIndex === 0 && r.prevValue === '') return update(store, r.path, r.value, expireAtMs, r.refresh, timeMs, out);
        return compareAndSwap(store, r.path, r.prevValue, r.prevIndex, r.value, expireAtMs, r.refresh, timeMs, out);
      }
      if (r.prevExist === false) return create(store, r.path, r.dir, r.value, false, expireAtMs, timeMs, out);
      if (r.prevIndex > 0 || r.prevValue !== '') {
        return compareAndSwap(store, r.path, r.prevValue, r.prevIndex, r.value, expireAtMs, r.refresh, timeMs, out);
      }
      return set(store, r.path, r.dir, r.value, expireAtMs, r.refresh, timeMs, out);
  }
}

/** Applies a command deterministically: the same commands in the same order give the same store,
 * replies, expiries and watch deliveries on every replica. */
export function applyCommand(store: KvStore, command: KvCommand): ApplyOutcome {
  const deliveries: WatchDelivery[] = [];
  if (command.kind === 'expire') {
    const expired = deleteExpired(store, command.timeMs, deliveries);
    return { result: null, expired, deliveries };
  }
  const result = applyRequest(store, command.request, command.timeMs, deliveries);
  return { result, expired: [], deliveries };
}

/** Whether a request changes the store and so must go through the log (reads with quorum=true go
 * through it too, for linearizability, but change nothing). */
export function isWriteRequest(request: KeysRequest): boolean {
  return request.method === 'PUT' || request.method === 'POST' || request.method === 'DELETE';
}

/** Whether a request is a watch, served locally by the replica it reached. etcd turns a GET with
 * quorum=true into a read through the log before it looks at `wait`, so that one is a plain read. */
export function isWatchRequest(request: KeysRequest): boolean {
  return request.method === 'GET' && request.wait && !request.quorum;
}

/** Whether a request must go through the log: every write, and reads with quorum=true. */
export function goesThroughLog(request: KeysRequest): boolean {
  return isWriteRequest(request) || (request.method === 'GET' && request.quorum);
}
