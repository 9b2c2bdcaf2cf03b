import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'one-way-link',
  description: 'the leader goes deaf: its messages still arrive, but nothing reaches it, for 3.5 s',
  details:
    '5 members, the mixed workload. At 2 s every link into the current leader is cut one way (a one-way cut from @others to the leader); its own heartbeats and appends still arrive. ' +
    'The followers therefore keep hearing a leader and do not time out, but the leader hears no acknowledgement: nothing commits until check-quorum makes it step down after an election timeout; then the followers elect a new leader among themselves. ' +
    'The deaf member keeps pre-campaigning without raising its term (pre-vote), so it cannot disrupt the new leader. At 5.5 s the links heal. Every checker must hold.',
  config: {
    name: 'one-way-link',
    durationMs: 8000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: { kind: 'schedule', events: [{ atMs: 2000, kind: 'one-way', from: '@others', to: '@leader=deaf' }, { atMs: 5500, kind: 'heal' }] },
  },
  expect: { kind: 'pass' },
};
