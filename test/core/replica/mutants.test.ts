// Each planted bug in sim/mutants/replica.ts must be caught: by the scenario written for it, and, for all but the
// local quorum read (whose staleness random histories expose only now and then) and the log hygiene of a leader
// (which changes no outcome), by the randomized property too.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as mutants from '../../../sim/mutants/replica.ts';
import { materialize, type Mutant } from '../../../sim/mutants/mutate.ts';
import type { ReplicaModule } from './driver.ts';
import * as kvMutants from '../../../sim/mutants/kv.ts';
import { loadFixture } from '../api/replay.ts';
import { invalidMessages, type PeerCodec } from './codec.ts';
import { replayThroughReplica } from './conformance.ts';
import { mergeProblem } from './persist-check.ts';
import { batchedHistoryArbitrary, replicaProperty } from './property.ts';
import { scenarios } from './scenarios.ts';

// Each killer names the scenario and the complaint it must make, so a mutant dying of an unrelated error counts
// for nothing.
const killers: Array<{ mutant: Mutant; scenario: string; complaint: RegExp; property: boolean }> = [
  { mutant: mutants.replyBeforeCommit, scenario: 'leaderCrashMidWrite', complaint: /^want unknown, got \{"outcome":"ok"/, property: true },
  { mutant: mutants.expiryOnFollowerClock, scenario: 'ttlWithSkewedClocks', complaint: /lost the key before the leader's clock said so/, property: true },
  { mutant: mutants.noDedupe, scenario: 'duplicateForward', complaint: /applied the duplicated write 2 times/, property: true },
  { mutant: mutants.quorumReadServedLocally, scenario: 'quorumReadVersusStale', complaint: /quorum read on the partitioned follower answered old/, property: false },
  { mutant: mutants.watchSkipsEventOnLeaderChange, scenario: 'watchAcrossLeaderChange', complaint: /stream watch saw 1,3, want 1,2,3/, property: true },
  { mutant: mutants.leaderForgetsItsProposals, scenario: 'forwardProposedOnce', complaint: /log holds the write as client,duplicate/, property: false },
  { mutant: mutants.leaderForgetsItsProposals, scenario: 'oneExpiryInFlight', complaint: /^[2-9] expiry entries in flight/, property: false },
  { mutant: mutants.sendsBeforePersist, scenario: 'acknowledgeAfterPersist', complaint: /^b acknowledged entries it had not persisted$/, property: false },
  { mutant: mutants.batchProposesOneByOne, scenario: 'batchedRequests', complaint: /^3 appends with entries to b, want 1 for the whole batch$/, property: false },
  { mutant: mutants.batchRefusalDropsWrites, scenario: 'batchRefusal', complaint: /^the too-large write of a batch: "<no reply>"$/, property: false },
  { mutant: mutants.readIndexServesLaterReads, scenario: 'batchReadRound', complaint: /^a quorum read invoked after 'new' was acknowledged answered old$/, property: false },
];

const fixture = loadFixture();

describe('replica mutants are killed', () => {
  it('every mutant has a killer', () => {
    const killed = [
      ...new Set(killers.map((k) => k.mutant.name)),
      mutants.noopTakesStoreIndex.name,
      mutants.mergeKeepsOverwrittenEntries.name,
      mutants.peerCodecTrustsRequests.name,
    ];
    expect(killed.sort()).toEqual(mutants.replicaMutants.map((m) => m.name).sort());
  });

  it.skipIf(fixture === null)(`${mutants.noopTakesStoreIndex.name}: the conformance replay differs`, async () => {
    const copy = materialize(mutants.noopTakesStoreIndex);
    try {
      const module = await copy.import<ReplicaModule>('core/replica/index.ts');
      expect(replayThroughReplica(fixture!.cases, module).length).toBeGreaterThan(0);
    } finally {
      copy.remove();
    }
  });

  it.skipIf(fixture === null)('the conformance replay through the replica also notices a store whose expiry ignores the time it is given', async () => {
    const copy = materialize(kvMutants.expiryIgnoresCommandTime);
    try {
      const module = await copy.import<ReplicaModule>('core/replica/index.ts');
      expect(replayThroughReplica(fixture!.cases, module).length).toBeGreaterThan(0);
    } finally {
      copy.remove();
    }
  });

  it(`${mutants.peerCodecTrustsRequests.name}: the codec's refusal checks fail`, async () => {
    const copy = materialize(mutants.peerCodecTrustsRequests);
    try {
      const codec = await copy.import<PeerCodec>('core/replica/index.ts');
      const accepted = invalidMessages.filter(({ bytes }) => {
        try {
          codec.decodePeerMessage(bytes);
          return true;
        } catch {
          return false;
        }
      });
      expect(accepted.map((m) => m.name)).toEqual(['bad method', 'bad prevIndex']);
    } finally {
      copy.remove();
    }
  });

  it(`${mutants.mergeKeepsOverwrittenEntries.name}: the merge check fails`, async () => {
    const copy = materialize(mutants.mergeKeepsOverwrittenEntries);
    try {
      const module = await copy.import<ReplicaModule>('core/replica/index.ts');
      expect(mergeProblem(module.mergePersist)).not.toBe(null);
    } finally {
      copy.remove();
    }
  });

  it(`${mutants.replyBeforeCommit.name}: the property over histories with batched requests fails too`, async () => {
    const copy = materialize(mutants.replyBeforeCommit);
    try {
      const module = await copy.import<ReplicaModule>('core/replica/index.ts');
      const result = fc.check(replicaProperty(module, batchedHistoryArbitrary), { numRuns: 200, seed: 42, endOnFailure: true });
      expect(result.failed, 'the batched property holds on a broken replica').toBe(true);
    } finally {
      copy.remove();
    }
  }, 120_000);

  for (const { mutant, scenario, complaint, property } of killers) {
    it(`${mutant.name}: ${scenario}${property ? ' and the property fail' : ' fails'}`, async () => {
      const copy = materialize(mutant);
      try {
        const module = await copy.import<ReplicaModule>('core/replica/index.ts');
        expect(scenarios[scenario]!(module) ?? '<held>').toMatch(complaint);
        if (property) {
          const result = fc.check(replicaProperty(module), { numRuns: 200, seed: 42, endOnFailure: true });
          expect(result.failed, 'the property holds on a broken replica').toBe(true);
        }
      } finally {
        copy.remove();
      }
    }, 120_000);
  }
});
