import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'crash-loses-unsynced-writes',
  description: 'slow syncs and disk faults on; leaders and followers crash with writes not yet on the platter',
  details:
    '5 members, the mixed workload, disks whose syncs take about 15 ms (so a member nearly always has writes in its page cache) with crash faults on: a crash drops what was not synced, or keeps a random prefix of it, or leaves a torn last record. ' +
    'Four crashes, each restarted 500 ms later: the leader at 2 s, a follower at 3.5 s, the leader again at 5 s at an instant it has a write in flight, and a follower at 6.5 s. ' +
    'Raft acknowledges only what a majority synced, and a member persists a vote or an append before announcing it, so the lost tails were never promised to anyone: no acknowledged write may be lost, and every checker must hold.',
  config: {
    name: 'crash-loses-unsynced-writes',
    durationMs: 8500,
    settleMs: 2000,
    disk: { syncLatency: { kind: 'lognormal', medianMs: 15, sigma: 0.5, maxMs: 120 }, faultsOn: true, faults: { unsyncedSurviveOnCrash: 0.3, tornWriteOnCrash: 0.5, corruptOnSync: 0 } },
    workload: { clients: 8, thinkMs: 10 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 2000, kind: 'crash', node: '@leader', restartAfterMs: 500 },
        { atMs: 3500, kind: 'crash', node: '@follower', restartAfterMs: 500 },
        { atMs: 5000, when: 'uncommitted', kind: 'crash', node: '@leader', restartAfterMs: 500 },
        { atMs: 6500, kind: 'crash', node: '@follower', restartAfterMs: 500 },
      ],
    },
  },
  expect: { kind: 'pass' },
};
