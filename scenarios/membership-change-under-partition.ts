import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'membership-change-under-partition',
  description: 'a member is added and a partitioned one removed, through Raft, while two followers are cut off',
  details:
    '5 members, the mixed workload. At 1.5 s two followers are split from the leader and the other two. At 2.5 s an operator starts n6 with an empty disk and adds it as a voter (a member-add request through Raft), and the split is redrawn with n6 on the majority side: 6 voters now need 4 for a quorum, so the majority side can commit only once n6 has caught up. ' +
    'At 4.5 s the operator removes one of the cut-off followers, which cannot hear of it; the change commits on the majority side and the removed process is stopped. At 6.5 s the network heals and the other cut-off follower rejoins the 5-voter configuration. ' +
    'Raft changes one member at a time, so no two majorities can disagree: every checker must hold.',
  config: {
    name: 'membership-change-under-partition',
    durationMs: 9000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 1500, kind: 'split', groups: [['@follower=cut', '@follower=cut2'], ['@others']] },
        { atMs: 2500, kind: 'member-add', node: 'n6' },
        { atMs: 2500, kind: 'split', groups: [['@cut', '@cut2'], ['@others']] },
        { atMs: 4500, kind: 'member-remove', node: '@cut' },
        { atMs: 6500, kind: 'heal' },
      ],
    },
  },
  expect: { kind: 'pass' },
};
