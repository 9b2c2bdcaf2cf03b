import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'majority-partition',
  description: 'the leader and one follower are split from the majority, which elects a new leader',
  details:
    '5 members, the mixed workload. At 2 s the network splits into the member leading at that instant plus one follower, and the other three. ' +
    'The majority side elects a new leader in a higher term and commits; the old leader cannot reach a quorum, so nothing it appends after the split commits, and it steps down once check-quorum notices. ' +
    'At 5.5 s the network heals: the old leader and its follower learn the new term and their uncommitted entries are overwritten. No acknowledged write may be lost and no two leaders may share a term, so every checker must hold.',
  config: {
    name: 'majority-partition',
    durationMs: 8000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: { kind: 'schedule', events: [{ atMs: 2000, kind: 'split', groups: [['@leader=old', '@follower'], ['@others']] }, { atMs: 5500, kind: 'heal' }] },
  },
  expect: { kind: 'pass' },
};
