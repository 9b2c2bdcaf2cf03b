// The event history: etcd keeps the last 1000 events so a watch can start at an index in the past, and
// answers 401 once that index has left the window.
import { ErrorCode, etcdError } from './errors.ts';
import { cleanPath } from './paths.ts';
import type { EtcdError, EventHistory, StoreEvent } from './types.ts';

export const HISTORY_CAPACITY = 1000;

export function newHistory(capacity: number = HISTORY_CAPACITY): EventHistory {
  return { capacity, events: [], front: 0, back: 0, size: 0, startIndex: 0, lastIndex: 0 };
}

export function addToHistory(h: EventHistory, e: StoreEvent): void {
  // The ring grows up to capacity and is then overwritten in place; `back` never passes the length.
  if (h.back === h.events.length) h.events.push(e);
  else h.events[h.back] = e;
  h.back = (h.back + 1) % h.capacity;
  if (h.size === h.capacity) h.front = (h.front + 1) % h.capacity;
  else h.size++;
  h.lastIndex = e.node.modifiedIndex;
  h.startIndex = h.events[h.front]!.node.modifiedIndex;
}

/**
 * The first event at or after `index` that a watch on `key` would see, null if none yet, or the 401
 * error (with index 0; the caller sets the store index) when `index` has left the window.
 */
export function scanHistory(h: EventHistory, key: string, recursive: boolean, index: number): StoreEvent | EtcdError | null {
  if (index < h.startIndex) {
    return etcdError(ErrorCode.EventIndexCleared, `the requested history has been cleared [${h.startIndex}/${index}]`, 0);
  }
  if (index > h.lastIndex) return null;
  let prefix = '';
  if (recursive) {
    prefix = cleanPath(key);
    if (!prefix.endsWith('/')) prefix += '/';
  }
  let i = (h.front + (index - h.startIndex)) % h.capacity;
  for (;;) {
    const e = h.events[i]!;
    if (!e.refresh) {
      const eventKey = e.node.key;
      let hit = eventKey === key || (recursive && eventKey.startsWith(prefix));
      // Deleting or expiring a directory ends every watch below it. etcd compares without a trailing
      // slash, so deleting /foo also answers a watch on /foobar; kept for byte-for-byte agreement.
      if (!hit && (e.action === 'delete' || e.action === 'expire') && e.prevNode !== null && e.prevNode.dir) {
        hit = key.startsWith(e.prevNode.key);
      }
      if (hit) return e;
    }
    i = (i + 1) % h.capacity;
    if (i === h.back) return null;
  }
}

export function cloneHistory(h: EventHistory): EventHistory {
  // Events are never mutated once recorded, so the ring can share them.
  return { ...h, events: h.events.slice() };
}
