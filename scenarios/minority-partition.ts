import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'minority-partition',
  description: 'two followers are split from the leader and the other two for 3.5 s',
  details:
    '5 members, the mixed workload. At 2 s the network splits into two followers picked at that instant and the other three, the leader among them (the split names @follower twice and puts @others, which includes the leader, on the other side). ' +
    'The leader keeps a majority, so no election is needed and writes go on; the minority cannot commit or elect (pre-vote refuses it a term), its quorum reads fail and writes sent to it time out. ' +
    'At 5.5 s the network heals and the minority catches up from the leader. Every checker must hold.',
  config: {
    name: 'minority-partition',
    durationMs: 8000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: { kind: 'schedule', events: [{ atMs: 2000, kind: 'split', groups: [['@follower', '@follower'], ['@others']] }, { atMs: 5500, kind: 'heal' }] },
  },
  expect: { kind: 'pass' },
};
