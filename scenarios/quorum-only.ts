import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'quorum-only',
  description: 'register workload with only quorum reads under partitions and crashes',
  details: 'The Jepsen etcd workload (one register: read, write, compare-and-swap) with every read sent with quorum=true, under generated partitions and crashes. Every read must be linearizable.',
  config: { name: 'quorum-only', workload: { kind: 'register', quorumReads: 1 }, nemesis: { weights: { partition: 3, crash: 2 } } },
  expect: { kind: 'pass' },
};
