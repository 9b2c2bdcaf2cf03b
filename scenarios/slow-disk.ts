import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'slow-disk',
  description: "the leader's disk turns 30 times slower for 3 s, then a follower's 50 times",
  details:
    "5 members, the mixed workload. At 2 s the leader's syncs become 30 times slower (about 60 ms instead of 2 ms, with a tail of seconds) until 5 s; at 3 s a follower's become 50 times slower until 6 s. " +
    'A leader may commit with followers that synced while its own disk lags, but it applies, and so answers, only what it has made durable itself; the slow follower falls behind and acknowledges late. ' +
    'Requests slow down or time out as indeterminate, nothing is acknowledged before it is durable on a majority, and every checker must hold.',
  config: {
    name: 'slow-disk',
    durationMs: 8000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 2000, kind: 'disk-slow', node: '@leader=slowleader', factor: 30 },
        { atMs: 3000, kind: 'disk-slow', node: '@follower=slowfollower', factor: 50 },
        { atMs: 5000, kind: 'disk-slow', node: '@slowleader', factor: 1 },
        { atMs: 6000, kind: 'disk-slow', node: '@slowfollower', factor: 1 },
      ],
    },
  },
  expect: { kind: 'pass' },
};
