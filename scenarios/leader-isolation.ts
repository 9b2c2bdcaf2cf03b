import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'leader-isolation',
  description: 'whoever leads at 2 s is cut off from everyone for 3 s, then the network heals',
  details:
    '5 members, the mixed workload (register, multi-key, queue, service discovery, watches). At 2 s the nemesis isolates the member leading at that instant (@leader). ' +
    'The other four still form a majority: they elect a new leader within a few election timeouts and keep committing, while the old leader, hearing no quorum, steps down (check-quorum) and its pending writes time out as indeterminate. ' +
    'At 5 s the partition heals and the old leader rejoins as a follower and catches up. Raft keeps every acknowledged write and quorum reads stay linearizable, so every checker must hold.',
  config: {
    name: 'leader-isolation',
    durationMs: 8000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: { kind: 'schedule', events: [{ atMs: 2000, kind: 'isolate', node: '@leader=old' }, { atMs: 5000, kind: 'heal' }] },
  },
  expect: { kind: 'pass' },
};
