import type { Scenario } from './types.ts';

export const scenario: Scenario = {
  name: 'watch-across-leader-change',
  description: 'watchers follow busy prefixes while the leader is isolated, then crashed',
  details:
    '5 members, the multi-key workload with 4 watchers following /kv recursively with waitIndex, each watch resuming from the last index it saw. ' +
    'At 2 s the leader is isolated (healed at 3.5 s); at 5 s the new leader crashes (restarted 1 s later). Watches are local to the member that holds them, so a watch waiting on a surviving member must see the first event the next leader commits, and a watcher whose member died resumes elsewhere from its last index. ' +
    'The watch checker must find every watch gapless and in order across both leader changes, and every checker must hold.',
  config: {
    name: 'watch-across-leader-change',
    durationMs: 8000,
    settleMs: 2000,
    workload: { kind: 'multi-key', clients: 8, watchers: 4 },
    nemesis: {
      kind: 'schedule',
      events: [
        { atMs: 2000, kind: 'isolate', node: '@leader' },
        { atMs: 3500, kind: 'heal' },
        { atMs: 5000, kind: 'crash', node: '@leader', restartAfterMs: 1000 },
      ],
    },
  },
  expect: { kind: 'pass' },
};
