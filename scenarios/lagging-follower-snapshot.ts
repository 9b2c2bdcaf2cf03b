import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'lagging-follower-snapshot',
  description: 'a follower cut off for 3.5 s falls behind the compacted log and is caught up by InstallSnapshot',
  details:
    '5 members compacting their logs every 100 applied entries, the multi-key workload writing a few hundred entries a second. ' +
    'At 1.5 s a follower picked then is isolated; by the time the network heals at 5 s the leader has compacted far past the last entry the follower holds, so it cannot send entries and must send its snapshot, which the follower installs (its open watches end with 400 as in etcd) before taking entries again. ' +
    'The follower must then agree with everyone: every checker must hold.',
  config: {
    name: 'lagging-follower-snapshot',
    durationMs: 8000,
    settleMs: 2000,
    replica: { snapshotEvery: 100 },
    workload: { kind: 'multi-key', clients: 8, watchers: 2 },
    nemesis: { kind: 'schedule', events: [{ atMs: 1500, kind: 'isolate', node: '@follower=laggard' }, { atMs: 5000, kind: 'heal' }] },
  },
  expect: { kind: 'pass' },
};
