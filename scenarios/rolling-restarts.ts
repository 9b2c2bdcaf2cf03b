import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'rolling-restarts',
  description: 'every member is restarted in turn, the four followers first and the leader last',
  details:
    '5 members, the mixed workload. Every 1.2 s from 1.5 s one member crashes and restarts 700 ms later from its disk, as an operator upgrading the cluster would do: four distinct followers first (each @follower pick avoids members already restarted), then whoever leads. ' +
    'Each restarted member rebuilds its state from its write-ahead log and catches up; the last restart forces an election. At most one member is down at a time, so the cluster stays available, and every checker must hold.',
  config: {
    name: 'rolling-restarts',
    durationMs: 9000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 1500, kind: 'crash', node: '@follower=first', restartAfterMs: 700 },
        { atMs: 2700, kind: 'crash', node: '@follower=second', restartAfterMs: 700 },
        { atMs: 3900, kind: 'crash', node: '@follower=third', restartAfterMs: 700 },
        { atMs: 5100, kind: 'crash', node: '@follower=fourth', restartAfterMs: 700 },
        { atMs: 6300, kind: 'crash', node: '@leader=last', restartAfterMs: 700 },
      ],
    },
  },
  expect: { kind: 'pass' },
};
