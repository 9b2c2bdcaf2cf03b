import { describe, expect, it } from 'vitest';
import * as real from '../../../sim/check/watch.ts';
import type { CommittedEvent, WatchRecord } from '../../../sim/check/watch.ts';
import { itCatchesEachMutant, type CaughtMutant } from '../../support/mutants.ts';

type Checker = typeof real;

const history: CommittedEvent[] = [
  { index: 1, key: '/a', action: 'set', value: '1' },
  { index: 2, key: '/dir/x', action: 'create', value: 'x' },
  { index: 3, key: '/a', action: 'compareAndSwap', value: '2' },
  { index: 4, key: '/b', action: 'set', value: 'b' },
  { index: 5, key: '/a', action: 'delete' },
  { index: 6, key: '/dir/y', action: 'set', value: 'y' },
];

const at = (index: number, time = 100 + index) => ({ ...history[index - 1]!, time });

function watcher(received: ReturnType<typeof at>[], extra: Partial<WatchRecord> = {}): WatchRecord {
  return { watcher: 1, key: '/a', recursive: false, waitIndex: 1, stream: true, received, drainedThrough: 6, ...extra };
}

const properties = (c: Checker, w: WatchRecord, capacity = 1000) => c.checkWatches(history, [w], { historyCapacity: capacity }).violations.map((v) => v.property);

const planted = {
  droppedEvent: (c: Checker) => properties(c, watcher([at(1), at(5)])),
  droppedLastEvent: (c: Checker) => properties(c, watcher([at(1), at(3)])),
  duplicatedEvent: (c: Checker) => properties(c, watcher([at(1), at(3), at(3), at(5)])),
  outOfOrderEvent: (c: Checker) => properties(c, watcher([at(1), at(5), at(3)])),
  wrongValue: (c: Checker) => properties(c, watcher([at(1), { ...at(3), value: 'stale' }, at(5)])),
  clearedTooSoon: (c: Checker) => properties(c, watcher([], { waitIndex: 2, cleared: { time: 50, index: 6 } }), 10),
};

describe('watch checker', () => {
  it('accepts complete, ordered streams; recursive watches; one-shot watches; a justified 401', () => {
    const watches: WatchRecord[] = [
      watcher([at(1), at(3), at(5)]),
      watcher([at(2), at(6)], { watcher: 2, key: '/dir', recursive: true }),
      watcher([at(3)], { watcher: 3, waitIndex: 2, stream: false }),
      watcher([], { watcher: 4, waitIndex: 1, cleared: { time: 9, index: 6 } }),
      // Still open and not drained: a prefix of its events is all that can be asked.
      watcher([at(4)], { watcher: 5, key: '/b', waitIndex: 4, drainedThrough: undefined }),
    ];
    const r = real.checkWatches(history, watches, { historyCapacity: 5 });
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
  });
  it('catches a dropped watch event', () => {
    expect(planted.droppedEvent(real)).toEqual(['watch-gap']);
    expect(real.checkWatches(history, [watcher([at(1), at(5)])]).violations[0]!.explanation).toBe(
      'watcher 1 on /a from index 1 received delete /a @5 at 105 ms without the earlier matching event compareAndSwap /a="2" @3',
    );
  });
  it('catches a watch that stopped short after draining', () => expect(planted.droppedLastEvent(real)).toEqual(['watch-missing']));
  it('catches a duplicated watch event', () => expect(planted.duplicatedEvent(real)).toEqual(['watch-duplicate']));
  it('catches an out-of-order watch event', () => expect(planted.outOfOrderEvent(real)).toEqual(['watch-order']));
  it('catches an event that disagrees with the committed history', () => expect(planted.wrongValue(real)).toEqual(['watch-agreement']));
  it('catches a 401 while the index was still in the window', () => expect(planted.clearedTooSoon(real)).toEqual(['watch-cleared']));
});

describe('watch checker: what a watch must, may and must not receive (etcd semantics)', () => {
  const tree: CommittedEvent[] = [
    { index: 1, key: '/d/x', action: 'set', value: '1' },
    { index: 2, key: '/d/_hidden', action: 'set', value: 'h' },
    { index: 3, key: '/d/x', action: 'update', value: '1', refresh: true },
    { index: 4, key: '/d', action: 'delete', dir: true },
    { index: 5, key: '/dd', action: 'set', value: 'z' },
  ];
  const got = (...indexes: number[]) => indexes.map((i) => ({ ...tree[i - 1]!, time: 10 * i }));
  const check = (w: Partial<WatchRecord>, quirks = true) =>
    real
      .checkWatches(tree, [{ watcher: 1, key: '/d', recursive: true, waitIndex: 1, stream: true, received: [], drainedThrough: 5, ...w }], { historyCapacity: 1000, etcdQuirks: quirks })
      .violations.map((v) => v.property);

  it('a recursive watch needs the events below it and may skip hidden keys; refreshes never come', () => {
    expect(check({ received: got(1, 4) })).toEqual([]);
    expect(check({ received: got(1, 2, 4) })).toEqual([]);
    expect(check({ received: got(1, 3, 4) })).toEqual(['watch-agreement']);
    expect(check({ received: got(4) })).toEqual(['watch-gap']);
  });
  it('deleting a directory ends the watches below it, and must reach them', () => {
    expect(check({ key: '/d/x', recursive: false, received: got(1, 4) })).toEqual([]);
    expect(check({ key: '/d/x', recursive: false, received: got(1) })).toEqual(['watch-missing']);
  });
  it("tolerates etcd's doubled delete on a deleted directory and its prefix test, only with quirks on", () => {
    const doubled = [...got(1, 4), ...got(4)];
    expect(check({ received: doubled })).toEqual([]);
    expect(check({ received: doubled }, false)).toEqual(['watch-duplicate']);
    expect(check({ received: [...doubled, ...got(4)] })).toEqual(['watch-duplicate']);
    const foobar = { key: '/dd', recursive: false, waitIndex: 4 };
    expect(check({ ...foobar, received: got(4, 5) })).toEqual([]);
    expect(check({ ...foobar, received: got(4, 5) }, false)).toEqual(['watch-agreement']);
  });
});

const FILE = 'sim/check/watch.ts';
const mutants: CaughtMutant<Checker>[] = [
  {
    mutant: { name: 'gaps-allowed', description: 'a received event is not compared with the next expected one', edits: [{ file: FILE, find: 'if (want && want.index < r.index) {', replace: 'if (false) {' }] },
    caughtBy: (c) => !planted.droppedEvent(c).includes('watch-gap'),
  },
  {
    mutant: { name: 'duplicates-allowed', description: 'equal consecutive indexes pass as in order', edits: [{ file: FILE, find: 'if (previous && r.index === previous.index) {', replace: 'if (false) {' }] },
    caughtBy: (c) => planted.duplicatedEvent(c).length === 0 || !planted.duplicatedEvent(c).includes('watch-duplicate'),
  },
  {
    mutant: {
      name: 'order-not-checked',
      description: 'an index lower than the previous one passes, and a late event is not recognised as reordered',
      edits: [
        { file: FILE, find: 'if (previous && r.index < previous.index) {', replace: 'if (false) {' },
        { file: FILE, find: 'const late = w.received.slice(j + 1).find((x) => x.index === want.index);', replace: 'const late = undefined as { time: number } | undefined;' },
      ],
    },
    caughtBy: (c) => !planted.outOfOrderEvent(c).includes('watch-order'),
  },
  {
    mutant: { name: 'any-401-accepted', description: 'a 401 is accepted whatever the window', edits: [{ file: FILE, find: 'if (w.waitIndex >= oldestRetained) {', replace: 'if (false) {' }] },
    caughtBy: (c) => !planted.clearedTooSoon(c).includes('watch-cleared'),
  },
];

describe('mutants of the watch checker are caught', () => itCatchesEachMutant(FILE, mutants, ['sim/check']));
