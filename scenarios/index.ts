// The scenario catalogue: every file in scenarios/ exports one `scenario`, listed here in the order
// `raftsim scenarios` prints them.
import type { Scenario } from './types.ts';
import { scenario as defaultScenario } from './default.ts';
import { scenario as calm } from './calm.ts';
import { scenario as quorumOnly } from './quorum-only.ts';
import { scenario as leaderIsolation } from './leader-isolation.ts';
import { scenario as minorityPartition } from './minority-partition.ts';
import { scenario as majorityPartition } from './majority-partition.ts';
import { scenario as bridge } from './bridge.ts';
import { scenario as flappingPartitions } from './flapping-partitions.ts';
import { scenario as oneWayLink } from './one-way-link.ts';
import { scenario as killLeaderMidCommit } from './kill-leader-mid-commit.ts';
import { scenario as rollingRestarts } from './rolling-restarts.ts';
import { scenario as crashLosesUnsyncedWrites } from './crash-loses-unsynced-writes.ts';
import { scenario as clockJumpTtl } from './clock-jump-ttl.ts';
import { scenario as serviceDiscovery } from './service-discovery.ts';
import { scenario as watchAcrossLeaderChange } from './watch-across-leader-change.ts';
import { scenario as laggingFollowerSnapshot } from './lagging-follower-snapshot.ts';
import { scenario as membershipChangeUnderPartition } from './membership-change-under-partition.ts';
import { scenario as slowDisk } from './slow-disk.ts';
import { scenario as messageStorm } from './message-storm.ts';
import { scenario as staleRead2014 } from './stale-read-2014.ts';
import { scenario as staleRead2014Quorum } from './stale-read-2014-quorum.ts';

export type { Scenario, ScenarioExpectation, CheckerName } from './types.ts';
export { meetsExpectation, describeExpectation } from './types.ts';

export const scenarios: readonly Scenario[] = [
  defaultScenario,
  calm,
  quorumOnly,
  leaderIsolation,
  minorityPartition,
  majorityPartition,
  bridge,
  flappingPartitions,
  oneWayLink,
  killLeaderMidCommit,
  rollingRestarts,
  crashLosesUnsyncedWrites,
  clockJumpTtl,
  serviceDiscovery,
  watchAcrossLeaderChange,
  laggingFollowerSnapshot,
  membershipChangeUnderPartition,
  slowDisk,
  messageStorm,
  staleRead2014,
  staleRead2014Quorum,
];

export function scenarioNamed(name: string): Scenario | undefined {
  return scenarios.find((s) => s.name === name);
}

export function scenarioNames(): string[] {
  return scenarios.map((s) => s.name);
}
