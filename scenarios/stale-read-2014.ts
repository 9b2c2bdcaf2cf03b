import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'stale-read-2014',
  description: 'default (local) reads from an isolated old leader while the majority moves on: NOT linearizable',
  details:
    "Jepsen's 2014 etcd finding, reproduced on purpose. 5 members, the register workload (read, write, compare-and-set of one key) with every read a default read (no quorum=true), which etcd v2 serves from the member's local store; one reader per member stays with its member whatever happens. " +
    'At 2 s the leader is isolated until 6 s. The majority elects a new leader within a second and goes on writing, while the reader pinned to the old leader keeps getting its frozen value: a read that starts after a newer write completed and returns the older value. ' +
    'The history is judged with default reads counted (checks.defaultReadsCount) but allowed to be up to 1 s stale (checks.defaultReadsStalenessMs): a follower\'s ordinary replication lag, a few hundred ms, passes, and only the partition\'s seconds-old values fail. The linearizability checker must report a violation on every seed; the same run without the isolation passes. stale-read-2014-quorum is the same run with quorum reads, which must pass.',
  config: {
    name: 'stale-read-2014',
    durationMs: 8000,
    settleMs: 2000,
    workload: { kind: 'register', clients: 6, quorumReads: 0, pinnedReaders: 1 },
    nemesis: { kind: 'schedule', events: [{ atMs: 2000, kind: 'isolate', node: '@leader=old' }, { atMs: 6000, kind: 'heal' }] },
    checks: { defaultReadsCount: true, defaultReadsStalenessMs: 1000 },
  },
  expect: { kind: 'violation', checker: 'linearizability' },
};
