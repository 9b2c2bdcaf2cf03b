// The liveness checker over hand-made endings: a cluster that settled, one with no leader, one member left in
// another term, one behind on applying, and the runs it must not judge. Each mutant of the checker is caught.
import { describe, expect, it } from 'vitest';
import * as real from '../../../sim/check/liveness.ts';
import type { NodeSample, Role } from '../../../sim/check/history.ts';
import type { LivenessInput } from '../../../sim/check/liveness.ts';
import { itCatchesEachMutant, throws, type CaughtMutant } from '../../support/mutants.ts';

type Checker = typeof real;
const FILE = 'sim/check/liveness.ts';

const sample = (node: number, time: number, role: Role, term: number, commitIndex: number, applied = commitIndex): NodeSample => ({
  node,
  time,
  role,
  term,
  commitIndex,
  lastIndex: commitIndex,
  applied,
});

const members = [0, 1, 2].map((node) => ({ node, name: `n${node + 1}` }));
/** Faults end at 4 s, the run at 10 s: 6 s of quiet, more than the 1.5 s it needs. */
const base = { members, voters: 3, faultsEndMs: 4000, endMs: 10_000, minQuietMs: 1500, catchUpMs: 300 };

/** n1 leads term 3 from 4.5 s; everyone follows and has applied 40 by the end. */
const settled: NodeSample[] = [
  sample(0, 100, 'leader', 2, 10),
  sample(1, 100, 'follower', 2, 10),
  sample(2, 100, 'follower', 2, 10),
  sample(0, 4500, 'leader', 3, 12),
  sample(1, 4500, 'follower', 3, 12),
  sample(2, 4600, 'follower', 3, 12),
  sample(0, 9000, 'leader', 3, 40),
  sample(1, 9050, 'follower', 3, 40),
  sample(2, 9050, 'follower', 3, 40),
];

const properties = (c: Checker, input: Partial<LivenessInput> & { samples: NodeSample[] }): string[] =>
  c.checkLiveness({ ...base, ...input }).violations.map((v) => v.property);

const planted = {
  settled: (c: Checker) => c.checkLiveness({ ...base, samples: settled }),
  /** Split votes for ever: everyone campaigning in term 20. */
  noLeader: (c: Checker) => properties(c, { samples: [0, 1, 2].map((n) => sample(n, 9990, 'pre-candidate', 20, 10)) }),
  /** n3 stuck campaigning in a higher term the others ignore. */
  straggler: (c: Checker) => properties(c, { samples: [...settled, sample(2, 9500, 'candidate', 4, 40)] }),
  /** n3 follows but stopped applying at 12. */
  behind: (c: Checker) => properties(c, { samples: [...settled.slice(0, 8), sample(2, 9050, 'follower', 3, 40, 12)] }),
  /** The leader committed 41 just before the end; nobody can be asked to have applied it yet. */
  lastInstant: (c: Checker) => properties(c, { samples: [...settled, sample(0, 9900, 'leader', 3, 41)] }),
};

describe('the liveness checker', () => {
  it('holds for a cluster that elected a leader and caught up, and says who and when', () => {
    const r = planted.settled(real);
    expect(r.ok).toBe(true);
    expect(r.summary).toBe('liveness: ok (n1 leads term 3 (elected at t=4500 ms); 3 member(s) up, all following it and caught up to 40, after 6000 ms without faults)');
  });

  it('finds no leader, a member in another term, and a member behind on applying', () => {
    expect(planted.noLeader(real)).toEqual(['leader-elected']);
    expect(real.checkLiveness({ ...base, samples: [0, 1, 2].map((n) => sample(n, 9990, 'pre-candidate', 20, 10)) }).summary).toMatch(
      /no leader at the end of the run, after 6000 ms without faults: n1 pre-candidate in term 20, n2 pre-candidate in term 20, n3 pre-candidate in term 20/,
    );
    // n3's term 4 outranks the leader's 3, so the leader is not the top term's: nobody leads the newest term.
    expect(planted.straggler(real)).toEqual(['leader-elected']);
    expect(properties(real, { samples: [...settled, sample(2, 9500, 'pre-candidate', 3, 40)] })).toEqual(['one-term']);
    expect(planted.behind(real)).toEqual(['caught-up']);
    expect(properties(real, { samples: settled.slice(0, 8) })).toEqual(['caught-up']);
  });

  it('allows a member one heartbeat behind at the last instant', () => {
    expect(planted.lastInstant(real)).toEqual([]);
  });

  it('judges nothing, and says why, when a fault outlasts the run, the quiet is too short, a quorum is down, or the run stopped', () => {
    const nobody = [0, 1, 2].map((n) => sample(n, 9990, 'candidate', 20, 10));
    const cases: Array<[Partial<LivenessInput>, RegExp]> = [
      [{ faultsEndMs: null }, /a fault is still in force/],
      [{ faultsEndMs: 9000 }, /1000 ms without faults at the end, less than the 1500 ms it needs/],
      [{ members: members.slice(0, 1) }, /1 of 3 voters up at the end, fewer than a quorum/],
      [{ stoppedEarly: true }, /the run stopped early/],
      // Votes that take as long as the timeout (a 90 ms sync, 2 ms links): Raft promises no progress (§5.6).
      [{ timing: { electionTimeoutMs: 150, broadcastMs: 94 } }, /timing requirement does not hold: the election timeout, 150 ms, is under 10 times the typical broadcast time, 94 ms/],
    ];
    for (const [input, why] of cases) {
      const r = real.checkLiveness({ ...base, samples: nobody, ...input });
      expect(r.ok).toBe(true);
      expect(r.summary).toMatch(/^liveness: not judged \(/);
      expect(r.summary).toMatch(why);
    }
    // Two of three up is a quorum, and a 300 ms timeout over a 6 ms broadcast meets the requirement: judged.
    expect(properties(real, { samples: nobody, members: members.slice(0, 2), timing: { electionTimeoutMs: 300, broadcastMs: 6 } })).toEqual(['leader-elected']);
  });

  it('judges a member that never reported as not following', () => {
    expect(properties(real, { samples: settled.filter((s) => s.node !== 2), members })).toEqual(['one-term', 'caught-up']);
  });
});

const mutants: CaughtMutant<Checker>[] = [
  {
    mutant: {
      name: 'any-leader-will-do',
      description: "a leader of any term counts, so a member campaigning in a newer term than the leader's is missed",
      edits: [{ file: FILE, find: "v.sample?.role === 'leader' && v.sample.term === topTerm", replace: "v.sample?.role === 'leader'" }],
    },
    caughtBy: (c) => throws(() => expect(planted.straggler(c)).toEqual(['leader-elected'])),
  },
  {
    mutant: {
      name: 'no-leader-passes',
      description: 'a cluster without a leader is not reported',
      edits: [{ file: FILE, find: "violations.push({ property: 'leader-elected'", replace: "void ({ property: 'leader-elected'" }],
    },
    caughtBy: (c) => throws(() => expect(planted.noLeader(c)).toEqual(['leader-elected'])),
  },
  {
    mutant: {
      name: 'catch-up-at-the-last-instant',
      description: 'members must have applied what was committed at the very end, so one heartbeat of lag fails a healthy run',
      edits: [{ file: FILE, find: 'const cutoff = input.endMs - input.catchUpMs;', replace: 'const cutoff = input.endMs;' }],
    },
    caughtBy: (c) => throws(() => expect(planted.lastInstant(c)).toEqual([])),
  },
  {
    mutant: {
      name: 'applied-not-compared',
      description: 'a member that stopped applying is not reported',
      edits: [{ file: FILE, find: 'if (applied < committedByCutoff) {', replace: 'if (applied < 0) {' }],
    },
    caughtBy: (c) => throws(() => expect(planted.behind(c)).toEqual(['caught-up'])),
  },
  {
    mutant: {
      name: 'judged-without-quiet',
      description: 'a run cut short right after a fault is judged, so a cluster still electing counts as stuck',
      edits: [{ file: FILE, find: 'if (quietMs < input.minQuietMs)', replace: 'if (quietMs < 0)' }],
    },
    caughtBy: (c) => c.checkLiveness({ ...base, faultsEndMs: 9900, samples: [0, 1, 2].map((n) => sample(n, 9950, 'candidate', 5, 10)) }).ok === false,
  },
];

describe('mutants of the liveness checker are caught', () => itCatchesEachMutant(FILE, mutants, ['sim/check']));
