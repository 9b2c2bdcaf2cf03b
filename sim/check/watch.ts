// Watches: every watcher receives every matching event from its waitIndex on, in index order, without gaps or
// duplicates, each agreeing with the committed event at that index; or a 401 (event index cleared) when, and
// only when, its waitIndex had left etcd's event history window.
//
// Which events a watch on key K must receive: events on K itself; with `recursive`, events on keys below K
// unless the path below K passes through a hidden name (`_x`); and the removal of a directory above K while K
// existed (it removed K; existence is replayed from the committed events). Refreshes are never delivered. Some deliveries are allowed but not required, because etcd
// makes them in some paths and not others: hidden keys below a recursive watch (a watch answered from history
// does not filter them), and with `etcdQuirks` the removal of a directory whose name is a mere string prefix
// of K (deleting /foo answers a history watch on /foobar) and a stream watch on a deleted directory receiving
// that delete twice in a row.
import { resultOf, type CheckResult, type CommittedEvent, type Violation, type WatchRecord, formatMs } from './history.ts';

export type { CommittedEvent, ReceivedEvent, WatchRecord } from './history.ts';

export interface WatchOptions {
  /** How many events etcd's event history retains (etcd v2: 1000). */
  historyCapacity: number;
  /** Tolerate the documented etcd oddities above (default true: the store reproduces them on purpose). */
  etcdQuirks?: boolean;
}

function isRemoval(e: CommittedEvent): boolean {
  return e.action === 'delete' || e.action === 'expire' || e.action === 'compareAndDelete';
}

function below(key: string, ancestor: string): boolean {
  return ancestor === '/' ? key !== '/' : key.startsWith(`${ancestor}/`);
}

function hiddenBelow(key: string, ancestor: string): boolean {
  const rest = ancestor === '/' ? key : key.slice(ancestor.length);
  return rest.includes('/_');
}

/**
 * For each removal event, the watched keys below it that existed just before it: only those watches must hear
 * of it (a live watch is told through the removed node). Replays the tree: a write creates its key and every
 * directory above it; a removal takes the node and everything below.
 */
function removedWatchedKeys(sorted: CommittedEvent[], watchedKeys: Set<string>): Map<number, Set<string>> {
  const existing = new Set<string>();
  const removed = new Map<number, Set<string>>();
  for (const e of sorted) {
    if (e.refresh) continue;
    if (isRemoval(e)) {
      const hit = new Set<string>();
      for (const k of watchedKeys) if (below(k, e.key) && existing.has(k)) hit.add(k);
      if (hit.size > 0) removed.set(e.index, hit);
      if (e.dir) {
        for (const k of [...existing]) if (k === e.key || below(k, e.key)) existing.delete(k);
      } else existing.delete(e.key);
      continue;
    }
    for (let k = e.key; k !== '/' && k !== ''; k = k.slice(0, Math.max(k.lastIndexOf('/'), 0))) existing.add(k);
  }
  return removed;
}

/** The watch must receive this event. */
function required(w: WatchRecord, e: CommittedEvent, removed: Map<number, Set<string>>): boolean {
  if (e.refresh) return false;
  if (e.key === w.key) return true;
  if (w.recursive && below(e.key, w.key) && !hiddenBelow(e.key, w.key)) return true;
  return isRemoval(e) && removed.get(e.index)?.has(w.key) === true;
}

/** The watch may receive this event. */
function allowed(w: WatchRecord, e: CommittedEvent, quirks: boolean): boolean {
  if (e.refresh) return false;
  if (e.key === w.key || (w.recursive && below(e.key, w.key))) return true;
  return isRemoval(e) && e.dir !== false && (below(w.key, e.key) || (quirks && w.key.startsWith(e.key)));
}

function show(e: CommittedEvent): string {
  return `${e.action} ${e.key}${e.value !== undefined ? `=${JSON.stringify(e.value)}` : ''} @${e.index}`;
}

export function checkWatches(events: CommittedEvent[], watches: WatchRecord[], options: WatchOptions = { historyCapacity: 1000 }): CheckResult {
  const quirks = options.etcdQuirks !== false;
  const violations: Violation[] = [];
  const committed = new Map<number, CommittedEvent>();
  const sorted = [...events].sort((a, b) => a.index - b.index);
  for (const e of sorted) {
    if (committed.has(e.index)) {
      violations.push({ property: 'watch-history', explanation: `the committed history has two events at index ${e.index}` });
    }
    committed.set(e.index, e);
  }
  const removed = removedWatchedKeys(sorted, new Set(watches.map((w) => w.key)));
  // A non-recursive watch can only need events on its key or removals of the directories above it.
  const byKey = new Map<string, CommittedEvent[]>();
  for (const e of sorted) {
    let list = byKey.get(e.key);
    if (!list) byKey.set(e.key, (list = []));
    list.push(e);
  }
  const candidates = (w: WatchRecord): CommittedEvent[] => {
    if (w.recursive) return sorted;
    const found = [...(byKey.get(w.key) ?? [])];
    for (let k = w.key; k !== '/' && k !== ''; ) {
      k = k.lastIndexOf('/') <= 0 ? '/' : k.slice(0, k.lastIndexOf('/'));
      for (const e of byKey.get(k) ?? []) if (isRemoval(e)) found.push(e);
    }
    return found.sort((a, b) => a.index - b.index);
  };
  let delivered = 0;
  for (const w of watches) {
    const who = `watcher ${w.watcher} on ${w.key}${w.recursive ? ' (recursive)' : ''} from index ${w.waitIndex}`;
    if (w.cleared) {
      const oldestRetained = w.cleared.index - options.historyCapacity + 1;
      if (w.waitIndex >= oldestRetained) {
        violations.push({
          property: 'watch-cleared',
          explanation: `${who} got 401 at ${formatMs(w.cleared.time)} ms (store index ${w.cleared.index}), but index ${w.waitIndex} is still within the last ${options.historyCapacity} events`,
        });
      }
      if (w.received.length > 0) violations.push({ property: 'watch-cleared', explanation: `${who} got both events and a 401` });
      continue;
    }
    const expected = candidates(w).filter((e) => e.index >= w.waitIndex && required(w, e, removed));
    const before = violations.length;
    if (!w.stream && w.received.length > 1) {
      violations.push({ property: 'watch-one-shot', explanation: `${who} is one-shot but received ${w.received.length} events` });
    }
    let next = 0;
    let previous: CommittedEvent | undefined;
    for (let j = 0; j < w.received.length; j++) {
      const r = w.received[j]!;
      if (previous && r.index === previous.index) {
        const quirk = quirks && w.stream && isRemoval(r) && r.key === w.key && j >= 1 && (j < 2 || w.received[j - 2]!.index !== r.index);
        if (quirk) continue;
        violations.push({ property: 'watch-duplicate', explanation: `${who} received index ${r.index} twice (second at ${formatMs(r.time)} ms)` });
        break;
      }
      if (previous && r.index < previous.index) {
        violations.push({ property: 'watch-order', explanation: `${who} received index ${r.index} at ${formatMs(r.time)} ms after index ${previous.index}` });
        break;
      }
      const truth = committed.get(r.index);
      if (!truth || truth.key !== r.key || truth.action !== r.action || truth.value !== r.value) {
        violations.push({
          property: 'watch-agreement',
          explanation: `${who} received ${show(r)} at ${formatMs(r.time)} ms but the committed history has ${truth ? show(truth) : 'nothing'} at index ${r.index}`,
        });
        break;
      }
      if (r.index < w.waitIndex || !allowed(w, truth, quirks)) {
        violations.push({ property: 'watch-agreement', explanation: `${who} received ${show(r)}, which it did not ask for` });
        break;
      }
      const want = expected[next];
      if (want && want.index < r.index) {
        const late = w.received.slice(j + 1).find((x) => x.index === want.index);
        violations.push(
          late
            ? { property: 'watch-order', explanation: `${who} received ${show(r)} at ${formatMs(r.time)} ms before ${show(want)} (at ${formatMs(late.time)} ms)` }
            : { property: 'watch-gap', explanation: `${who} received ${show(r)} at ${formatMs(r.time)} ms without the earlier matching event ${show(want)}` },
        );
        break;
      }
      if (want && want.index === r.index) next++;
      previous = truth;
      delivered++;
    }
    if (w.drainedThrough !== undefined && violations.length === before) {
      const due = expected.filter((e) => e.index <= w.drainedThrough!);
      const needed = w.stream ? due.length : Math.min(due.length, 1);
      const got = w.stream ? next : Math.min(w.received.length, 1);
      if (got < needed) {
        const missing = due[next]!;
        violations.push({
          property: 'watch-missing',
          explanation: `${who} drained through index ${w.drainedThrough} but never received ${show(missing)} (got ${got} of ${needed})`,
        });
      }
    }
  }
  return resultOf('watch', violations, `${watches.length} watchers, ${delivered} delivered events agree with ${events.length} committed events`);
}
