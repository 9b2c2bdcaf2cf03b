import { describe, expect, it } from 'vitest';
import { ConfigError, type PartialRunConfig } from '../../sim/config.ts';
import { runSimulation } from '../../sim/run.ts';
import type { RunNemesisEvent } from '../../sim/world/nemesis.ts';

/** Three members, a light register workload, 4 s. */
function small(events: RunNemesisEvent[], extra: PartialRunConfig = {}): PartialRunConfig {
  return { nodes: 3, durationMs: 4000, settleMs: 1000, workload: { kind: 'register', clients: 3 }, nemesis: { kind: 'schedule', events }, ...extra };
}

describe('run nemesis: targets resolved when an event fires', () => {
  it('@leader waits while there is no leader, then names the new one; bound names are reused', () => {
    const r = runSimulation({
      seed: 3,
      trail: true,
      config: small([
        { atMs: 1000, kind: 'crash', node: '@leader=first' },
        { atMs: 1001, kind: 'pause', node: '@leader=second' },
        { atMs: 2500, kind: 'restart', node: '@first' },
        { atMs: 3000, kind: 'resume', node: '@second' },
      ]),
    });
    const [crash, pause, restart, resume] = r.fired;
    expect(crash!.firedMs).toBe(1000);
    const first = crash!.leader!.id;
    expect(crash!.actions).toEqual([{ kind: 'crash', node: first }]);
    // Nobody leads just after the crash: the pause waits for the election.
    expect(pause!.firedMs).toBeGreaterThan(1100);
    expect(pause!.leader!.term).toBeGreaterThan(crash!.leader!.term);
    expect(pause!.actions).toEqual([{ kind: 'pause', node: pause!.leader!.id }]);
    expect(pause!.leader!.id).not.toBe(first);
    expect(restart!.actions).toEqual([{ kind: 'restart', node: first }]);
    expect(resume!.actions).toEqual([{ kind: 'resume', node: pause!.leader!.id }]);
    // The trail shows the call that resolved the target, then the concrete fault at the same instant.
    const i = r.trail!.findIndex((e) => e.text.includes(`nemesis pause ${pause!.leader!.id}`));
    expect(r.trail!.slice(0, i).some((e) => e.text.includes('call nemesis pause @leader=second'))).toBe(true);
    expect(r.ok).toBe(true);
  });

  it('@others expands to every member not named; a one-way cut from @others is one cut per member; @follower picks distinct followers', () => {
    const r = runSimulation({
      seed: 4,
      config: small([
        { atMs: 1000, kind: 'one-way', from: '@others', to: '@leader' },
        { atMs: 1500, kind: 'heal' },
        { atMs: 2500, kind: 'split', groups: [['@follower'], ['@follower', '@others']] },
        { atMs: 3000, kind: 'heal' },
      ], { nodes: 5 }),
    });
    const cut = r.fired[0]!;
    expect(cut.actions).toHaveLength(4);
    expect(new Set(cut.actions.map((a) => (a as { from: string }).from)).size).toBe(4);
    expect(cut.actions.every((a) => (a as { to: string }).to === cut.leader!.id)).toBe(true);
    const split = r.fired[2]!.actions[0] as { groups: string[][] };
    expect(split.groups[0]).toHaveLength(1);
    expect(split.groups[1]).toHaveLength(4);
    expect(new Set(split.groups.flat()).size).toBe(5);
    expect(split.groups[1]).toContain(r.fired[2]!.leader!.id);
  });

  it('is deterministic: the same seed gives the same picks and the same run', () => {
    const config = small([{ atMs: 1000, kind: 'isolate', node: '@follower' }, { atMs: 2000, kind: 'heal' }], { nodes: 5 });
    const a = runSimulation({ seed: 9, config });
    const b = runSimulation({ seed: 9, config });
    expect(b.hash).toBe(a.hash);
    expect(b.fired).toEqual(a.fired);
  });

  it('an event whose target never appears is skipped with a note, and an unknown instance is noted', () => {
    const r = runSimulation({
      seed: 5,
      config: small([
        { atMs: 500, kind: 'instance-crash', instance: 7 },
        { atMs: 1000, kind: 'isolate', node: 'n1' },
        { atMs: 1000, kind: 'isolate', node: 'n2' },
        { atMs: 1000, kind: 'isolate', node: 'n3' },
        { atMs: 2500, kind: 'crash', node: '@leader' },
      ]),
    });
    expect(r.fired[0]!.note).toBe('no discovery instance 7');
    // Nobody can lead while everyone is isolated (check-quorum demotes the leader): the crash never fires.
    expect(r.fired[4]!.firedMs).toBeNull();
    expect(r.fired[4]!.note).toBe('no leader to target');
  });

  it('a bad schedule is one ConfigError line before anything runs', () => {
    expect(() => runSimulation({ seed: 1, config: small([{ atMs: 1, kind: 'isolate', node: '@nobody' }]) })).toThrow(ConfigError);
    expect(() => runSimulation({ seed: 1, config: small([{ atMs: 1, kind: 'isolate', node: '@nobody' }]) })).toThrow(
      'run config: nemesis.events: nemesis event #0 (isolate): @nobody names no node bound by an earlier event (roles: @leader, @follower, @others; bind with @leader=name)',
    );
  });
});

describe('run nemesis: membership changes through Raft', () => {
  it('adds a member that starts empty and catches up, then removes a follower and stops it', () => {
    let finalVoters: string[] = [];
    const r = runSimulation({
      seed: 6,
      config: small([
        { atMs: 1000, kind: 'member-add', node: 'n4' },
        { atMs: 2500, kind: 'member-remove', node: '@follower=gone' },
      ]),
      onWorld: (world) => world.at(4900, 'probe configuration', () => {
        const leader = ['n1', 'n2', 'n3', 'n4'].find((id) => world.state(id)?.replica?.raft.role === 'leader')!;
        finalVoters = world.state(leader)!.replica!.raft.membership.voters;
      }),
    });
    expect(r.ok).toBe(true);
    const [add, remove] = r.membershipChanges;
    expect(add).toMatchObject({ kind: 'add', node: 'n4' });
    expect(add!.appliedMs).toBeGreaterThan(1000);
    const gone = (r.fired[1]!.actions[0] as { node: string }).node;
    expect(remove).toMatchObject({ kind: 'remove', node: gone });
    expect(remove!.appliedMs).toBeGreaterThan(2500);
    expect(r.world.nodes.find((n) => n.id === gone)!.status).toBe('removed');
    expect(finalVoters).toEqual(['n1', 'n2', 'n3', 'n4'].filter((id) => id !== gone));
    // The new member applied the cluster's history from the leader (its samples are node index 3).
    expect(Math.max(...r.observations.samples.filter((s) => s.node === 3).map((s) => s.applied))).toBeGreaterThan(100);
  });
});
