import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'clock-jump-ttl',
  description: "TTL registrations while the leader's clock jumps 2.5 s forward, then back",
  details:
    '5 members, the service-discovery workload: 4 instances register with a 3 s TTL and refresh every second, readers read the registrations, watchers follow /services. ' +
    "At 2.5 s the clock of the member leading at that instant jumps 2.5 s forward; at 5 s it jumps back. Only the leader's clock decides expiry (deadlines are stamped and expiry ticks proposed with it), so while it runs ahead, keys are removed up to 2.5 s early and live instances can vanish between refreshes; after the jump back, the deadlines it stamped run late by as much. " +
    "That is etcd v2's documented behaviour: the TTL checker's bound widens by the clock error, which counts the jump. Expiry must stay within that bound both ways, and every checker must hold.",
  config: {
    name: 'clock-jump-ttl',
    durationMs: 9000,
    settleMs: 3000,
    workload: { kind: 'discovery', instances: 4, watchers: 2, ttlSeconds: 3, refreshMs: 1000 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 2500, kind: 'clock-jump', node: '@leader=jumped', deltaMs: 2500 },
        { atMs: 5000, kind: 'clock-jump', node: '@jumped', deltaMs: -2500 },
      ],
    },
  },
  expect: { kind: 'pass' },
};
