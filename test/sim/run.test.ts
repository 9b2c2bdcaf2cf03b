import { describe, expect, it } from 'vitest';
import { observeReplica } from '../../core/replica/index.ts';
import { materialize } from '../../sim/mutants/mutate.ts';
import { raftMutantNamed } from '../../sim/mutants/raft.ts';
import type { PartialRunConfig } from '../../sim/config.ts';
import { nemesisSchedule, runSimulation, type SimWorld } from '../../sim/run.ts';
import { firstDivergence } from '../../sim/world/world.ts';
import { sequencedCodec } from '../support/wire.ts';
import { resolveConfig } from '../../sim/config.ts';

/** Partitions, crashes, pauses, clock jumps, lossy and duplicating links: everything on at once. */
const FAULTY: PartialRunConfig = {
  durationMs: 6000,
  settleMs: 2000,
  network: { latency: { kind: 'uniform', minMs: 1, maxMs: 20 }, loss: 0.05, duplicate: 0.05, reorder: 0.2 },
  nemesis: { kind: 'generated', meanGapMs: 500, meanFaultMs: 600, weights: { partition: 3, crash: 3, clock: 2, network: 2, pause: 1 }, maxClockJumpMs: 2000 },
  workload: { clients: 6 },
};

function stateOf(world: SimWorld, id: string) {
  const s = world.state(id);
  if (s === undefined || s.replica === null) throw new Error(`${id} is not running`);
  return s.replica;
}

describe('runSimulation: determinism', () => {
  it('the same seed and config give the same run, event for event, with every fault kind on', () => {
    const a = runSimulation({ seed: 7, config: FAULTY, trail: true });
    const b = runSimulation({ seed: 7, config: FAULTY, trail: true });
    expect(Object.keys(a.summary.faults)).toEqual(expect.arrayContaining(['crash', 'heal', 'clock-jump', 'link']));
    expect(a.summary.messages.dropped).toBeGreaterThan(0);
    expect(a.summary.messages.duplicated).toBeGreaterThan(0);
    expect(a.trail!.length).toBeGreaterThan(10_000);
    expect(firstDivergence(a.trail!, b.trail!)).toBeNull();
    expect(a.hash).toBe(b.hash);
    expect(JSON.stringify(a.history)).toBe(JSON.stringify(b.history));
    // And the hash is sensitive: another seed is another run.
    expect(runSimulation({ seed: 8, config: FAULTY }).hash).not.toBe(a.hash);
    expect(a.ok).toBe(true);
  });

  it('changing the workload rate leaves the nemesis schedule exactly as it was', () => {
    const slow: PartialRunConfig = { ...FAULTY, workload: { clients: 6, thinkMs: 200 } };
    const a = runSimulation({ seed: 3, config: FAULTY, trail: true });
    const b = runSimulation({ seed: 3, config: slow, trail: true });
    const faults = (trail: typeof a.trail) => trail!.filter((e) => / nemesis /.test(e.text)).map((e) => e.text);
    expect(a.nemesis.length).toBeGreaterThan(5);
    expect(b.nemesis).toEqual(a.nemesis);
    expect(faults(b.trail)).toEqual(faults(a.trail));
    // The knob did change the workload's own stream of decisions.
    expect(b.hash).not.toBe(a.hash);
    expect(b.summary.operations.total).toBeLessThan(a.summary.operations.total);
    // A nemesis knob, conversely, changes the schedule.
    expect(nemesisSchedule(resolveConfig({ ...FAULTY, nemesis: { ...FAULTY.nemesis, meanGapMs: 900 } }), 3, ['n1', 'n2', 'n3', 'n4', 'n5'])).not.toEqual(a.nemesis);
  });
});

describe('runSimulation: each fault reaches the real replica', () => {
  const quiet: PartialRunConfig = { durationMs: 5000, settleMs: 1000, nemesis: { kind: 'none' }, workload: { clients: 6, thinkMs: 5 } };

  it('a crash loses what was not synced: the restarted leader has a shorter log than it had in memory', () => {
    let before = -1;
    let after = -1;
    let victim = '';
    const r = runSimulation({
      seed: 1,
      config: { ...quiet, disk: { syncLatency: { kind: 'fixed', ms: 40 } } },
      onWorld: (world) => {
        world.at(2500, 'probe crash', () => {
          victim = ['n1', 'n2', 'n3', 'n4', 'n5'].find((id) => stateOf(world, id).raft.role === 'leader')!;
          before = observeReplica(stateOf(world, victim)).lastIndex;
          world.crash(victim, 10);
        });
        world.at(2511, 'probe restart', () => {
          after = observeReplica(stateOf(world, victim)).lastIndex;
        });
      },
    });
    expect(victim).not.toBe('');
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThan(before);
    expect(r.world.nodes.find((n) => n.id === victim)!.disk.lostOps).toBeGreaterThan(0);
    expect(r.ok).toBe(true);
  });

  it('a partition blocks delivery: an isolated member stops applying while the others go on', () => {
    const seen: Record<string, number> = {};
    const r = runSimulation({
      seed: 2,
      config: { ...quiet, nemesis: { kind: 'schedule', events: [{ atMs: 2000, kind: 'isolate', node: 'n1' }, { atMs: 4000, kind: 'heal' }] } },
      onWorld: (world) => {
        for (const t of [2100, 3900, 5900]) {
          world.at(t, `probe ${t}`, () => {
            seen[`n1@${t}`] = stateOf(world, 'n1').applied;
            seen[`n2@${t}`] = stateOf(world, 'n2').applied;
          });
        }
      },
    });
    expect(seen['n1@3900']).toBe(seen['n1@2100']);
    expect(seen['n2@3900']).toBeGreaterThan(seen['n2@2100']! + 10);
    expect(seen['n1@5900']).toBeGreaterThan(seen['n1@3900']!);
    expect(r.world.links.filter((l) => l.from === 'n1' || l.to === 'n1').reduce((s, l) => s + l.blocked, 0)).toBeGreaterThan(0);
    expect(r.ok).toBe(true);
  });

  it('a clock jump reaches the replica: its clock reading moves by the jump', () => {
    let skew = 0;
    runSimulation({
      seed: 3,
      config: { ...quiet, nemesis: { kind: 'schedule', events: [{ atMs: 2000, kind: 'clock-jump', node: 'n2', deltaMs: 600_000 }] } },
      onWorld: (world) => {
        world.at(2500, 'probe clocks', () => {
          skew = stateOf(world, 'n2').clockMs! - stateOf(world, 'n3').clockMs!;
        });
      },
    });
    expect(skew).toBeGreaterThan(590_000);
  });

  it('links duplicate and reorder messages between replicas', () => {
    // Number every message on its link at send time; the receiving side sees copies and overtakes.
    const codec = sequencedCodec();
    const r = runSimulation({
      seed: 4,
      codec,
      config: { ...quiet, network: { latency: { kind: 'uniform', minMs: 1, maxMs: 20 }, loss: 0, duplicate: 0.05, reorder: 0.3 } },
    });
    expect(codec.counts.duplicates).toBeGreaterThan(10);
    expect(codec.counts.reordered).toBeGreaterThan(10);
    expect(r.ok).toBe(true);
  });

  it('a pause stalls a member (no tick, no apply) until it resumes, then it catches up', () => {
    const seen: Record<string, number> = {};
    const r = runSimulation({
      seed: 5,
      config: { ...quiet, nemesis: { kind: 'schedule', events: [{ atMs: 2000, kind: 'pause', node: 'n3' }, { atMs: 3500, kind: 'resume', node: 'n3' }] } },
      onWorld: (world) => {
        for (const t of [2050, 3450, 4500]) {
          world.at(t, `probe ${t}`, () => {
            const s = world.state('n3')!.replica!;
            seen[`applied@${t}`] = s.applied;
            seen[`clock@${t}`] = s.clockMs!;
            seen[`leaderApplied@${t}`] = stateOf(world, 'n1').applied;
          });
        }
      },
    });
    expect(seen['clock@3450']).toBe(seen['clock@2050']);
    expect(seen['applied@3450']).toBe(seen['applied@2050']);
    expect(seen['leaderApplied@3450']).toBeGreaterThan(seen['leaderApplied@2050']!);
    expect(seen['applied@4500']).toBeGreaterThan(seen['applied@3450']!);
    expect(r.ok).toBe(true);
  });
});

describe('runSimulation: verdicts', () => {
  it('a run with only quorum reads under partitions and crashes checks linearizable, with every checker run', () => {
    const r = runSimulation({ seed: 11, config: { durationMs: 6000, workload: { kind: 'register', quorumReads: 1, clients: 6 }, nemesis: { weights: { partition: 3, crash: 2 }, meanGapMs: 1000 } } });
    expect(r.linearizability.verdict).toBe('linearizable');
    expect(r.history.ops.filter((op) => op.outcome === 'ok' && op.input.f === 'get').length).toBeGreaterThan(50);
    expect(r.verdicts.map((v) => v.checker)).toEqual(['linearizability', 'raft-safety', 'ttl', 'watch', 'store-agreement', 'queue-order', 'invariants', 'liveness']);
    expect(r.ok).toBe(true);
    expect(r.summary.leaderChanges).toBeGreaterThan(0);
  });

  it("liveness is judged after the faults, and waits out a slow link's messages, which outlive its reset", () => {
    const calm = runSimulation({ seed: 3, config: { nodes: 3, durationMs: 2000, settleMs: 2000, nemesis: { kind: 'none' } } });
    expect(calm.verdicts.find((v) => v.checker === 'liveness')!.summary).toMatch(/^liveness: ok \(n\d leads term \d+ .*3 member\(s\) up, all following it and caught up to \d+, after 4000 ms without faults\)$/);
    // Found by the checkers-hold property: messages sent in the slow 69 ms arrive up to 3 s later, and the FIFO
    // link delivers nothing after them until they do, so n2 cannot reach n3 until t=4551, after the run.
    const slow = { kind: 'pareto' as const, minMs: 20, shape: 1.3, maxMs: 3000 };
    const events = [
      { atMs: 1482, kind: 'link' as const, from: 'n2', to: '*', config: { latency: slow } },
      { atMs: 1482, kind: 'link' as const, from: '*', to: 'n2', config: { latency: slow } },
      { atMs: 1551, kind: 'link-reset' as const, from: 'n2', to: '*' },
      { atMs: 1551, kind: 'link-reset' as const, from: '*', to: 'n2' },
    ];
    const r = runSimulation({ seed: 3, config: { nodes: 3, durationMs: 2000, settleMs: 2000, nemesis: { kind: 'schedule', events } } });
    expect(r.verdicts.find((v) => v.checker === 'liveness')!.summary).toBe("liveness: not judged (a fault's effects last until t=4551 ms, past the end of the run)");
  });

  // Found by a long crash-recovery hunt: a member that crashes before its first sync boots fresh from an empty
  // WAL; that boot reported no restart, so the checker saw its term and log go back within one incarnation.
  it('a member that crashes before its first sync and boots fresh is reported as restarted, with its bootstrap log', () => {
    const config = {
      nodes: 3, durationMs: 2000, settleMs: 2000, raft: { preVote: false, checkQuorum: false, electionTimeoutMs: 150 },
      disk: { syncLatency: { kind: 'uniform' as const, minMs: 30, maxMs: 150 } },
      workload: { kind: 'register' as const, clients: 1, quorumReads: 1 },
      nemesis: { kind: 'schedule' as const, events: [{ atMs: 0, kind: 'crash' as const, node: 'n1' }, { atMs: 1, kind: 'restart' as const, node: 'n1' }] },
    };
    const r = runSimulation({ seed: 347328720, config });
    expect(r.verdicts.filter((v) => !v.ok).map((v) => v.summary)).toEqual([]);
    const restart = r.observations.samples.find((s) => s.node === 0 && s.event === 'restart');
    expect(restart).toMatchObject({ time: 1, term: 1, lastIndex: 3, log: { from: 1 } });
    expect(restart!.log!.entries).toHaveLength(3);
  });

  it('the mixed default workload feeds every checker something to judge', () => {
    const r = runSimulation({ seed: 2, config: { durationMs: 8000 } });
    expect(r.ok).toBe(true);
    expect(r.history.ops.some((op) => op.input.f === 'expire')).toBe(true);
    expect(r.watches.length).toBeGreaterThan(10);
    expect(r.observations.acked.length).toBeGreaterThan(100);
    expect(r.history.ops.some((op) => op.input.f === 'update' && (op.input as { ttl?: number }).ttl === 3)).toBe(true);
  });

  // Found by test/sim/properties: with no think time, a default read answered at once by the member was
  // re-issued at the same instant forever (the event queue overflowed at t=18 ms).
  it('zero think time with locally answered reads still moves virtual time forward', () => {
    const r = runSimulation({ seed: 1, config: { nodes: 3, durationMs: 2000, settleMs: 500, nemesis: { kind: 'none' }, workload: { kind: 'mixed', clients: 1, thinkMs: 0, quorumReads: 0, instances: 1, watchers: 0 } } });
    expect(r.summary.simulatedMs).toBe(2500);
    expect(r.summary.operations.total).toBeGreaterThan(100);
    expect(r.summary.operations.total).toBeLessThan(10_000);
    expect(r.ok).toBe(true);
  });

  // Found by test/sim/properties (checkers-hold): with slow disks a producer's POST took over a second, a
  // consumer listed and claimed the new key before the producer heard back, and the claim was left out of the
  // history while later claims of the same key were kept; the model then saw those fail on a key nobody deleted.
  it('a queue key claimed before its producer hears back keeps its whole history', () => {
    const r = runSimulation({
      seed: 1236033298,
      config: {
        nodes: 5,
        durationMs: 2000,
        settleMs: 2000,
        raft: { preVote: false, electionTimeoutMs: 300, heartbeatIntervalMs: 50 },
        disk: { syncLatency: { kind: 'uniform', minMs: 30, maxMs: 150 } },
        nemesis: { kind: 'none' },
        workload: { kind: 'queue', clients: 6, watchers: 0, instances: 0 },
      },
    });
    const ops = r.history.ops;
    const claimedEarly = ops.filter((claim) => {
      const create = ops.find((op) => op.key === claim.key && op.input.f === 'create');
      return claim.input.f === 'cad' && claim.outcome === 'ok' && create !== undefined && claim.call < create.ret && !('error' in (claim.output ?? {}));
    });
    expect(claimedEarly.length).toBeGreaterThan(0);
    expect(r.verdicts.find((v) => v.checker === 'linearizability')!.ok).toBe(true);
    expect(r.ok).toBe(true);
  });

  // Found by searching seeds 1..150 of this config (3 members, slow disks, elections racing crashes): seed 109
  // is the only one whose run shows two leaders in one term to the checkers (seed 14 was, before members were
  // ticked only at their deadlines; about one seed in 150 either way). The test starts there and searches on
  // within the same budget, so a change that shifts schedules still finds a catching seed or fails loudly.
  const VOTE_RACE: PartialRunConfig = {
    nodes: 3,
    durationMs: 8000,
    settleMs: 2000,
    disk: { syncLatency: { kind: 'uniform', minMs: 30, maxMs: 150 } },
    raft: { preVote: false, checkQuorum: false, electionTimeoutMs: 150, heartbeatIntervalMs: 30 },
    network: { latency: { kind: 'uniform', minMs: 10, maxMs: 120 }, loss: 0.05 },
    nemesis: { meanGapMs: 200, meanFaultMs: 60, weights: { crash: 5, partition: 1 } },
    workload: { clients: 3 },
  };
  const RECORDED_SEED = 109;
  const BUDGET = 150;

  it('a vote sent before it is synced is caught once crashes are injected, within a bounded seed budget', async () => {
    expect(runSimulation({ seed: RECORDED_SEED, config: VOTE_RACE }).ok).toBe(true);
    const copy = materialize(raftMutantNamed('vote-sent-before-sync'));
    try {
      const mutated = await copy.import<typeof import('../../sim/run.ts')>('sim/run.ts');
      let caught: { seed: number; summary: string } | null = null;
      for (let i = 0; i < BUDGET && caught === null; i++) {
        const seed = ((RECORDED_SEED - 1 + i) % BUDGET) + 1;
        const r = mutated.runSimulation({ seed, config: VOTE_RACE });
        const failed = r.verdicts.find((v) => !v.ok);
        if (failed) caught = { seed, summary: failed.summary };
      }
      expect(caught, `not caught within seeds 1..${BUDGET}`).not.toBeNull();
      expect(caught!.seed).toBe(RECORDED_SEED);
      expect(caught!.summary).toMatch(/election-safety|acked-write-durable|log-matching|linearizab/);
    } finally {
      copy.remove();
    }
  });
});

describe('runSimulation: a member that trips its own invariant checks', () => {
  it('ends the run there with an invariants verdict (not a crash), and the trace of it replays identically', async () => {
    const { recordTrace, replayTrace } = await import('../../sim/trace/record.ts');
    const { scenarioNamed } = await import('../../scenarios/index.ts');
    const scenario = scenarioNamed('majority-partition')!;
    // quorum-too-small: a leader counts a minority as a quorum, so the majority side overwrites committed entries.
    const { trace, result } = await recordTrace({ scenario: scenario.name, seed: 1, config: scenario.config, expect: scenario.expect, mutant: 'quorum-too-small' });
    const invariants = result.verdicts.find((v) => v.checker === 'invariants')!;
    expect(invariants.ok).toBe(false);
    expect(invariants.summary).toMatch(/the run stopped at t=\d+ ms: node n\d .*truncating committed entry/);
    expect(result.summary.simulatedMs).toBeLessThan(resolveConfig(scenario.config).durationMs);
    const replay = await replayTrace(trace);
    expect(replay.divergence).toBeNull();
    expect(replay.result!.verdicts.find((v) => v.checker === 'invariants')!.summary).toBe(invariants.summary);
  });
});

describe('runSimulation: watches that give up unanswered', () => {
  it('tell the watch checker what they were owed, so a member that silently skips an event is caught', async () => {
    const { withRunner } = await import('../../sim/trace/record.ts');
    const { scenarioNamed } = await import('../../scenarios/index.ts');
    const scenario = scenarioNamed('watch-across-leader-change')!;
    const healthy = runSimulation({ seed: 4, config: scenario.config });
    expect(healthy.verdicts.find((v) => v.checker === 'watch')!.ok).toBe(true);
    // The member's open watches miss the next event after each leader change (sim/mutants/replica.ts).
    const broken = await withRunner('replica-watch-skips-event-on-leader-change', (run) => run({ seed: 4, config: scenario.config }));
    expect(broken.verdicts.find((v) => v.checker === 'watch')!.summary).toMatch(/watch-missing: .* drained through index \d+ but never received/);
  });
});
