// The properties over whole simulated runs, shared by the main suite (real tree, fresh seeds) and the mutant
// suite (planted bugs, fixed seeds).
import fc from 'fast-check';
import { caseArbitrary } from '../../../sim/properties/arbitraries.ts';
import { everyCheckerHolds, runsAreDeterministic, type SimProperty } from '../../../sim/properties/runner.ts';

export const checkersHold: SimProperty = {
  name: 'checkers-hold',
  claim:
    'for any cluster of 3 or 5, workload and schedule of partitions, crashes, pauses, clock, disk and link faults, every checker holds ' +
    '(linearizability of quorum reads, Raft safety with no acknowledged write lost, TTL, watches, store agreement, queue order)',
  arbitrary: caseArbitrary(),
  judge: everyCheckerHolds('checkers-hold'),
};

export const quorumReadsLinearizable: SimProperty = {
  name: 'quorum-reads-linearizable',
  claim: 'a read-heavy register or multi-key workload whose reads all ask quorum=true stays linearizable (and every other checker holds) under partitions, pauses, crashes and clock faults',
  arbitrary: caseArbitrary({
    workload: { kinds: ['register', 'multi-key'], quorumReads: [1], readFractions: [0.75, 0.5, 0.9] },
    families: ['partition', 'pause', 'crash', 'clock'],
  }),
  judge: everyCheckerHolds('quorum-reads-linearizable'),
};

export const crashRecovery: SimProperty = {
  name: 'crash-recovery',
  claim:
    'with slow disks and elections racing crashes (pre-vote and check-quorum off, short election timeouts), no acknowledged write is lost ' +
    'and every other checker holds under crashes, pauses, partitions and disk faults',
  arbitrary: caseArbitrary({
    workload: { kinds: ['register', 'multi-key'], readFractions: [0.25, 0, 0.5] },
    families: ['crash', 'pause', 'partition', 'disk'],
    raft: fc.record({ preVote: fc.constant(false), checkQuorum: fc.constant(false), electionTimeoutMs: fc.constantFrom(150, 300) }),
    slowDiskMs: [150, 50],
  }),
  judge: everyCheckerHolds('crash-recovery'),
};

export const deterministic: SimProperty = {
  name: 'deterministic',
  claim: 'the same generated case run twice in one process gives the same run hash',
  arbitrary: caseArbitrary(),
  judge: runsAreDeterministic('deterministic'),
};

export const simProperties: readonly SimProperty[] = [checkersHold, quorumReadsLinearizable, crashRecovery, deterministic];
