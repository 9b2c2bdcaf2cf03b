import type { RunNemesisEvent } from '../sim/world/nemesis.ts';
import type { Scenario } from './types.ts';

/** Partitions of three shapes in turn, 600 ms on and 300 ms off, from 1 s to 8.2 s. */
function flapping(): RunNemesisEvent[] {
  const shapes: RunNemesisEvent[] = [
    { atMs: 0, kind: 'isolate', node: '@leader' },
    { atMs: 0, kind: 'split', groups: [['@leader', '@follower'], ['@others']] },
    { atMs: 0, kind: 'split', groups: [['@follower', '@follower'], ['@others']] },
  ];
  const events: RunNemesisEvent[] = [];
  for (let i = 0; i < 8; i++) {
    const at = 1000 + i * 900;
    events.push({ ...shapes[i % shapes.length]!, atMs: at }, { atMs: at + 600, kind: 'heal' });
  }
  return events;
}

export const scenario: Scenario = {
  name: 'flapping-partitions',
  description: 'eight partitions in 7 s, 600 ms on and 300 ms off, most of them cutting the current leader off',
  details:
    '5 members, the mixed workload. From 1 s the network flaps: the current leader isolated, the leader and a follower split from the rest, two followers split from the rest, in turn, each for 600 ms with 300 ms of healing in between. ' +
    'Partitions shorter than a few election timeouts cause elections that may or may not finish before the heal, stale leaders that step down late, and retried and re-forwarded writes that land in a later term. ' +
    'Raft must still elect at most one leader per term and lose nothing acknowledged, so every checker must hold.',
  config: {
    name: 'flapping-partitions',
    durationMs: 9000,
    settleMs: 2000,
    workload: { clients: 8 },
    nemesis: { kind: 'schedule', events: flapping() },
  },
  expect: { kind: 'pass' },
};
