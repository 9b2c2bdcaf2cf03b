import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'bridge',
  description: 'the cluster splits in two halves that only one follower, the bridge, still connects',
  details:
    "5 members, the mixed workload. At 2 s the leader and one follower form one side, two other followers the other, and a fifth member picked among the followers sees both sides (Jepsen's bridge). " +
    "Through the bridge the leader still reaches three of five members, a majority, so it keeps leading; the far side hears no leader, but its pre-votes fail because the bridge still hears one (its leader lease), so it cannot disrupt the term. " +
    'The far side falls behind until the network heals at 5.5 s. Every checker must hold.',
  config: {
    name: 'bridge',
    durationMs: 8000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 2000, kind: 'bridge', left: ['@leader', '@follower'], via: '@follower=bridge', right: ['@others'] },
        { atMs: 5500, kind: 'heal' },
      ],
    },
  },
  expect: { kind: 'pass' },
};
