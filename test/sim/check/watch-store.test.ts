// The watch checker against the real etcd v2 store (core/kv): random writes, refreshes, directory deletions,
// expiries and watches of every kind, with every delivery recorded. The store reproduces etcd on purpose, so
// the checker must accept everything it does; and a delivery dropped or duplicated afterwards must be caught.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { keysRequest } from '../../../core/api/index.ts';
import { applyCommand, newStore, watch, type KeysRequest, type StoreEvent } from '../../../core/kv/index.ts';
import type { CommittedEvent, ReceivedEvent, WatchRecord } from '../../../sim/check/history.ts';
import { checkWatches } from '../../../sim/check/watch.ts';

const EPOCH = Date.UTC(2026, 10, 25, 8, 0, 0);
const KEYS = ['/a', '/d/x', '/d/_h', '/d/e/y', '/dd', '/d/e'];
const WATCH_KEYS = ['/', '/d', '/d/x', '/a', '/dd', '/d/e', '/d/e/y'];
const CAPACITY = 12;

const steps = fc.array(
  fc.record({ kind: fc.nat(99), key: fc.nat(KEYS.length * WATCH_KEYS.length), ttl: fc.nat(3), flag: fc.boolean(), flag2: fc.boolean(), back: fc.nat(20) }),
  { minLength: 5, maxLength: 80 },
);

const committedOf = (e: StoreEvent): CommittedEvent => {
  const c: CommittedEvent = { index: e.node.modifiedIndex, key: e.node.key, action: e.action };
  if (e.node.value !== null && e.node.value !== undefined && !e.node.dir) c.value = e.node.value;
  if (e.node.dir || e.prevNode?.dir) c.dir = true;
  if (e.refresh) c.refresh = true;
  return c;
};

function run(plan: { kind: number; key: number; ttl: number; flag: boolean; flag2: boolean; back: number }[]) {
  const store = newStore({ historyCapacity: CAPACITY });
  const events: CommittedEvent[] = [];
  const watches = new Map<number, WatchRecord>();
  const done: WatchRecord[] = [];
  let time = EPOCH;
  const apply = (command: Parameters<typeof applyCommand>[1]) => {
    const out = applyCommand(store, command);
    const produced = [...(out.result && out.result.ok ? [out.result.event] : []), ...out.expired];
    for (const e of produced) if (e.action !== 'get') events.push(committedOf(e));
    for (const d of out.deliveries) watches.get(d.watchId)!.received.push({ ...committedOf(d.event), time } as ReceivedEvent);
  };
  let watcher = 0;
  for (const s of plan) {
    time += 400;
    const key = KEYS[s.key % KEYS.length]!;
    const ttlSeconds = s.ttl === 0 ? null : s.ttl;
    let request: KeysRequest | undefined;
    if (s.kind < 35) request = keysRequest('PUT', key, { value: `v${time}`, ttlSeconds });
    else if (s.kind < 45) request = keysRequest('PUT', '/d', { dir: true, ttlSeconds });
    else if (s.kind < 55) request = keysRequest('DELETE', s.flag ? '/d' : key, { recursive: true, dir: s.flag2 });
    else if (s.kind < 62) request = keysRequest('PUT', key, { refresh: true, prevExist: true, ttlSeconds: 2 });
    else if (s.kind < 72) apply({ kind: 'expire', timeMs: time });
    else {
      const wkey = WATCH_KEYS[Math.floor(s.key / KEYS.length) % WATCH_KEYS.length]!;
      const since = s.back === 0 ? 0 : Math.max(1, store.index + 1 - s.back);
      const waitIndex = since === 0 ? store.index + 1 : since;
      const result = watch(store, wkey, s.flag, s.flag2, since);
      const record: WatchRecord = { watcher: watcher++, key: wkey, recursive: s.flag, waitIndex, stream: s.flag2, received: [] };
      if (result.kind === 'registered') watches.set(result.watchId, record);
      else if (result.kind === 'event') {
        // Answered from history: etcd does not register it, even as a stream.
        record.stream = false;
        record.received.push({ ...committedOf(result.event), time });
        done.push(record);
      } else done.push({ ...record, cleared: { time, index: result.error.index } });
    }
    if (request) apply({ kind: 'request', request, timeMs: time });
  }
  const all = [...done, ...watches.values()].map((w) => ({ ...w, drainedThrough: store.index }));
  return { events, watches: all };
}

describe('watch checker against the etcd v2 store', () => {
  it('accepts every delivery the store makes', () => {
    fc.assert(
      fc.property(steps, (plan) => {
        const { events, watches } = run(plan);
        const r = checkWatches(events, watches, { historyCapacity: CAPACITY });
        if (!r.ok) throw new Error(r.summary);
      }),
      { numRuns: 300 },
    );
  });

  it('catches one delivered event dropped or duplicated afterwards', () => {
    fc.assert(
      fc.property(steps, fc.nat(), fc.boolean(), (plan, pick, duplicate) => {
        const { events, watches } = run(plan);
        const streams = watches.filter((w) => w.stream && w.received.length > 0 && !w.cleared);
        fc.pre(streams.length > 0);
        const w = streams[pick % streams.length]!;
        const i = Math.floor(pick / streams.length) % w.received.length;
        const victim = w.received[i]!;
        // The store's own doubled delivery of a deleted directory is not a planted fault.
        fc.pre(!w.received.some((r, j) => j !== i && r.index === victim.index));
        w.received = duplicate ? [...w.received.slice(0, i + 1), victim, ...w.received.slice(i + 1)] : w.received.filter((_, j) => j !== i);
        return !checkWatches(events, watches, { historyCapacity: CAPACITY, etcdQuirks: !duplicate || victim.key !== w.key }).ok;
      }),
      { numRuns: 300 },
    );
  });
});
