// The contract of nextTickDeadline on one node state (test/core/raft/deadline.test.ts runs it on generated
// schedules): a tick before the deadline never makes the node act, a tick at it does.
import type * as realCore from '../../../core/raft/index.ts';
import type { RaftState, Ready } from '../../../core/raft/index.ts';

export type Core = typeof realCore;

function copy(state: RaftState): RaftState {
  return structuredClone(state);
}

/** What a tick did beyond adding elapsed time, or null. */
function action(before: RaftState, after: RaftState, ready: Ready): string | null {
  if (ready.messages.length > 0) return `sent ${ready.messages.map((m) => m.message.type).join(', ')}`;
  if (ready.persist !== null) return 'persisted';
  if (after.role !== before.role || after.term !== before.term || after.leader !== before.leader) return `became ${after.role} of term ${after.term}`;
  if (before.role === 'leader' && (after.heartbeatElapsedMs === 0 || after.electionElapsedMs === 0)) return 'reset its leader timers';
  if (before.role !== 'leader' && after.electionElapsedMs < before.electionElapsedMs) return 'restarted its election';
  return null;
}

/** The deadline's contract on one node state: a problem, or null. */
export function deadlineProblem(core: Core, state: RaftState): string | null {
  const deadline = core.nextTickDeadline(state);
  const clock = state.clockMs;
  if (clock === null) return deadline === -Infinity ? null : `no clock reading yet, but deadline ${deadline}`;
  const quietUntil = deadline === null ? clock + 100 * state.options.electionTimeoutMs : deadline - 1;
  if (quietUntil > clock) {
    const after = copy(state);
    const did = action(state, after, core.step(after, { type: 'tick', now: quietUntil }));
    if (did !== null) return `${state.id} (${state.role}) ${did} at ${quietUntil}, before its deadline ${deadline}`;
  }
  if (deadline !== null) {
    const at = Math.max(deadline, clock + 1);
    const after = copy(state);
    if (action(state, after, core.step(after, { type: 'tick', now: at })) === null) {
      return `${state.id} (${state.role}) did nothing at its deadline ${deadline}`;
    }
  }
  return null;
}
