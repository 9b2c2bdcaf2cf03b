// Watches: every watcher receives every matching event from its waitIndex on, in index order, without gaps or
// duplicates, each agreeing with the committed event at that index; or a 401 (event index cleared) when, and
// only when, its waitIndex had left etcd's event history window.
import { resultOf, type CheckResult, type CommittedEvent, type Violation, type WatchRecord } from './history.ts';

export type { CommittedEvent, ReceivedEvent, WatchRecord } from './history.ts';

export interface WatchOptions {
  /** How many events etcd's event history retains (etcd v2: 1000). */
  historyCapacity: number;
}

function matches(watch: WatchRecord, key: string): boolean {
  if (key === watch.key) return true;
  if (!watch.recursive) return false;
  const prefix = watch.key.endsWith('/') ? watch.key : `${watch.key}/`;
  return key.startsWith(prefix);
}

function show(e: CommittedEvent): string {
  return `${e.action} ${e.key}${e.value !== undefined ? `=${JSON.stringify(e.value)}` : ''} @${e.index}`;
}

export function checkWatches(events: CommittedEvent[], watches: WatchRecord[], options: WatchOptions = { historyCapacity: 1000 }): CheckResult {
  const violations: Violation[] = [];
  const committed = new Map<number, CommittedEvent>();
  const sorted = [...events].sort((a, b) => a.index - b.index);
  for (const e of sorted) {
    if (committed.has(e.index)) {
      violations.push({ property: 'watch-history', explanation: `the committed history has two events at index ${e.index}` });
    }
    committed.set(e.index, e);
  }
  let delivered = 0;
  for (const w of watches) {
    const who = `watcher ${w.watcher} on ${w.key}${w.recursive ? ' (recursive)' : ''} from index ${w.waitIndex}`;
    const expected = sorted.filter((e) => e.index >= w.waitIndex && matches(w, e.key));
    if (w.cleared) {
      const oldestRetained = w.cleared.index - options.historyCapacity + 1;
      if (w.waitIndex >= oldestRetained) {
        violations.push({
          property: 'watch-cleared',
          explanation: `${who} got 401 at ${w.cleared.time} ms (store index ${w.cleared.index}), but index ${w.waitIndex} is still within the last ${options.historyCapacity} events`,
        });
      }
      if (w.received.length > 0) violations.push({ property: 'watch-cleared', explanation: `${who} got both events and a 401` });
      continue;
    }
    if (!w.stream && w.received.length > 1) {
      violations.push({ property: 'watch-one-shot', explanation: `${who} is one-shot but received ${w.received.length} events` });
    }
    const before = violations.length;
    let previous = -Infinity;
    for (let j = 0; j < w.received.length; j++) {
      const r = w.received[j]!;
      if (r.index === previous) {
        violations.push({ property: 'watch-duplicate', explanation: `${who} received index ${r.index} twice (second at ${r.time} ms)` });
        break;
      }
      if (r.index < previous) {
        violations.push({ property: 'watch-order', explanation: `${who} received index ${r.index} at ${r.time} ms after index ${previous}` });
        break;
      }
      previous = r.index;
      const truth = committed.get(r.index);
      if (!truth || truth.key !== r.key || truth.action !== r.action || truth.value !== r.value) {
        violations.push({
          property: 'watch-agreement',
          explanation: `${who} received ${show(r)} at ${r.time} ms but the committed history has ${truth ? show(truth) : 'nothing'} at index ${r.index}`,
        });
        break;
      }
      if (!matches(w, r.key) || r.index < w.waitIndex) {
        violations.push({ property: 'watch-agreement', explanation: `${who} received ${show(r)}, which it did not ask for` });
        break;
      }
      const want = expected[j];
      if (want && want.index < r.index) {
        const late = w.received.slice(j + 1).find((x) => x.index === want.index);
        violations.push(
          late
            ? { property: 'watch-order', explanation: `${who} received ${show(r)} at ${r.time} ms before ${show(want)} (at ${late.time} ms)` }
            : { property: 'watch-gap', explanation: `${who} received ${show(r)} at ${r.time} ms without the earlier matching event ${show(want)}` },
        );
        break;
      }
      delivered++;
    }
    if (w.drainedThrough !== undefined && violations.length === before) {
      const due = expected.filter((e) => e.index <= w.drainedThrough!);
      const needed = w.stream ? due.length : Math.min(due.length, 1);
      if (w.received.length < needed) {
        const missing = due[w.received.length]!;
        violations.push({
          property: 'watch-missing',
          explanation: `${who} drained through index ${w.drainedThrough} but never received ${show(missing)} (got ${w.received.length} of ${needed})`,
        });
      }
    }
  }
  return resultOf('watch', violations, `${watches.length} watchers, ${delivered} delivered events agree with ${events.length} committed events`);
}
