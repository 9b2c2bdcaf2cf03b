// The etcd v2 store: a tree of keys and directories with TTLs, compare-and-swap, an event history and
// watches, behaving like etcd 3.4's v2store down to its quirks (each quirk is commented where kept).
// Every operation takes the time it runs at; the store never reads a clock. Operations mutate the store
// in place (the simulator applies millions of commands); `cloneStore` copies it when a caller needs the
// old state too.
import { decode, encode } from '../codec/msgpack.ts';
import { ErrorCode, etcdError } from './errors.ts';
import { addToHistory, cloneHistory, HISTORY_CAPACITY, newHistory, scanHistory } from './history.ts';
import { baseName, childPath, isHiddenFrom, parentPath, storePath } from './paths.ts';
import { MIN_EXPIRE_TIME_MS, PERMANENT, ttlSecondsLeft } from './time.ts';
import { heapify, heapPop, heapPush } from './ttl-heap.ts';
import { fromMsgpackSafe, toMsgpackSafe } from './wire.ts';
import type {
  EtcdError,
  KvNode,
  KvStore,
  NodeView,
  StoreAction,
  StoreEvent,
  StoreResult,
  StoreStats,
  TtlEntry,
  WatchDelivery,
  WatchRecord,
  WatchResult,
} from './types.ts';

export interface StoreOptions {
  /** Events kept for watches that start in the past; etcd keeps 1000. */
  historyCapacity?: number;
}

function emptyChildren(): Record<string, KvNode> {
  return Object.create(null) as Record<string, KvNode>;
}

function newStats(): StoreStats {
  return {
    getsSuccess: 0,
    getsFail: 0,
    setsSuccess: 0,
    setsFail: 0,
    deleteSuccess: 0,
    deleteFail: 0,
    updateSuccess: 0,
    updateFail: 0,
    createSuccess: 0,
    createFail: 0,
    compareAndSwapSuccess: 0,
    compareAndSwapFail: 0,
    compareAndDeleteSuccess: 0,
    compareAndDeleteFail: 0,
    expireCount: 0,
    watchers: 0,
  };
}

/** A fresh store: an empty root directory at index 0. */
export function newStore(options: StoreOptions = {}): KvStore {
  return {
    root: { path: '/', createdIndex: 0, modifiedIndex: 0, expireAtMs: PERMANENT, value: '', children: emptyChildren() },
    index: 0,
    stats: newStats(),
    history: newHistory(options.historyCapacity ?? HISTORY_CAPACITY),
    ttlHeap: [],
    ttlNodeCount: 0,
    watchers: Object.create(null) as Record<string, WatchRecord[]>,
    watcherCount: 0,
    nextWatchId: 1,
  };
}

// ---------------------------------------------------------------------------------------------------
// Views

// etcd names the root "/1" internally and trims that prefix on the way out, so the root's own path
// prints as "" (and is then left out of replies).
function shownPath(p: string): string {
  return p === '/' ? '' : p;
}

function isHiddenName(name: string): boolean {
  return name.charCodeAt(0) === 95; // '_'
}

function withTtl(view: NodeView, node: KvNode, nowMs: number): NodeView {
  if (node.expireAtMs !== PERMANENT) {
    view.expiration = node.expireAtMs;
    view.ttl = ttlSecondsLeft(node.expireAtMs, nowMs);
  }
  return view;
}

function listChildren(node: KvNode, recursive: boolean, sorted: boolean, nowMs: number): NodeView[] {
  const out: NodeView[] = [];
  const children = node.children!;
  for (const name in children) {
    if (!isHiddenName(name)) out.push(viewOf(children[name]!, recursive, sorted, nowMs));
  }
  if (sorted) out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out;
}

/** etcd's Repr: a node as a reply shows it; `recursive` lists a directory's subtree. */
export function viewOf(node: KvNode, recursive: boolean, sorted: boolean, nowMs: number): NodeView {
  const isDir = node.children !== null;
  const view: NodeView = {
    key: node.path,
    value: isDir ? null : node.value,
    dir: isDir,
    expiration: null,
    ttl: 0,
    nodes: isDir && recursive ? listChildren(node, recursive, sorted, nowMs) : null,
    modifiedIndex: node.modifiedIndex,
    createdIndex: node.createdIndex,
  };
  return withTtl(view, node, nowMs);
}

function eventNode(key: string, modifiedIndex: number, createdIndex: number): NodeView {
  return { key, value: null, dir: false, expiration: null, ttl: 0, nodes: null, modifiedIndex, createdIndex };
}

function newEvent(action: StoreAction, key: string, modifiedIndex: number, createdIndex: number, etcdIndex: number): StoreEvent {
  return { action, node: eventNode(key, modifiedIndex, createdIndex), prevNode: null, etcdIndex, refresh: false };
}

// ---------------------------------------------------------------------------------------------------
// Lookup

/** The node at a cleaned path, or etcd's 100 / 104 error. */
function lookup(store: KvStore, path: string): KvNode | EtcdError {
  if (path === '/') return store.root;
  let curr = store.root;
  let start = 1;
  for (;;) {
    let end = path.indexOf('/', start);
    if (end < 0) end = path.length;
    const name = path.slice(start, end);
    if (curr.children === null) return etcdError(ErrorCode.NotDir, shownPath(curr.path), store.index);
    const child = curr.children[name];
    if (child === undefined) return etcdError(ErrorCode.KeyNotFound, childPath(curr.path, name), store.index);
    curr = child;
    if (end === path.length) return curr;
    start = end + 1;
  }
}

function isError(x: KvNode | EtcdError): x is EtcdError {
  return (x as EtcdError).errorCode !== undefined;
}

/** The node at `path` if it exists (no error values). */
export function findNode(store: KvStore, path: string): KvNode | null {
  const found = lookup(store, storePath(path));
  return isError(found) ? null : found;
}

// ---------------------------------------------------------------------------------------------------
// TTL bookkeeping

function trackTtl(store: KvStore, node: KvNode): void {
  heapPush(store.ttlHeap, { expireAtMs: node.expireAtMs, path: node.path, createdIndex: node.createdIndex });
  if (store.ttlHeap.length > 2 * store.ttlNodeCount + 64) rebuildTtlHeap(store);
}

// Keeps the entries that still describe a live TTL (one per node: a TTL set back to an earlier value
// leaves two identical entries). Costs the heap's size, not the tree's, so many permanent keys do not
// make refresh-heavy workloads slow.
function rebuildTtlHeap(store: KvStore): void {
  const live: TtlEntry[] = [];
  const seen = new Set<string>();
  for (const entry of store.ttlHeap) {
    const node = lookup(store, entry.path);
    if (isError(node) || node.createdIndex !== entry.createdIndex || node.expireAtMs !== entry.expireAtMs) continue;
    if (seen.has(entry.path)) continue;
    seen.add(entry.path);
    live.push(entry);
  }
  store.ttlHeap = heapify(live);
}

/** etcd's UpdateTTL: PERMANENT removes a TTL, anything else sets it (even a time in the past). */
function updateTtl(store: KvStore, node: KvNode, expireAtMs: number): void {
  if (expireAtMs === PERMANENT) {
    if (node.expireAtMs !== PERMANENT) store.ttlNodeCount--;
    node.expireAtMs = PERMANENT;
    return;
  }
  if (node.expireAtMs === PERMANENT) store.ttlNodeCount++;
  node.expireAtMs = expireAtMs;
  trackTtl(store, node);
}

/** The node that expires first, skipping stale queue entries. */
function nextToExpire(store: KvStore): KvNode | null {
  const heap = store.ttlHeap;
  while (heap.length > 0) {
    const top = heap[0]!;
    const found = lookup(store, top.path);
    if (!isError(found) && found.createdIndex === top.createdIndex && found.expireAtMs === top.expireAtMs) return found;
    heapPop(heap);
  }
  return null;
}

/** When the next node expires (ms since the epoch), or null if no node has a TTL. */
export function nextExpiryMs(store: KvStore): number | null {
  const node = nextToExpire(store);
  return node === null ? null : node.expireAtMs;
}

/** Whether any node has a TTL: etcd's leader proposes expiry ticks only then. */
export function hasTtlKeys(store: KvStore): boolean {
  return store.ttlNodeCount > 0;
}

// ---------------------------------------------------------------------------------------------------
// Watch notification

function notifyAt(store: KvStore, e: StoreEvent, watchPath: string, deleted: boolean, out: WatchDelivery[]): void {
  const list = store.watchers[watchPath];
  if (list === undefined) return;
  const key = e.node.key;
  const atOriginalPath = key === watchPath;
  if (!atOriginalPath && isHiddenFrom(watchPath, key)) return;
  const eventIndex = e.node.modifiedIndex;
  let kept = 0;
  for (let i = 0; i < list.length; i++) {
    const w = list[i]!;
    let remove = false;
    if ((w.recursive || atOriginalPath || deleted) && eventIndex >= w.sinceIndex) {
      out.push({ watchId: w.id, event: e });
      remove = !w.stream;
    }
    if (remove) store.watcherCount--;
    else list[kept++] = w;
  }
  list.length = kept;
  if (kept === 0) delete store.watchers[watchPath];
}

/** Records the event and notifies watches on the root and on every prefix of its key. */
function notify(store: KvStore, e: StoreEvent, out: WatchDelivery[]): void {
  addToHistory(store.history, e);
  if (store.watcherCount === 0) return;
  const key = e.node.key;
  notifyAt(store, e, '/', false, out);
  let start = 1;
  while (start < key.length) {
    let end = key.indexOf('/', start);
    if (end < 0) end = key.length;
    notifyAt(store, e, key.slice(0, end), false, out);
    start = end + 1;
  }
}

/** Records a write's event. A refresh only extends a TTL: etcd keeps it in the history (marked, so
 * watches skip it) but wakes no watcher. */
function recordWrite(store: KvStore, e: StoreEvent, refresh: boolean, out: WatchDelivery[]): void {
  if (refresh) {
    e.refresh = true;
    addToHistory(store.history, e);
    return;
  }
  notify(store, e, out);
}

/** Unlinks `node` from `parent` with its whole subtree, children first, telling watches on every
 * removed path (etcd's Remove with its notify callback). */
function removeSubtree(store: KvStore, parent: KvNode, node: KvNode, e: StoreEvent | null, out: WatchDelivery[]): void {
  if (node.children !== null && (store.ttlNodeCount > 0 || (e !== null && store.watcherCount > 0))) {
    for (const name in node.children) removeSubtree(store, node, node.children[name]!, e, out);
  }
  delete parent.children![baseName(node.path)];
  if (e !== null && store.watcherCount > 0) notifyAt(store, e, node.path, true, out);
  if (node.expireAtMs !== PERMANENT) store.ttlNodeCount--;
}

// ---------------------------------------------------------------------------------------------------
// Writes

/** Go's int64 nanoseconds since the epoch run out here (2262-04-11T23:47:16.854775807Z). */
const MAX_UNIX_NANO_MS = 9_223_372_036_854.775;

/** The expiry a TTL given at `timeMs` sets. etcd sends it as int64 Unix nanoseconds, which wrap past 2262 to
 * a time before 2000 (read as "no TTL" on create, and as long overdue on update). */
export function expiryFromTtl(timeMs: number, ttlSeconds: number | null): number {
  if (ttlSeconds === null) return PERMANENT;
  const ms = timeMs + ttlSeconds * 1000;
  if (ms < MAX_UNIX_NANO_MS) return ms;
  const nanos = BigInt.asIntN(64, BigInt(Math.round(timeMs * 1e6)) + BigInt(Math.round(ttlSeconds * 1e9)));
  return Number(nanos) / 1e6;
}

function compareFailCause(node: KvNode, prevValue: string, prevIndex: number): string | null {
  const indexMatch = prevIndex === 0 || node.modifiedIndex === prevIndex;
  const valueMatch = prevValue === '' || node.value === prevValue;
  if (indexMatch && valueMatch) return null;
  if (indexMatch) return `[${prevValue} != ${node.value}]`;
  if (valueMatch) return `[${prevIndex} != ${node.modifiedIndex}]`;
  return `[${prevValue} != ${node.value}] [${prevIndex} != ${node.modifiedIndex}]`;
}

/** etcd's internalCreate: create (or, with `replace`, overwrite a key) at `path`, making missing
 * parent directories. The caller records the event. */
function internalCreate(
  store: KvStore,
  rawPath: string,
  dir: boolean,
  value: string,
  unique: boolean,
  replace: boolean,
  expireAtMs: number,
  action: StoreAction,
  nowMs: number,
): StoreResult {
  const currIndex = store.index;
  const nextIndex = currIndex + 1;
  // In-order keys are named by the index they are created at, zero-padded to 20 digits.
  const path = storePath(unique ? rawPath + '/' + String(nextIndex).padStart(20, '0') : rawPath);
  if (path === '/') return { ok: false, error: etcdError(ErrorCode.RootReadOnly, '/', currIndex) };
  // etcd reads expiry times before 2000 as "no TTL" (they come from clients serialising zero times).
  if (expireAtMs < MIN_EXPIRE_TIME_MS) expireAtMs = PERMANENT;

  // Walk to the parent, creating missing directories.
  let parent = store.root;
  const lastSlash = path.lastIndexOf('/');
  let start = 1;
  while (start <= lastSlash) {
    const end = path.indexOf('/', start);
    const name = path.slice(start, end);
    const existing = parent.children![name];
    if (existing === undefined) {
      const created: KvNode = {
        path: childPath(parent.path, name),
        createdIndex: nextIndex,
        modifiedIndex: nextIndex,
        expireAtMs: PERMANENT,
        value: '',
        children: emptyChildren(),
      };
      parent.children![name] = created;
      parent = created;
    } else if (existing.children === null) {
      // etcd counts a failed walk as a failed set, whichever operation it was (quirk kept).
      store.stats.setsFail++;
      return { ok: false, error: etcdError(ErrorCode.NotDir, existing.path, currIndex) };
    } else {
      parent = existing;
    }
    start = end + 1;
  }

  const name = path.slice(lastSlash + 1);
  const e = newEvent(action, path, nextIndex, nextIndex, 0);
  const existing = parent.children![name];
  if (existing !== undefined) {
    if (!replace) return { ok: false, error: etcdError(ErrorCode.NodeExist, path, currIndex) };
    if (existing.children !== null) return { ok: false, error: etcdError(ErrorCode.NotFile, path, currIndex) };
    e.prevNode = viewOf(existing, false, false, nowMs);
    removeSubtree(store, parent, existing, null, []);
  }
  const node: KvNode = {
    path,
    createdIndex: nextIndex,
    modifiedIndex: nextIndex,
    expireAtMs,
    value: dir ? '' : value,
    children: dir ? emptyChildren() : null,
  };
  if (dir) e.node.dir = true;
  else e.node.value = value;
  parent.children![name] = node;
  if (expireAtMs !== PERMANENT) {
    store.ttlNodeCount++;
    trackTtl(store, node);
    withTtl(e.node, node, nowMs);
  }
  store.index = nextIndex;
  return { ok: true, event: e };
}

function fail(error: EtcdError): StoreResult {
  return { ok: false, error };
}

/** GET: a key, or a directory with its children (its whole subtree with `recursive`). */
export function get(store: KvStore, rawPath: string, recursive: boolean, sorted: boolean, nowMs: number): StoreResult {
  const path = storePath(rawPath);
  const node = lookup(store, path);
  if (isError(node)) {
    store.stats.getsFail++;
    return fail(node);
  }
  const e = newEvent('get', path, node.modifiedIndex, node.createdIndex, store.index);
  if (node.children !== null) {
    e.node.dir = true;
    e.node.nodes = listChildren(node, recursive, sorted, nowMs);
  } else {
    e.node.value = node.value;
  }
  withTtl(e.node, node, nowMs);
  store.stats.getsSuccess++;
  return { ok: true, event: e };
}

/** PUT without conditions: create or replace a key (or create a directory). `refresh` keeps the value
 * and only moves the TTL; it is recorded but wakes no watcher. */
export function set(
  store: KvStore,
  rawPath: string,
  dir: boolean,
  value: string,
  expireAtMs: number,
  refresh: boolean,
  nowMs: number,
  out: WatchDelivery[],
): StoreResult {
  const path = storePath(rawPath);
  const prev = lookup(store, path);
  if (isError(prev) && (prev.errorCode !== ErrorCode.KeyNotFound || refresh)) {
    store.stats.setsFail++;
    return fail(prev);
  }
  if (refresh) value = (prev as KvNode).value;
  const created = internalCreate(store, path, dir, value, false, true, expireAtMs, 'set', nowMs);
  if (!created.ok) {
    store.stats.setsFail++;
    return created;
  }
  const e = created.event;
  e.etcdIndex = store.index;
  if (!isError(prev)) e.prevNode = viewOf(prev, false, false, nowMs);
  recordWrite(store, e, refresh, out);
  store.stats.setsSuccess++;
  return created;
}

/** POST (`unique`: an in-order key under `path`) or PUT with prevExist=false. */
export function create(
  store: KvStore,
  rawPath: string,
  dir: boolean,
  value: string,
  unique: boolean,
  expireAtMs: number,
  nowMs: number,
  out: WatchDelivery[],
): StoreResult {
  const created = internalCreate(store, rawPath, dir, value, unique, false, expireAtMs, 'create', nowMs);
  if (!created.ok) {
    store.stats.createFail++;
    return created;
  }
  created.event.etcdIndex = store.index;
  notify(store, created.event, out);
  store.stats.createSuccess++;
  return created;
}

/** PUT with prevExist=true: change a key's value, or a directory's TTL. No TTL given removes the TTL. */
export function update(
  store: KvStore,
  rawPath: string,
  newValue: string,
  expireAtMs: number,
  refresh: boolean,
  nowMs: number,
  out: WatchDelivery[],
): StoreResult {
  const path = storePath(rawPath);
  const failed = (error: EtcdError): StoreResult => {
    store.stats.updateFail++;
    return fail(error);
  };
  if (path === '/') return failed(etcdError(ErrorCode.RootReadOnly, '/', store.index));
  const node = lookup(store, path);
  if (isError(node)) return failed(node);
  const isDir = node.children !== null;
  if (isDir && newValue !== '') return failed(etcdError(ErrorCode.NotFile, path, store.index));
  if (refresh) newValue = node.value;
  const nextIndex = store.index + 1;
  const e = newEvent('update', path, nextIndex, node.createdIndex, nextIndex);
  e.prevNode = viewOf(node, false, false, nowMs);
  if (isDir) {
    // etcd's Write refuses directories, so a directory keeps its old modifiedIndex (quirk kept).
    e.node.dir = true;
  } else {
    node.value = newValue;
    node.modifiedIndex = nextIndex;
    e.node.value = newValue;
  }
  updateTtl(store, node, expireAtMs);
  withTtl(e.node, node, nowMs);
  recordWrite(store, e, refresh, out);
  store.index = nextIndex;
  store.stats.updateSuccess++;
  return { ok: true, event: e };
}

/** PUT with prevValue and/or prevIndex. */
export function compareAndSwap(
  store: KvStore,
  rawPath: string,
  prevValue: string,
  prevIndex: number,
  value: string,
  expireAtMs: number,
  refresh: boolean,
  nowMs: number,
  out: WatchDelivery[],
): StoreResult {
  const path = storePath(rawPath);
  const failed = (error: EtcdError): StoreResult => {
    store.stats.compareAndSwapFail++;
    return fail(error);
  };
  if (path === '/') return failed(etcdError(ErrorCode.RootReadOnly, '/', store.index));
  const node = lookup(store, path);
  if (isError(node)) return failed(node);
  if (node.children !== null) return failed(etcdError(ErrorCode.NotFile, path, store.index));
  const cause = compareFailCause(node, prevValue, prevIndex);
  if (cause !== null) return failed(etcdError(ErrorCode.TestFailed, cause, store.index));
  if (refresh) value = node.value;
  store.index++;
  const e = newEvent('compareAndSwap', path, store.index, node.createdIndex, store.index);
  e.prevNode = viewOf(node, false, false, nowMs);
  node.value = value;
  node.modifiedIndex = store.index;
  updateTtl(store, node, expireAtMs);
  e.node.value = value;
  withTtl(e.node, node, nowMs);
  recordWrite(store, e, refresh, out);
  store.stats.compareAndSwapSuccess++;
  return { ok: true, event: e };
}

/** DELETE without conditions. A directory needs `dir`; a non-empty one needs `recursive`. */
export function deleteNode(
  store: KvStore,
  rawPath: string,
  dir: boolean,
  recursive: boolean,
  nowMs: number,
  out: WatchDelivery[],
): StoreResult {
  const path = storePath(rawPath);
  const failed = (error: EtcdError): StoreResult => {
    store.stats.deleteFail++;
    return fail(error);
  };
  if (path === '/') return failed(etcdError(ErrorCode.RootReadOnly, '/', store.index));
  if (recursive) dir = true;
  const node = lookup(store, path);
  if (isError(node)) return failed(node);
  if (node.children !== null) {
    if (!dir) return failed(etcdError(ErrorCode.NotFile, path, store.index));
    if (!recursive && !isEmptyDir(node)) return failed(etcdError(ErrorCode.DirNotEmpty, path, store.index));
  }
  const nextIndex = store.index + 1;
  const e = newEvent('delete', path, nextIndex, node.createdIndex, nextIndex);
  e.prevNode = viewOf(node, false, false, nowMs);
  if (node.children !== null) e.node.dir = true;
  removeSubtree(store, lookup(store, parentPath(path)) as KvNode, node, e, out);
  store.index = nextIndex;
  notify(store, e, out);
  store.stats.deleteSuccess++;
  return { ok: true, event: e };
}

function isEmptyDir(node: KvNode): boolean {
  for (const _ in node.children!) return false;
  return true;
}

/** DELETE with prevValue and/or prevIndex (keys only). */
export function compareAndDelete(
  store: KvStore,
  rawPath: string,
  prevValue: string,
  prevIndex: number,
  nowMs: number,
  out: WatchDelivery[],
): StoreResult {
  const path = storePath(rawPath);
  const failed = (error: EtcdError): StoreResult => {
    store.stats.compareAndDeleteFail++;
    return fail(error);
  };
  // Unlike the other writes etcd does not check for the root here: the root fails as a directory.
  const node = lookup(store, path);
  if (isError(node)) return failed(node);
  if (node.children !== null) return failed(etcdError(ErrorCode.NotFile, shownPath(path), store.index));
  const cause = compareFailCause(node, prevValue, prevIndex);
  if (cause !== null) return failed(etcdError(ErrorCode.TestFailed, cause, store.index));
  store.index++;
  const e = newEvent('compareAndDelete', path, store.index, node.createdIndex, store.index);
  e.prevNode = viewOf(node, false, false, nowMs);
  removeSubtree(store, lookup(store, parentPath(path)) as KvNode, node, e, out);
  notify(store, e, out);
  store.stats.compareAndDeleteSuccess++;
  return { ok: true, event: e };
}

/** etcd's DeleteExpiredKeys: expire, in expiry order, every node whose expiry is at or before `cutoffMs`.
 * Each expiry takes its own index and is an `expire` event. */
export function deleteExpired(store: KvStore, cutoffMs: number, out: WatchDelivery[]): StoreEvent[] {
  const expired: StoreEvent[] = [];
  for (;;) {
    const node = nextToExpire(store);
    if (node === null || node.expireAtMs > cutoffMs) break;
    heapPop(store.ttlHeap);
    store.index++;
    const e = newEvent('expire', node.path, store.index, node.createdIndex, store.index);
    e.prevNode = viewOf(node, false, false, cutoffMs);
    if (node.children !== null) e.node.dir = true;
    removeSubtree(store, lookup(store, parentPath(node.path)) as KvNode, node, e, out);
    store.stats.expireCount++;
    notify(store, e, out);
    expired.push(e);
  }
  return expired;
}

// ---------------------------------------------------------------------------------------------------
// Watches

/**
 * Registers a watch on `key` from `sinceIndex` (0: the next index). If the history already holds a
 * matching event it is returned at once and nothing is registered, as etcd does (even for a stream).
 */
export function watch(store: KvStore, rawKey: string, recursive: boolean, stream: boolean, sinceIndex: number): WatchResult {
  const key = storePath(rawKey);
  const since = sinceIndex === 0 ? store.index + 1 : sinceIndex;
  const startIndex = store.index;
  const found = scanHistory(store.history, key, recursive, since);
  if (found !== null && 'errorCode' in found) return { kind: 'error', error: { ...found, index: store.index } };
  if (found !== null) return { kind: 'event', event: { ...found, etcdIndex: store.index }, startIndex };
  const id = store.nextWatchId++;
  const record: WatchRecord = { id, key, recursive, stream, sinceIndex: since, startIndex };
  const list = store.watchers[key];
  if (list === undefined) store.watchers[key] = [record];
  else list.push(record);
  store.watcherCount++;
  return { kind: 'registered', watchId: id, startIndex };
}

/** Removes a watch (its client went away or timed out). Returns whether it was registered. */
export function unwatch(store: KvStore, watchId: number, rawKey: string): boolean {
  const key = storePath(rawKey);
  const list = store.watchers[key];
  if (list === undefined) return false;
  const i = list.findIndex((w) => w.id === watchId);
  if (i < 0) return false;
  list.splice(i, 1);
  if (list.length === 0) delete store.watchers[key];
  store.watcherCount--;
  return true;
}

/** The counters `/v2/stats/store` reports. */
export function storeStats(store: KvStore): StoreStats {
  return { ...store.stats, watchers: store.watcherCount };
}

// ---------------------------------------------------------------------------------------------------
// Copies and encoding

function cloneNode(n: KvNode): KvNode {
  if (n.children === null) return { ...n };
  const children = emptyChildren();
  for (const name in n.children) children[name] = cloneNode(n.children[name]!);
  return { ...n, children };
}

/** A deep copy sharing nothing mutable with the original. */
export function cloneStore(store: KvStore): KvStore {
  const watchers = Object.create(null) as Record<string, WatchRecord[]>;
  for (const key in store.watchers) watchers[key] = store.watchers[key]!.slice();
  return {
    root: cloneNode(store.root),
    index: store.index,
    stats: { ...store.stats },
    history: cloneHistory(store.history),
    ttlHeap: store.ttlHeap.slice(),
    ttlNodeCount: store.ttlNodeCount,
    watchers,
    watcherCount: store.watcherCount,
    nextWatchId: store.nextWatchId,
  };
}

/** The store as msgpack bytes. Equal stores (same commands applied) encode to equal bytes. */
export function encodeStore(store: KvStore): Uint8Array {
  return encode(toMsgpackSafe(store));
}

function reviveNode(n: KvNode): KvNode {
  if (n.children === null) return n;
  const children = emptyChildren();
  for (const name of Object.keys(n.children)) children[name] = reviveNode(n.children[name]!);
  n.children = children;
  return n;
}

/** The inverse of `encodeStore`. */
export function decodeStore(bytes: Uint8Array): KvStore {
  const store = fromMsgpackSafe(decode(bytes) as KvStore);
  reviveNode(store.root);
  const watchers = Object.create(null) as Record<string, WatchRecord[]>;
  for (const key of Object.keys(store.watchers)) watchers[key] = store.watchers[key]!;
  store.watchers = watchers;
  return store;
}

/**
 * A snapshot for a follower that is too far behind: the replicated state only. Watches belong to the
 * replica that registered them, so they are left out.
 */
export function snapshotStore(store: KvStore): Uint8Array {
  return encodeStore({ ...store, watchers: Object.create(null) as Record<string, WatchRecord[]>, watcherCount: 0 });
}

/**
 * The store a replica continues with after installing a snapshot. Like etcd's Recovery it keeps the
 * replica's own registered watches (they wait for the next matching event) and takes everything else,
 * counters included, from the snapshot.
 */
export function restoreStore(snapshot: Uint8Array, local: KvStore | null = null): KvStore {
  const restored = decodeStore(snapshot);
  if (local !== null) {
    const watchers = Object.create(null) as Record<string, WatchRecord[]>;
    for (const key in local.watchers) watchers[key] = local.watchers[key]!.slice();
    restored.watchers = watchers;
    restored.watcherCount = local.watcherCount;
    restored.nextWatchId = local.nextWatchId;
  }
  return restored;
}
