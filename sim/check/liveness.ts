// Liveness, judged the way a simulator can (TigerBeetle's VOPR has the same mode): once every fault has been
// undone and the cluster has had a quiet period to itself, the members that are up must have elected one leader,
// all be in its term, and have applied what it committed. The safety checkers pass a cluster that never elects
// anyone (an empty history is trivially linearizable); this is the check that fails it.
//
// Properties, over each member's last sample at the end of the run:
// - leader-elected: among the members up at the end there is a leader in the highest term they know.
// - one-term: every member up at the end is in that leader's term (none stuck campaigning or left behind).
// - caught-up: every member up at the end has applied what was committed `catchUpMs` before the end (one
//   heartbeat's lag at the last instant is not a failure).
//
// A run is not judged, and its summary says why, when a fault is never undone, when the quiet period after the
// last one is shorter than `minQuietMs` (a few randomized election timeouts: shrinking shortens runs, and a run
// cut short is not a stuck one), when fewer than a quorum of voters are up (a cluster that cannot elect anyone
// is right not to), or when the config breaks Raft's timing requirement (§5.6 of the paper: the broadcast time,
// a round trip plus a disk sync, must be an order of magnitude below the election timeout; Raft promises no
// progress otherwise, and a cluster whose votes take as long as its timeouts can campaign for ever).
import { formatMs, resultOf, type CheckResult, type NodeSample, type Violation } from './history.ts';

export interface LivenessInput {
  samples: readonly NodeSample[];
  /** The members that should be up and voting at the end: observation index and name. */
  members: ReadonlyArray<{ node: number; name: string }>;
  /** Voters in the final configuration; a quorum of them must be among `members`. */
  voters: number;
  /** When the last fault was undone; null when one never is. */
  faultsEndMs: number | null;
  endMs: number;
  /** The shortest quiet period that must be enough to elect a leader and catch everyone up. */
  minQuietMs: number;
  /** Entries committed this long before the end must be applied everywhere. */
  catchUpMs: number;
  /** The run stopped at a member's failed assertion (the invariants check reports it): nothing to judge. */
  stoppedEarly?: boolean;
  /** Raft's timing requirement: the election timeout and the typical broadcast time (round trip + sync). */
  timing?: { electionTimeoutMs: number; broadcastMs: number };
}

/** How far below the election timeout the broadcast time must be (the paper's "order of magnitude"). */
export const TIMING_MARGIN = 10;

export function checkLiveness(input: LivenessInput): CheckResult {
  const notJudged = (why: string): CheckResult => ({ checker: 'liveness', ok: true, violations: [], summary: `liveness: not judged (${why})` });
  if (input.stoppedEarly === true) return notJudged('the run stopped early; see invariants');
  if (input.timing !== undefined && input.timing.electionTimeoutMs < TIMING_MARGIN * input.timing.broadcastMs) {
    const { electionTimeoutMs, broadcastMs } = input.timing;
    return notJudged(`Raft's timing requirement does not hold: the election timeout, ${electionTimeoutMs} ms, is under ${TIMING_MARGIN} times the typical broadcast time, ${formatMs(Math.round(broadcastMs * 10) / 10)} ms`);
  }
  if (input.faultsEndMs === null) return notJudged('a fault is still in force at the end of the run');
  const quietMs = input.endMs - input.faultsEndMs;
  if (quietMs <= 0) return notJudged(`a fault's effects last until t=${formatMs(Math.round(input.faultsEndMs))} ms, past the end of the run`);
  if (quietMs < input.minQuietMs) return notJudged(`${formatMs(quietMs)} ms without faults at the end, less than the ${formatMs(input.minQuietMs)} ms it needs`);
  const quorum = Math.floor(input.voters / 2) + 1;
  if (input.members.length < quorum) return notJudged(`${input.members.length} of ${input.voters} voters up at the end, fewer than a quorum`);

  const last = new Map<number, NodeSample>();
  let committedByCutoff = 0;
  const cutoff = input.endMs - input.catchUpMs;
  for (const s of input.samples) {
    last.set(s.node, s);
    if (s.time <= cutoff) committedByCutoff = Math.max(committedByCutoff, s.commitIndex);
  }
  const views = input.members.map((m) => ({ ...m, sample: last.get(m.node) }));
  const describe = (v: (typeof views)[number]): string => (v.sample === undefined ? `${v.name} never reported` : `${v.name} ${v.sample.role} in term ${v.sample.term}`);
  const since = `after ${formatMs(Math.round(quietMs))} ms without faults`;

  const violations: Violation[] = [];
  const topTerm = Math.max(0, ...views.map((v) => v.sample?.term ?? 0));
  const leader = views.find((v) => v.sample?.role === 'leader' && v.sample.term === topTerm);
  if (leader === undefined) {
    violations.push({ property: 'leader-elected', explanation: `no leader at the end of the run, ${since}: ${views.map(describe).join(', ')}` });
    return resultOf('liveness', violations, '');
  }
  for (const v of views) {
    if (v === leader) continue;
    if (v.sample === undefined || v.sample.term !== topTerm || v.sample.role !== 'follower') {
      violations.push({ property: 'one-term', explanation: `${describe(v)} at the end of the run while ${leader.name} leads term ${topTerm}, ${since}` });
    }
  }
  for (const v of views) {
    const applied = v.sample?.applied ?? 0;
    if (applied < committedByCutoff) {
      violations.push({
        property: 'caught-up',
        explanation: `${v.name} has applied ${applied} entries at the end of the run, behind the ${committedByCutoff} committed by t=${formatMs(Math.round(cutoff))} ms, ${since}`,
      });
    }
  }
  const electedAt = input.samples.find((s) => s.node === leader.node && s.role === 'leader' && s.term === topTerm)!.time;
  return resultOf(
    'liveness',
    violations,
    `${leader.name} leads term ${topTerm} (elected at t=${formatMs(Math.round(electedAt))} ms); ${views.length} member(s) up, all following it and caught up to ${committedByCutoff}, ${since}`,
  );
}
