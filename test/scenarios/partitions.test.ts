// Partition scenarios: each run meets its expectation, and the partition hit the role the scenario says, at the
// moment it says (read back from the members' own samples, not only from the nemesis's record).
import { describe, expect, it } from 'vitest';
import type { NemesisAction } from '../../sim/world/nemesis.ts';
import { leadersBetween, nodeIndex, runScenario, sampleAt } from './support.ts';

const SEEDS = [1, 2];

function only<T>(xs: readonly T[]): T {
  expect(xs).toHaveLength(1);
  return xs[0]!;
}

describe.each(SEEDS)('partition scenarios, seed %i', (seed) => {
  it('leader-isolation: the member leading at 2 s is isolated, steps down, and the others elect a new leader', () => {
    const r = runScenario('leader-isolation', seed);
    const fired = r.fired[0]!;
    const action = only(fired.actions) as Extract<NemesisAction, { kind: 'isolate' }>;
    expect(action.kind).toBe('isolate');
    expect(action.node).toBe(fired.leader!.id);
    expect(sampleAt(r, action.node, 2000)!.role).toBe('leader');
    expect(r.summary.targeted![0]).toBe(`t=2000 isolate @leader=old -> isolate ${action.node} (leader ${action.node}, term ${fired.leader!.term})`);
    const during = leadersBetween(r, 2000, 5000);
    expect(during.some((l) => l.id !== action.node && l.term > fired.leader!.term)).toBe(true);
    // Check-quorum: the isolated leader stops calling itself leader before the heal.
    const old = nodeIndex(r, action.node);
    expect(r.observations.samples.some((s) => s.node === old && s.time > 2000 && s.time < 5000 && s.role !== 'leader')).toBe(true);
    const blocked = r.world.links.filter((l) => l.from === action.node || l.to === action.node).reduce((n, l) => n + l.blocked, 0);
    expect(blocked).toBeGreaterThan(100);
  });

  it('minority-partition: two followers are cut off; the leader keeps its term and commits, they do not', () => {
    const r = runScenario('minority-partition', seed);
    const fired = r.fired[0]!;
    const [minority, majority] = (only(fired.actions) as Extract<NemesisAction, { kind: 'split' }>).groups as [string[], string[]];
    expect(minority).toHaveLength(2);
    for (const id of minority) expect(sampleAt(r, id, 2000)!.role).toBe('follower');
    expect(majority).toContain(fired.leader!.id);
    // No election: nobody leads in a later term while the split lasts.
    expect(leadersBetween(r, 2000, 5500).every((l) => l.term === fired.leader!.term)).toBe(true);
    const leader = fired.leader!.id;
    expect(sampleAt(r, leader, 5400)!.commitIndex).toBeGreaterThan(sampleAt(r, leader, 2100)!.commitIndex + 50);
    for (const id of minority) expect(sampleAt(r, id, 5400)!.commitIndex).toBe(sampleAt(r, id, 2100)!.commitIndex);
  });

  it('majority-partition: the leader and one follower are cut off; the majority elects a new leader and the old one commits nothing', () => {
    const r = runScenario('majority-partition', seed);
    const fired = r.fired[0]!;
    const [minority, majority] = (only(fired.actions) as Extract<NemesisAction, { kind: 'split' }>).groups as [string[], string[]];
    const old = fired.leader!.id;
    expect(minority[0]).toBe(old);
    expect(sampleAt(r, old, 2000)!.role).toBe('leader');
    expect(majority).toHaveLength(3);
    expect(leadersBetween(r, 2000, 5500).some((l) => majority.includes(l.id) && l.term > fired.leader!.term)).toBe(true);
    expect(sampleAt(r, old, 5400)!.commitIndex).toBe(sampleAt(r, old, 2100)!.commitIndex);
  });

  it('bridge: a follower bridges the two halves; the leader keeps its majority through it and its term', () => {
    const r = runScenario('bridge', seed);
    const fired = r.fired[0]!;
    const action = only(fired.actions) as Extract<NemesisAction, { kind: 'bridge' }>;
    expect(action.left[0]).toBe(fired.leader!.id);
    expect(sampleAt(r, action.via, 2000)!.role).toBe('follower');
    expect(action.right).toHaveLength(2);
    expect(new Set([...action.left, ...action.right, action.via]).size).toBe(5);
    expect(leadersBetween(r, 2000, 5500).every((l) => l.id === fired.leader!.id && l.term === fired.leader!.term)).toBe(true);
    // The far side hears no leader, so it falls behind; the leader keeps committing through the bridge.
    for (const id of action.right) expect(sampleAt(r, id, 5400)!.commitIndex).toBe(sampleAt(r, id, 2100)!.commitIndex);
    expect(sampleAt(r, fired.leader!.id, 5400)!.commitIndex).toBeGreaterThan(sampleAt(r, fired.leader!.id, 2100)!.commitIndex + 50);
  });

  it('flapping-partitions: eight partitions of three shapes fire, forcing new leaders', () => {
    const r = runScenario('flapping-partitions', seed);
    const partitions = r.fired.filter((f) => f.actions.some((a) => a.kind === 'isolate' || a.kind === 'split'));
    expect(partitions).toHaveLength(8);
    // Every isolation and "leader + follower" split cut off the leader of the moment.
    for (const f of partitions) {
      const a = f.actions[0]!;
      if (a.kind === 'isolate') expect(a.node).toBe(f.leader!.id);
      if (a.kind === 'split' && f.text.includes('@leader')) expect(a.groups[0]).toContain(f.leader!.id);
    }
    expect(new Set(leadersBetween(r, 1000, 8200).map((l) => l.term)).size).toBeGreaterThanOrEqual(3);
  });

  it('one-way-link: every link into the leader is cut; it steps down and the others elect a leader it cannot disrupt', () => {
    const r = runScenario('one-way-link', seed);
    const fired = r.fired[0]!;
    const deaf = fired.leader!.id;
    expect(fired.actions).toHaveLength(4);
    for (const a of fired.actions as Array<Extract<NemesisAction, { kind: 'one-way' }>>) {
      expect(a.kind).toBe('one-way');
      expect(a.to).toBe(deaf);
    }
    const stepDown = r.observations.samples.find((s) => s.time > 2000 && s.time < 5500 && s.node === nodeIndex(r, deaf) && s.role !== 'leader');
    expect(stepDown).toBeDefined();
    const successors = leadersBetween(r, 2000, 5500).filter((l) => l.id !== deaf);
    expect(successors.length).toBeGreaterThan(0);
    // Pre-vote: the deaf member never raised its term past the new leader's while it was cut off.
    const deafTerms = r.observations.samples.filter((s) => s.time > 2000 && s.time < 5500 && s.node === stepDown!.node).map((s) => s.term);
    expect(Math.max(...deafTerms)).toBeLessThanOrEqual(Math.max(...successors.map((l) => l.term)));
  });
});
