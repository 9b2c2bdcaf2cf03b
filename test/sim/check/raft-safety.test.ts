import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AckedWrite, EntryRef, NodeSample, RaftObservations } from '../../../sim/check/history.ts';
import * as real from '../../../sim/check/raft-safety.ts';
import { itCatchesEachMutant, type CaughtMutant } from '../../support/mutants.ts';
import { healthyRun, schedules } from './raft-cluster.ts';

type Checker = typeof real;

const e = (term: number, digest: string): EntryRef => [term, digest];

function sample(node: number, time: number, fields: Partial<NodeSample>): NodeSample {
  return { node, time, role: 'follower', term: 1, commitIndex: 0, lastIndex: 0, applied: 0, ...fields };
}

/**
 * A healthy three-node run: node 1 leads term 1 and commits two entries, crashes; node 2 leads term 2 with both,
 * commits a third; node 1 restarts with its durable log and catches up.
 */
function healthy(): RaftObservations {
  const samples: NodeSample[] = [
    sample(1, 10, { role: 'leader', term: 1, lastIndex: 2, log: { from: 1, entries: [e(1, 'a'), e(1, 'b')] } }),
    sample(2, 11, { term: 1, lastIndex: 2, log: { from: 1, entries: [e(1, 'a'), e(1, 'b')] } }),
    sample(3, 11, { term: 1, lastIndex: 1, log: { from: 1, entries: [e(1, 'a')] } }),
    sample(1, 12, { role: 'leader', term: 1, lastIndex: 2, commitIndex: 2, applied: 2, stateDigest: 'S2', persistedCommit: 2 }),
    sample(2, 13, { term: 1, lastIndex: 2, commitIndex: 2, applied: 2, stateDigest: 'S2' }),
    sample(1, 20, { role: 'leader', term: 1, lastIndex: 2, commitIndex: 2, applied: 2, event: 'crash' }),
    sample(2, 30, { role: 'leader', term: 2, lastIndex: 3, commitIndex: 2, applied: 2, log: { from: 3, entries: [e(2, 'c')] } }),
    sample(3, 31, { term: 2, lastIndex: 3, commitIndex: 3, applied: 3, stateDigest: 'S3', log: { from: 2, entries: [e(1, 'b'), e(2, 'c')] } }),
    sample(2, 32, { role: 'leader', term: 2, lastIndex: 3, commitIndex: 3, applied: 3, stateDigest: 'S3' }),
    sample(1, 40, { term: 1, lastIndex: 2, commitIndex: 2, applied: 0, event: 'restart' }),
    sample(1, 41, { term: 2, lastIndex: 3, commitIndex: 3, applied: 3, stateDigest: 'S3', log: { from: 3, entries: [e(2, 'c')] } }),
  ];
  const acked: AckedWrite[] = [
    { op: 7, time: 13, raftIndex: 2, raftTerm: 1, digest: 'b' },
    { op: 8, time: 33, raftIndex: 3, raftTerm: 2, digest: 'c' },
  ];
  return { samples, acked };
}

function properties(c: Checker, obs: RaftObservations): string[] {
  return [...new Set(c.checkRaftSafety(obs).violations.map((v) => v.property))];
}

const planted = {
  twoLeadersInOneTerm(c: Checker): string[] {
    const obs = healthy();
    obs.samples.push(sample(3, 50, { role: 'leader', term: 2, lastIndex: 3, commitIndex: 3, applied: 3 }));
    return properties(c, obs);
  },
  divergentCommittedEntry(c: Checker): string[] {
    const obs = healthy();
    // Node 3 commits a different entry at index 3 than node 2 did.
    obs.samples[7] = sample(3, 31, { term: 2, lastIndex: 3, commitIndex: 3, applied: 3, stateDigest: 'S3', log: { from: 2, entries: [e(1, 'b'), e(2, 'X')] } });
    return properties(c, obs);
  },
  lostAckedWrite(c: Checker): string[] {
    const obs = healthy();
    // Index 3 was acknowledged, but after the crash nodes 1 and 3 lose it and only node 2 keeps it.
    obs.samples.push(sample(3, 60, { term: 3, lastIndex: 2, commitIndex: 3, applied: 3, event: 'restart', log: { from: 3, entries: [] } }));
    obs.samples.push(sample(1, 61, { term: 3, lastIndex: 2, commitIndex: 3, applied: 3, event: 'restart', log: { from: 3, entries: [] } }));
    return properties(c, obs);
  },
  commitBelowDurable(c: Checker): string[] {
    const obs = healthy();
    obs.samples[9] = sample(1, 40, { term: 1, lastIndex: 2, commitIndex: 1, applied: 0, event: 'restart' });
    return properties(c, obs);
  },
  leaderMissingCommitted(c: Checker): string[] {
    const obs = healthy();
    // Node 3 only has entry 1 yet becomes leader of term 2 after entry 2 was committed in term 1.
    obs.samples.splice(6, 0, sample(3, 25, { role: 'leader', term: 2, lastIndex: 1 }));
    obs.samples.splice(7, 0, sample(2, 26, { term: 2, lastIndex: 2, commitIndex: 2, applied: 2 }));
    obs.samples.push(sample(2, 70, { role: 'leader', term: 3, lastIndex: 3, commitIndex: 3, applied: 3 }));
    obs.samples[6]!.role = 'leader';
    return properties(c, obs).filter((p) => p !== 'election-safety');
  },
  oldTermCommittedByCounting(c: Checker): string[] {
    const obs = healthy();
    // Node 2 leads term 2 and holds (index 3, term 1) from the old leader; it commits index 3 before any entry
    // of term 2 (Figure 8), then its own entry at 4.
    obs.samples.splice(6, 3,
      sample(2, 30, { role: 'leader', term: 2, lastIndex: 4, commitIndex: 2, applied: 2, log: { from: 3, entries: [e(1, 'c'), e(2, 'n')] } }),
      sample(3, 31, { term: 2, lastIndex: 4, commitIndex: 2, applied: 2, log: { from: 2, entries: [e(1, 'b'), e(1, 'c'), e(2, 'n')] } }),
      sample(2, 32, { role: 'leader', term: 2, lastIndex: 4, commitIndex: 3, applied: 3 }),
      sample(2, 33, { role: 'leader', term: 2, lastIndex: 4, commitIndex: 4, applied: 4 }),
    );
    obs.samples.splice(-2);
    obs.acked.pop();
    return properties(c, obs);
  },
  logMismatch(c: Checker): string[] {
    const obs = healthy();
    // Same index and term, different command: not committed anywhere, so only log matching can see it.
    obs.samples.push(sample(3, 50, { term: 2, lastIndex: 4, commitIndex: 3, applied: 3, log: { from: 4, entries: [e(2, 'd')] } }));
    obs.samples.push(sample(2, 51, { role: 'leader', term: 2, lastIndex: 4, commitIndex: 3, applied: 3, log: { from: 4, entries: [e(2, 'D')] } }));
    return properties(c, obs);
  },
};

describe('raft safety: planted bugs', () => {
  it('accepts a healthy run with a crash, a new leader and a restart', () => {
    const r = real.checkRaftSafety(healthy());
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.summary).toMatch(/^raft-safety: ok \(11 samples over 3 nodes, 2 terms with a leader, 3 entries committed, 2 acknowledged writes kept\)$/);
  });
  it('catches two leaders in one term', () => {
    expect(planted.twoLeadersInOneTerm(real)).toEqual(['election-safety']);
    expect(real.checkRaftSafety((() => { const o = healthy(); o.samples.push(sample(3, 50, { role: 'leader', term: 2, lastIndex: 3, commitIndex: 3, applied: 3 })); return o; })()).violations[0]!.explanation).toBe(
      'term 2 has two leaders: node 2 (at 30 ms) and node 3 (at 50 ms)',
    );
  });
  it('catches a divergent committed entry', () => expect(planted.divergentCommittedEntry(real)).toContain('state-machine-safety'));
  it('catches a lost acknowledged write', () => {
    expect(planted.lostAckedWrite(real)).toContain('acked-write-durable');
  });
  it('catches a commit index below what was durable', () => expect(planted.commitBelowDurable(real)).toEqual(['commit-monotonic']));
  it('catches a leader missing a committed entry', () => expect(planted.leaderMissingCommitted(real)).toContain('leader-completeness'));
  it('catches two different commands at one index and term', () => expect(planted.logMismatch(real)).toEqual(['log-matching']));
  it('catches a leader committing an earlier term\'s entry by counting', () => {
    expect(planted.oldTermCommittedByCounting(real)).toEqual(['current-term-commit']);
    // The same run committing index 3 and 4 together (under its own entry) is Raft.
    const obs = healthy();
    obs.samples.splice(6, 3,
      sample(2, 30, { role: 'leader', term: 2, lastIndex: 4, commitIndex: 2, applied: 2, log: { from: 3, entries: [e(1, 'c'), e(2, 'n')] } }),
      sample(3, 31, { term: 2, lastIndex: 4, commitIndex: 2, applied: 2, log: { from: 2, entries: [e(1, 'b'), e(1, 'c'), e(2, 'n')] } }),
      sample(2, 33, { role: 'leader', term: 2, lastIndex: 4, commitIndex: 4, applied: 4 }),
    );
    obs.samples.splice(-2);
    obs.acked.pop();
    expect(real.checkRaftSafety(obs).violations).toEqual([]);
  });
  it('forgets a stale entry replaced by a snapshot, and checks the snapshot against what was committed', () => {
    const obs = healthy();
    // Node 3 holds a stale uncommitted entry at index 2 (an old term), then installs a snapshot up to index 3.
    obs.samples[2] = sample(3, 11, { term: 1, lastIndex: 2, log: { from: 1, entries: [e(1, 'a'), e(0, 'stale')] } });
    obs.samples[7] = sample(3, 31, { term: 2, lastIndex: 3, commitIndex: 3, applied: 3, stateDigest: 'S3', snapshot: { index: 3, term: 2 }, log: { from: 4, entries: [] } });
    expect(real.checkRaftSafety(obs).violations).toEqual([]);
    // The same commit without the snapshot marker would be a divergent committed entry.
    const unmarked = healthy();
    unmarked.samples[2] = obs.samples[2]!;
    unmarked.samples[7] = sample(3, 31, { term: 2, lastIndex: 3, commitIndex: 3, applied: 3, stateDigest: 'S3', log: { from: 3, entries: [e(2, 'c')] } });
    expect(properties(real, unmarked)).toContain('state-machine-safety');
    const wrong = healthy();
    wrong.samples.push(sample(1, 50, { term: 2, lastIndex: 3, commitIndex: 3, applied: 3, snapshot: { index: 3, term: 1 } }));
    expect(properties(real, wrong)).toEqual(['state-machine-safety']);
  });

  it('catches a committed entry overwritten and a commit index going back', () => {
    const obs = healthy();
    obs.samples.push(sample(3, 50, { term: 2, lastIndex: 3, commitIndex: 3, applied: 3, log: { from: 3, entries: [e(3, 'Z')] } }));
    obs.samples.push(sample(2, 51, { role: 'leader', term: 2, lastIndex: 3, commitIndex: 2, applied: 3 }));
    const props = properties(real, obs);
    expect(props).toContain('committed-entry-kept');
    expect(props).toContain('commit-monotonic');
  });
});

const FILE = 'sim/check/raft-safety.ts';
const mutants: CaughtMutant<Checker>[] = [
  {
    mutant: { name: 'no-election-safety', description: 'a second leader in a term is remembered instead of reported', edits: [{ file: FILE, find: 'if (other && other.node !== s.node) {', replace: 'if (false) {' }] },
    caughtBy: (c) => !planted.twoLeadersInOneTerm(c).includes('election-safety'),
  },
  {
    mutant: { name: 'commit-map-overwrites', description: 'a second commit at an index replaces the first instead of being compared', edits: [{ file: FILE, find: '      if (!c) {\n        committed.set(', replace: '      if (true) {\n        committed.set(' }] },
    caughtBy: (c) => !planted.divergentCommittedEntry(c).includes('state-machine-safety'),
  },
  {
    mutant: { name: 'any-holder-suffices', description: 'an acknowledged write counts as kept if one node holds it', edits: [{ file: FILE, find: 'const majority = Math.floor(nodes.size / 2) + 1;', replace: 'const majority = 1;' }] },
    caughtBy: (c) => !planted.lostAckedWrite(c).includes('acked-write-durable'),
  },
  {
    mutant: { name: 'restart-resets-floor', description: 'a restart may come back with any commit index', edits: [{ file: FILE, find: 'if (s.commitIndex < v.durableCommit) {', replace: 'if (false) {' }] },
    caughtBy: (c) => !planted.commitBelowDurable(c).includes('commit-monotonic'),
  },
  {
    mutant: { name: 'leaders-not-audited', description: 'a new leader is not compared with the committed entries', edits: [{ file: FILE, find: 'if (c.term < s.term) {', replace: 'if (false) {' }] },
    caughtBy: (c) => !planted.leaderMissingCommitted(c).includes('leader-completeness'),
  },
  {
    mutant: {
      name: 'digest-not-compared',
      description: 'log matching compares terms only, in the entry check and in the hash chain',
      edits: [
        { file: FILE, find: '} else if (seen.digest !== entry[1]) {', replace: '} else if (false) {' },
        { file: FILE, find: 'mixHash(mixHash(previous, entry[0]), hashString(entry[1]))', replace: 'mixHash(mixHash(previous, entry[0]), 0)' },
      ],
    },
    caughtBy: (c) => !planted.logMismatch(c).includes('log-matching'),
  },
];

mutants.push({
  mutant: { name: 'old-term-commits-unaudited', description: 'a leader may move its commit index onto any entry', edits: [{ file: FILE, find: 'if (entry !== undefined && entry[0] !== s.term) {', replace: 'if (false) {' }] },
  caughtBy: (c) => !planted.oldTermCommittedByCounting(c).includes('current-term-commit'),
});

mutants.push({
  mutant: {
    name: 'any-truncation-is-loss',
    description: 'replacing any entry, committed or not, counts as losing a committed one',
    edits: [{ file: FILE, find: 'for (let i = from; i <= Math.min(v.commit, v.log.length); i++) {', replace: 'for (let i = from; i <= v.log.length; i++) {' }],
  },
  caughtBy: (c) => fc.check(fc.property(fc.constantFrom(3, 5), schedules, (size, steps) => c.checkRaftSafety(healthyRun(size, steps)).ok), { numRuns: 300, seed: 42 }).failed,
});

describe('mutants of the raft safety checker are caught', () => itCatchesEachMutant(FILE, mutants, ['sim/check']));

describe('raft safety over generated correct clusters', () => {
  it('raises no alarm on any correct execution (elections, stale followers, truncations, restarts)', () => {
    fc.assert(
      fc.property(fc.constantFrom(3, 5), schedules, (size, steps) => {
        const r = real.checkRaftSafety(healthyRun(size, steps));
        if (!r.ok) throw new Error(r.summary);
      }),
      { numRuns: 300 },
    );
  });

  it('catches one planted fault in any such execution', () => {
    fc.assert(
      fc.property(fc.constantFrom(3, 5), schedules, fc.nat(2), fc.nat(), (size, steps, fault, pick) => {
        const obs = healthyRun(size, steps);
        const leaders = obs.samples.filter((s) => s.role === 'leader');
        fc.pre(leaders.length > 0 && obs.acked.length > 0);
        if (fault === 0) {
          // Another node claims the leadership of an existing term.
          const l = leaders[pick % leaders.length]!;
          obs.samples.push({ ...l, node: (l.node + 1) % size, time: l.time + 0.5, log: undefined });
        } else if (fault === 1) {
          // A node that committed an acknowledged entry rewrites it.
          const a = obs.acked[pick % obs.acked.length]!;
          const holder = [...obs.samples].reverse().find((s) => s.commitIndex >= a.raftIndex)!;
          obs.samples.push({ ...holder, time: holder.time + 0.5, lastIndex: a.raftIndex, log: { from: a.raftIndex, entries: [[a.raftTerm, 'rewritten']] } });
        } else {
          // Every node loses an acknowledged entry in a crash.
          const a = obs.acked[pick % obs.acked.length]!;
          for (let node = 0; node < size; node++) {
            obs.samples.push({ node, time: 1e9 + node, role: 'follower', term: 1e6, commitIndex: 0, lastIndex: a.raftIndex - 1, applied: 0, event: 'restart', log: { from: a.raftIndex, entries: [] } });
          }
        }
        return !real.checkRaftSafety(obs).ok;
      }),
      { numRuns: 300 },
    );
  });
});
