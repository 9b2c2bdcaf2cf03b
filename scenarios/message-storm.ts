import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'message-storm',
  description: 'every link duplicates and reorders messages, and for 3 s most messages arrive twice and out of order',
  details:
    '5 members, the mixed workload, links with 1-30 ms latency that duplicate 10% of messages, reorder 30% (a reordered message ignores the link\'s FIFO order) and lose 2%. ' +
    'From 2 s to 5 s every link duplicates 50% and reorders all of them. Raft must ignore stale and repeated appends, votes and acknowledgements, and the replica must apply each client write once however many forwards of it arrive (exactly-once by request id). Every checker must hold.',
  config: {
    name: 'message-storm',
    durationMs: 8000,
    settleMs: 2000,
    network: { latency: { kind: 'uniform', minMs: 1, maxMs: 30 }, loss: 0.02, duplicate: 0.1, reorder: 0.3 },
    workload: { clients: 8 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 2000, kind: 'link', from: '*', to: '*', config: { duplicate: 0.5, reorder: 1 } },
        { atMs: 5000, kind: 'link-reset', from: '*', to: '*' },
      ],
    },
  },
  expect: { kind: 'pass' },
};
