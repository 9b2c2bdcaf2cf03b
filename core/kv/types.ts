// Plain-data types of the etcd v2 store. Everything here is msgpack-encodable (objects, arrays, numbers,
// strings, booleans, null): a trace can checkpoint a store and a replica can snapshot it.

/** etcd's v2 event actions, spelled as etcd prints them. */
export type StoreAction = 'get' | 'create' | 'set' | 'update' | 'delete' | 'compareAndSwap' | 'compareAndDelete' | 'expire';

/** A node of the tree. `children === null` means a key (file); otherwise a directory. */
export interface KvNode {
  path: string;
  createdIndex: number;
  modifiedIndex: number;
  /** Absolute expiry in ms since the epoch; `PERMANENT` (0) when the node has no TTL. */
  expireAtMs: number;
  value: string;
  /** Null-prototype map from child name to child; null for a key. */
  children: Record<string, KvNode> | null;
}

/** A node as a reply shows it (etcd's NodeExtern). `null` fields are left out of the JSON. */
export interface NodeView {
  key: string;
  value: string | null;
  dir: boolean;
  /** Expiry in ms since the epoch, rendered RFC3339 with nanoseconds; null when permanent. */
  expiration: number | null;
  /** Seconds left, rounded up as etcd does; 0 is left out of the JSON. */
  ttl: number;
  nodes: NodeView[] | null;
  modifiedIndex: number;
  createdIndex: number;
}

export interface StoreEvent {
  action: StoreAction;
  node: NodeView;
  prevNode: NodeView | null;
  /** The store index reported in X-Etcd-Index for this reply. */
  etcdIndex: number;
  /** A refresh only extends a TTL: it is recorded in history but wakes no watcher. */
  refresh: boolean;
}

/** An error exactly as etcd's v2 API reports it (`cause` empty is left out of the JSON). */
export interface EtcdError {
  errorCode: number;
  message: string;
  cause: string;
  index: number;
}

export type StoreResult = { ok: true; event: StoreEvent } | { ok: false; error: EtcdError };

/** The counters `/v2/stats/store` reports, in etcd's order. */
export interface StoreStats {
  getsSuccess: number;
  getsFail: number;
  setsSuccess: number;
  setsFail: number;
  deleteSuccess: number;
  deleteFail: number;
  updateSuccess: number;
  updateFail: number;
  createSuccess: number;
  createFail: number;
  compareAndSwapSuccess: number;
  compareAndSwapFail: number;
  compareAndDeleteSuccess: number;
  compareAndDeleteFail: number;
  expireCount: number;
  watchers: number;
}

/** The last `capacity` events, as a ring, so watches can start in the past (etcd keeps 1000). */
export interface EventHistory {
  capacity: number;
  events: Array<StoreEvent | null>;
  front: number;
  back: number;
  size: number;
  startIndex: number;
  lastIndex: number;
}

/** A registered watch. The store keeps no callbacks: it reports which watches an event satisfies. */
export interface WatchRecord {
  id: number;
  key: string;
  recursive: boolean;
  stream: boolean;
  sinceIndex: number;
  /** Store index when the watch was registered; etcd sends it as X-Etcd-Index of the watch reply. */
  startIndex: number;
}

/** One entry of the TTL queue. Entries are invalidated lazily: an entry counts only while the node at
 * `path` still has this `createdIndex` and `expireAtMs`. */
export interface TtlEntry {
  expireAtMs: number;
  path: string;
  createdIndex: number;
}

export interface KvStore {
  root: KvNode;
  index: number;
  stats: StoreStats;
  history: EventHistory;
  /** Binary min-heap ordered by (expireAtMs, path, createdIndex). */
  ttlHeap: TtlEntry[];
  /** Number of live nodes with a TTL (the heap may also hold stale entries). */
  ttlNodeCount: number;
  /** Null-prototype map from watched key to the watches on it, oldest first. */
  watchers: Record<string, WatchRecord[]>;
  watcherCount: number;
  nextWatchId: number;
}

/** A watch reported as satisfied by an event. Non-stream watches are removed when delivered. */
export interface WatchDelivery {
  watchId: number;
  event: StoreEvent;
}

/**
 * A keys request exactly as etcd's v2 HTTP layer hands it to the server (etcdserverpb.Request minus
 * the clock): what a client asks for. `core/api` parses HTTP into this; the replica logs it.
 */
export interface KeysRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** Store path, cleaned: "/" for the root, "/a/b" otherwise. */
  path: string;
  value: string;
  dir: boolean;
  /** "" means no value condition. */
  prevValue: string;
  /** 0 means no index condition. */
  prevIndex: number;
  prevExist: boolean | null;
  /** null: no TTL given (a write then makes the node permanent). A whole number of seconds, except that a TTL
   * beyond Go's time.Duration range arrives as etcd's wrapped duration (core/api), possibly negative. */
  ttlSeconds: number | null;
  refresh: boolean;
  wait: boolean;
  waitIndex: number;
  recursive: boolean;
  sorted: boolean;
  quorum: boolean;
  stream: boolean;
  noValueOnSuccess: boolean;
}

/**
 * A command the store applies. Time is always carried in the command (the proposing leader's clock for
 * log entries, the serving replica's clock for local reads); the store never reads a clock.
 */
export type KvCommand =
  | { kind: 'request'; request: KeysRequest; timeMs: number }
  /** etcd's SYNC: delete every node whose expiry is at or before `timeMs`. */
  | { kind: 'expire'; timeMs: number };

export interface ApplyOutcome {
  /** The reply to the request; null for an expiry command. */
  result: StoreResult | null;
  /** Expire events an expiry command produced, in order. */
  expired: StoreEvent[];
  /** Watches satisfied by this command, in the order etcd notifies them. */
  deliveries: WatchDelivery[];
}

export type WatchResult =
  | { kind: 'event'; event: StoreEvent; startIndex: number }
  | { kind: 'registered'; watchId: number; startIndex: number }
  | { kind: 'error'; error: EtcdError };
