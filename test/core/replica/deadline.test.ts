// replicaTickDeadline lets the simulator skip a member's ticks until something is due. That is sound only if
// a tick before the deadline has no effect anyone can see: no message, reply, persist or applied entry. Checked
// on every member after every action of the replica property's histories (fixed seed); the mutants below
// (deadlines that forget a pending read's timeout, or a write's forward retry) show the check failing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as realReplica from '../../../core/replica/index.ts';
import type { ReplicaState } from '../../../core/replica/index.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import type { ReplicaCluster, ReplicaModule } from './driver.ts';
import { historyArbitrary, runHistory } from './property.ts';

function quietBeforeDeadline(module: ReplicaModule, state: ReplicaState): string | null {
  const deadline = module.replicaTickDeadline(state);
  const clock = state.clockMs;
  if (clock === null) return deadline === -Infinity ? null : `${state.id}: no clock reading yet, but deadline ${deadline}`;
  const at = deadline === null ? clock + 100_000 : deadline - 1;
  if (at <= clock) return null;
  const copy = module.decodeReplicaState(module.encodeReplicaState(state));
  const ready = module.stepReplica(copy, { type: 'tick', now: at });
  const did = [
    ...ready.messages.map((m) => (m.message.type === 'raft' ? m.message.message.type : m.message.type)),
    ...ready.replies.map((r) => `reply ${r.reply.outcome}`),
    ...(ready.persist === null ? [] : ['persist']),
    ...(ready.applied.length === 0 ? [] : ['apply']),
  ];
  return did.length === 0 ? null : `${state.id} (${state.raft.role}) at ${at}, before its deadline ${deadline}: ${did.join(', ')}`;
}

function everyMemberQuiet(module: ReplicaModule): (c: ReplicaCluster) => string | null {
  return (c) => {
    for (const m of c.members.values()) {
      if (!m.up) continue;
      const problem = quietBeforeDeadline(module, m.state);
      if (problem !== null) return problem;
    }
    return null;
  };
}

function deadlinesHold(module: ReplicaModule, runs: number): boolean {
  const result = fc.check(
    fc.property(historyArbitrary, (actions) => {
      // Requests time out before elections would: their deadlines, not Raft's, come first.
      const broken = runHistory(actions, module, { check: everyMemberQuiet(module), requestTimeoutMs: 120 });
      if (broken !== null) throw new Error(broken);
    }),
    // A mutant only needs to be caught, not shrunk (shrinking long histories takes minutes).
    { numRuns: runs, seed: 3, endOnFailure: module !== realReplica },
  );
  if (result.failed && module === realReplica) throw new Error(fc.defaultReportMessage(result) ?? 'replica deadline property failed');
  return !result.failed;
}

describe('replicaTickDeadline', () => {
  it('a tick before a member\'s deadline has no visible effect (timeouts, retries, expiry, elections)', () => {
    expect(deadlinesHold(realReplica, 60)).toBe(true);
  }, 120_000);

  const FILE = 'core/replica/replica.ts';
  const mutants: Mutant[] = [
    {
      name: 'deadline-forgets-read-timeouts',
      description: 'the deadline leaves out pending quorum reads, so their timeouts wait for an unrelated tick',
      edits: [{ file: FILE, find: '    for (const r of reads) at = Math.min(at, r.deadlineMs ?? -Infinity);\n', replace: '' }],
    },
    {
      name: 'deadline-forgets-forward-retries',
      description: 'the deadline leaves out forward retries of writes already sent',
      edits: [{ file: FILE, find: "      else if (leaderKnown && w.phase === 'sent') at = Math.min(at, w.lastSentMs + state.options.forwardRetryMs);\n", replace: '' }],
    },
  ];
  for (const mutant of mutants) {
    it(`catches ${mutant.name}: ${mutant.description}`, async () => {
      const held = await withMutant<ReplicaModule, boolean>(mutant, 'core/replica/index.ts', (m) => deadlinesHold(m, 60));
      expect(held).toBe(false);
    }, 120_000);
  }
});
