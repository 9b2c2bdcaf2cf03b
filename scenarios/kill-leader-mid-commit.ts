import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'kill-leader-mid-commit',
  description: 'the leader crashes while a client write it appended is on a follower but not yet committed, twice',
  details:
    '5 members, the mixed workload. From 2.5 s and again from 6 s, the nemesis waits for the first instant at which the leader holds a client write that at least one follower has appended but that is not committed yet, and crashes the leader then (it restarts 1.5 s later). ' +
    'That write is in the worst place: whether it survives depends on whether the next leader has it, and a client that sent it to the dead leader never hears back (indeterminate), while one that went through a follower has it re-forwarded to the next leader. ' +
    'Either outcome is allowed, but an acknowledged write must never be lost and no read may see a write appear and vanish, so every checker must hold.',
  config: {
    name: 'kill-leader-mid-commit',
    durationMs: 9000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 2500, when: 'uncommitted', kind: 'crash', node: '@leader', restartAfterMs: 1500 },
        { atMs: 6000, when: 'uncommitted', kind: 'crash', node: '@leader', restartAfterMs: 1500 },
      ],
    },
  },
  expect: { kind: 'pass' },
};
