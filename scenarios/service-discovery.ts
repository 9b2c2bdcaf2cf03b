import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'service-discovery',
  description: 'instances register with a 3 s TTL and refresh each second; some die, a member crashes, watchers follow',
  details:
    '5 members, the service-discovery workload: 5 instances register /services/instance-N with a 3 s TTL and refresh it every second (refresh=true), readers read the registrations, 2 watchers follow /services with waitIndex. ' +
    'Instance 0 dies for good at 1.5 s and instance 1 at 2.5 s (client processes: they stop refreshing after the request in flight, if any); instance 1 comes back at 10.5 s and registers afresh. A follower member crashes at 8.5 s for 1 s, after both deadlines. ' +
    "The TTL checker (docs/CHECKERS.md) must find every dead instance's last registration expired by its deadline (the write's completion + TTL + the expiry tick + the clock error, plus leaderless time) and no registration expired before it could be due, so live instances never vanish. Every checker must hold.",
  config: {
    name: 'service-discovery',
    durationMs: 11_000,
    settleMs: 2000,
    workload: { kind: 'discovery', instances: 5, watchers: 2, ttlSeconds: 3, refreshMs: 1000 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 1500, kind: 'instance-crash', instance: 0 },
        { atMs: 2500, kind: 'instance-crash', instance: 1, restartAfterMs: 8000 },
        { atMs: 8500, kind: 'crash', node: '@follower', restartAfterMs: 1000 },
      ],
    },
  },
  expect: { kind: 'pass' },
};
