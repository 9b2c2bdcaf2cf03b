import type { Scenario } from './types.ts';
import { scenario as stale } from './stale-read-2014.ts';

export const scenario: Scenario = {
  name: 'stale-read-2014-quorum',
  description: 'stale-read-2014 with every read sent quorum=true: linearizable',
  details:
    "The same cluster, partition and pinned readers as stale-read-2014, with every read sent quorum=true. A quorum read goes through Raft's ReadIndex: the isolated old leader cannot confirm its leadership with a quorum, so the reads pinned to it fail (surely no effect, not judged) instead of returning the frozen value, and reads elsewhere wait until their member has applied the leader's commit index. " +
    'The linearizability checker must find the history linearizable, and every checker must hold: the fix etcd shipped, shown on the very schedule that breaks default reads.',
  config: { ...stale.config, name: 'stale-read-2014-quorum', workload: { ...stale.config.workload, quorumReads: 1 } },
  expect: { kind: 'pass' },
};
