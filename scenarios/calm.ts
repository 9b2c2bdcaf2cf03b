import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'calm',
  description: '5 members, mixed workload, no faults',
  details: 'The default cluster and workload with the nemesis off: a baseline for speed and for the checkers on a healthy run.',
  config: { name: 'calm', nemesis: { kind: 'none' } },
  expect: { kind: 'pass' },
};
