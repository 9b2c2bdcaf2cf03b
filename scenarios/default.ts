import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'default',
  description: '5 members, mixed workload, generated faults of every family',
  details:
    'Register, multi-key, queue, service-discovery and watch clients against 5 members while the nemesis draws partitions, crashes, pauses, clock jumps and drift, lossy links and slow disks from the seed. Every checker must hold.',
  config: { name: 'default' },
  expect: { kind: 'pass' },
};
