// What client workers ask for. A worker is a small closed-loop state machine: `next` plans its next request
// (or a pause), `settle` hears how it ended. Each worker draws from its own PRNG stream, so one worker's
// choices do not shift another's, and nothing here reads the clock: the pool hands in virtual time.
//
// Workloads:
// - register: Jepsen's etcd test, one key, read / write / compare-and-set of small integers;
// - multi-key: get / set / create / update / cas (by value or by index) / delete / cad over a few keys;
// - discovery: instances register a key with a TTL, refresh it (refresh=true) every period, re-register
//   when it has expired;
// - watchers: follow a prefix with waitIndex, one watch after another, resuming after each event (and after a
//   401 "index cleared" from the index it names);
// - queue: producers POST in-order keys, consumers list the queue and claim the head with compare-and-delete.
import { keysRequest } from '../../core/api/index.ts';
import type { KeysRequest, StoreEvent } from '../../core/kv/index.ts';
import type { EtcdInput, EtcdOutput, Outcome } from '../check/history.ts';
import type { RandomStream } from '../world/random.ts';
import type { WorkloadConfig } from '../config.ts';

export const REGISTER_KEY = '/register';
export const KV_PREFIX = '/kv';
export const SERVICES_DIR = '/services';
export const QUEUE_DIR = '/queue';

/** One request a worker wants sent. */
export interface PlannedOp {
  request: KeysRequest;
  /** How the history records it (key and model input); null for requests outside the key model (watches,
   * directory listings). A POST learns its key from the reply: `key` is then filled in on completion. */
  history: { key: string | null; input: EtcdInput } | null;
  /** Writes that time out are indeterminate; reads and watches that time out simply failed. */
  write: boolean;
  /** Give up after this long (default: the workload's timeoutMs). */
  timeoutMs?: number;
}

/** How a request ended, from the client's side. */
export interface OpResult {
  outcome: Outcome;
  output: EtcdOutput | null;
  /** The store event (ok replies with an event, or a watch's event). */
  event: StoreEvent | null;
  /** etcd error code of an ok reply carrying a store error, or of a failed one. */
  errorCode: number | null;
  /** etcd index the error or reply carried. */
  etcdIndex: number;
  /** The client gave up (timeout) rather than hearing back. */
  timedOut: boolean;
  /** A watch given up on a member that ran throughout: every matching event up to this store index was due. */
  drainedThrough?: number;
}

export interface Worker {
  readonly kind: string;
  /** The next request, a pause (`{ waitMs }`), or null when the worker has nothing more to do. */
  next(now: number): PlannedOp | { waitMs: number } | null;
  /** The outcome of the request `next` returned; returns how long to wait before the next one. */
  settle(op: PlannedOp, result: OpResult, now: number): number;
  /** Sends every request to this member (an index into the pool's members) for good, instead of moving on. */
  readonly pinnedMember?: number;
  /** The client process died and starts again: forget what it knew. */
  restart?(): void;
}

function readOf(rng: RandomStream, w: WorkloadConfig, path: string, extra: Partial<KeysRequest> = {}): PlannedOp {
  const quorum = rng.bernoulli(w.quorumReads);
  return {
    request: keysRequest('GET', path, { quorum, ...extra }),
    history: { key: path, input: quorum ? { f: 'get', quorum: true } : { f: 'get', quorum: false } },
    write: false,
  };
}

/**
 * A member answers some requests in the instant they arrive (a default read, an error): with no think time at
 * all a worker would then loop at one virtual instant forever, so zero think time means back to back, 1 ms apart.
 */
export const BACK_TO_BACK_MS = 1;

function think(rng: RandomStream, w: WorkloadConfig): number {
  return w.thinkMs > 0 ? rng.exponential(w.thinkMs) : BACK_TO_BACK_MS;
}

/** Reads of the register key only, always through one member: what a client of that member alone would see. */
export function pinnedRegisterReader(rng: RandomStream, w: WorkloadConfig, member: number): Worker {
  return {
    kind: 'register-reader',
    pinnedMember: member,
    next: () => readOf(rng, w, REGISTER_KEY),
    settle: () => think(rng, w),
  };
}

export function registerWorker(rng: RandomStream, w: WorkloadConfig): Worker {
  return {
    kind: 'register',
    next() {
      const roll = rng.next();
      if (roll < w.readFraction) return readOf(rng, w, REGISTER_KEY);
      const value = String(rng.int(0, 4));
      if (roll < w.readFraction + (1 - w.readFraction) / 2) {
        return { request: keysRequest('PUT', REGISTER_KEY, { value }), history: { key: REGISTER_KEY, input: { f: 'set', value } }, write: true };
      }
      const from = String(rng.int(0, 4));
      return {
        request: keysRequest('PUT', REGISTER_KEY, { value, prevValue: from }),
        history: { key: REGISTER_KEY, input: { f: 'cas', value, prevValue: from } },
        write: true,
      };
    },
    settle: () => think(rng, w),
  };
}

export function multiKeyWorker(rng: RandomStream, w: WorkloadConfig, client: number): Worker {
  /** Last modifiedIndex this client saw per key, for cas/cad by index. */
  const seen = new Map<string, number>();
  let counter = 0;
  return {
    kind: 'multi-key',
    next() {
      const key = `${KV_PREFIX}/${rng.int(0, w.keys - 1)}`;
      if (rng.next() < w.readFraction) return readOf(rng, w, key);
      const value = `c${client}-${counter++}`;
      const known = seen.get(key);
      switch (rng.int(0, 6)) {
        case 0:
          return { request: keysRequest('PUT', key, { value }), history: { key, input: { f: 'set', value } }, write: true };
        case 1:
          return { request: keysRequest('PUT', key, { value, prevExist: false }), history: { key, input: { f: 'create', value } }, write: true };
        case 2:
          return { request: keysRequest('PUT', key, { value, prevExist: true }), history: { key, input: { f: 'update', value } }, write: true };
        case 3:
        case 4: {
          if (known !== undefined && rng.bernoulli(0.5)) {
            return { request: keysRequest('PUT', key, { value, prevIndex: known }), history: { key, input: { f: 'cas', value, prevIndex: known } }, write: true };
          }
          const prevValue = `c${rng.int(0, Math.max(0, w.clients - 1))}-${Math.max(0, counter - 1 - rng.int(0, 2))}`;
          return { request: keysRequest('PUT', key, { value, prevValue }), history: { key, input: { f: 'cas', value, prevValue } }, write: true };
        }
        case 5:
          return { request: keysRequest('DELETE', key), history: { key, input: { f: 'delete' } }, write: true };
        default:
          if (known !== undefined) {
            return { request: keysRequest('DELETE', key, { prevIndex: known }), history: { key, input: { f: 'cad', prevIndex: known } }, write: true };
          }
          return { request: keysRequest('DELETE', key), history: { key, input: { f: 'delete' } }, write: true };
      }
    },
    settle(op, result) {
      if (result.outcome === 'ok' && result.event !== null && op.history?.key) seen.set(op.history.key, result.event.node.modifiedIndex);
      return think(rng, w);
    },
  };
}

/** A service instance: register with a TTL, refresh every period, re-register after expiry. */
export function discoveryWorker(rng: RandomStream, w: WorkloadConfig, instance: number): Worker {
  const key = `${SERVICES_DIR}/instance-${instance}`;
  const value = `10.0.0.${instance + 1}:2379`;
  let registered = false;
  return {
    kind: 'discovery',
    next() {
      if (!registered) {
        return { request: keysRequest('PUT', key, { value, ttlSeconds: w.ttlSeconds }), history: { key, input: { f: 'set', value, ttl: w.ttlSeconds } }, write: true };
      }
      return {
        request: keysRequest('PUT', key, { ttlSeconds: w.ttlSeconds, refresh: true, prevExist: true }),
        // A refresh keeps the value and bumps modifiedIndex: an update to the same value, with the new TTL.
        history: { key, input: { f: 'update', value, ttl: w.ttlSeconds } },
        write: true,
        timeoutMs: Math.min(w.timeoutMs, w.refreshMs),
      };
    },
    settle(_op, result) {
      if (result.outcome === 'ok') registered = result.errorCode === null;
      // Refresh on the period whatever happened; a little jitter keeps instances from moving in lockstep.
      return w.refreshMs * rng.uniform(0.9, 1);
    },
    restart() {
      registered = false;
    },
  };
}

/** Reads the registrations, as a service's clients would: what the TTL checker judges expiry by. */
export function discoveryReader(rng: RandomStream, w: WorkloadConfig): Worker {
  return {
    kind: 'discovery-reader',
    next() {
      return readOf(rng, w, `${SERVICES_DIR}/instance-${rng.int(0, Math.max(0, w.instances - 1))}`);
    },
    settle: () => think(rng, w) * 5,
  };
}

/** What a watcher saw, for the watch checker: one record per watch request. */
export interface WatchLog {
  watcher: number;
  key: string;
  recursive: boolean;
  waitIndex: number;
  /** When the watch request was sent. */
  sent: number;
  received: Array<{ event: StoreEvent; time: number }>;
  cleared?: { time: number; index: number };
  drainedThrough?: number;
}

/** Follows a prefix: one recursive watch after another, each from just after the last event seen. */
export function watchWorker(w: WorkloadConfig, watcher: number, prefix: string, logs: WatchLog[]): Worker {
  let nextIndex = 1;
  let current: WatchLog | null = null;
  return {
    kind: 'watch',
    next(now) {
      current = { watcher, key: prefix, recursive: true, waitIndex: nextIndex, sent: now, received: [] };
      return {
        request: keysRequest('GET', prefix, { wait: true, recursive: true, waitIndex: nextIndex }),
        history: null,
        write: false,
        timeoutMs: Math.max(w.timeoutMs, 5000),
      };
    },
    settle(_op, result, now) {
      const log = current!;
      current = null;
      if (result.outcome === 'ok' && result.event !== null) {
        log.received.push({ event: result.event, time: now });
        nextIndex = result.event.node.modifiedIndex + 1;
        logs.push(log);
      } else if (result.outcome === 'ok' && result.errorCode === 401) {
        log.cleared = { time: now, index: result.etcdIndex };
        nextIndex = result.etcdIndex + 1;
        logs.push(log);
      } else if (result.outcome === 'ok' && result.errorCode === 100) {
        // The prefix does not exist yet (etcd answers a watch on a missing key at once only when it existed).
        logs.push(log);
      } else if (result.drainedThrough !== undefined) {
        // Nothing came, though the member ran throughout: nothing matching may have been applied meanwhile.
        log.drainedThrough = result.drainedThrough;
        logs.push(log);
      }
      return result.timedOut ? 0 : 10;
    },
  };
}

/**
 * Queue keys whose creating POST the history holds (an ok reply named the key). Operations on any other queue
 * key are left out of the history at the end of the run (ClientPool.history): the key model would see a delete
 * of a key nobody created (an indeterminate POST's key is never learnt). Only at the end, because a consumer may
 * list and claim a key before its producer hears back: leaving that claim out but keeping later ones would
 * show the model a claim failing on a key nobody had deleted.
 */
export type KnownQueueKeys = Set<string>;

export function queueProducer(rng: RandomStream, w: WorkloadConfig, client: number, known: KnownQueueKeys): Worker {
  let counter = 0;
  return {
    kind: 'queue-producer',
    next() {
      const value = `job-${client}-${counter++}`;
      return { request: keysRequest('POST', QUEUE_DIR, { value }), history: { key: null, input: { f: 'create', value } }, write: true };
    },
    settle(_op, result) {
      if (result.outcome === 'ok' && result.event !== null) known.add(result.event.node.key);
      return think(rng, w) * 2;
    },
  };
}

/** Listings a consumer saw, for the in-order check: the names in the order the queue returned them. */
export interface QueueListing {
  time: number;
  keys: Array<{ key: string; createdIndex: number }>;
}

export function queueConsumer(rng: RandomStream, w: WorkloadConfig, listings: QueueListing[]): Worker {
  let head: { key: string; index: number } | null = null;
  return {
    kind: 'queue-consumer',
    next() {
      if (head === null) return { request: keysRequest('GET', QUEUE_DIR, { quorum: true, sorted: true }), history: null, write: false };
      const { key, index } = head;
      head = null;
      return { request: keysRequest('DELETE', key, { prevIndex: index }), history: { key, input: { f: 'cad', prevIndex: index } }, write: true };
    },
    settle(op, result, now) {
      if (op.request.method === 'GET' && result.outcome === 'ok' && result.event !== null) {
        const nodes = result.event.node.nodes ?? [];
        listings.push({ time: now, keys: nodes.map((n) => ({ key: n.key, createdIndex: n.createdIndex })) });
        const first = nodes[0];
        if (first !== undefined) {
          head = { key: first.key, index: first.modifiedIndex };
          return 0;
        }
      }
      return think(rng, w) * 2;
    },
  };
}

/** Keys a POST creates are named by their creation index, so a sorted listing must be in creation order. */
export function queueOrderProblems(listings: readonly QueueListing[]): string[] {
  const problems: string[] = [];
  for (const l of listings) {
    for (let i = 0; i < l.keys.length; i++) {
      const k = l.keys[i]!;
      const name = k.key.slice(k.key.lastIndexOf('/') + 1);
      if (Number(name) !== k.createdIndex) problems.push(`t=${l.time}: queue key ${k.key} was created at index ${k.createdIndex}, not the index its name says`);
      if (i > 0 && l.keys[i - 1]!.createdIndex >= k.createdIndex) problems.push(`t=${l.time}: queue listing out of order: ${l.keys[i - 1]!.key} before ${k.key}`);
    }
  }
  return problems;
}
