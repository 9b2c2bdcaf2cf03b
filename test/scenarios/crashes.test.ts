// Crash and disk scenarios: each run meets its expectation, and the crash or slow disk hit the member the
// scenario names at the moment it says.
import { describe, expect, it } from 'vitest';
import type { NemesisAction } from '../../sim/world/nemesis.ts';
import { nodeIndex, runScenario, sampleAt } from './support.ts';

const SEEDS = [1, 2];
type Crash = Extract<NemesisAction, { kind: 'crash' }>;
type DiskSlow = Extract<NemesisAction, { kind: 'disk-slow' }>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? NaN;
}

describe.each(SEEDS)('crash and disk scenarios, seed %i', (seed) => {
  it('kill-leader-mid-commit: the leader dies holding a client write a follower has but nobody has committed', () => {
    const r = runScenario('kill-leader-mid-commit', seed);
    expect(r.fired).toHaveLength(2);
    for (const f of r.fired) {
      const crash = f.actions[0] as Crash;
      expect(crash.kind).toBe('crash');
      expect(crash.node).toBe(f.leader!.id);
      expect(sampleAt(r, crash.node, f.firedMs!)!.role).toBe('leader');
      const w = f.inFlight!;
      expect(w.index).toBeGreaterThan(w.commit);
      expect(w.holders.length).toBeGreaterThan(0);
      expect(w.holders).not.toContain(crash.node);
      // Mid-commit for real: no member had committed that index when the leader died.
      for (const id of ['n1', 'n2', 'n3', 'n4', 'n5']) expect(sampleAt(r, id, f.firedMs!)?.commitIndex ?? 0).toBeLessThan(w.index);
      expect(r.world.nodes.find((n) => n.id === crash.node)!.crashes).toBeGreaterThan(0);
    }
  });

  it('rolling-restarts: all five members restart in turn, four followers then the leader', () => {
    const r = runScenario('rolling-restarts', seed);
    const crashed = r.fired.map((f) => (f.actions[0] as Crash).node);
    expect(new Set(crashed).size).toBe(5);
    r.fired.forEach((f, i) => expect(sampleAt(r, crashed[i]!, f.firedMs!)!.role).toBe(i < 4 ? 'follower' : 'leader'));
    for (const n of r.world.nodes) expect(n.crashes).toBe(1);
    // Each came back from its own disk.
    for (const id of crashed) expect(r.observations.samples.some((s) => s.node === nodeIndex(r, id) && s.event === 'restart')).toBe(true);
  });

  it('crash-loses-unsynced-writes: crashes drop unsynced writes (logs come back shorter) and no acknowledged write is lost', () => {
    const r = runScenario('crash-loses-unsynced-writes', seed);
    expect(r.fired).toHaveLength(4);
    expect(r.fired[0]!.actions[0]).toMatchObject({ kind: 'crash', node: r.fired[0]!.leader!.id });
    expect(r.fired[2]!.inFlight).toBeDefined();
    const lost = r.world.nodes.reduce((n, x) => n + x.disk.lostOps, 0);
    expect(lost).toBeGreaterThan(0);
    // A restarted member's log is shorter than the one it had in memory when it died: the unsynced tail is gone.
    let shorter = 0;
    const samples = r.observations.samples;
    samples.forEach((s, i) => {
      if (s.event !== 'crash') return;
      const restart = samples.slice(i + 1).find((x) => x.node === s.node && x.event === 'restart');
      if (restart !== undefined && restart.lastIndex < s.lastIndex) shorter++;
    });
    expect(shorter).toBeGreaterThan(0);
    const raft = r.verdicts.find((v) => v.checker === 'raft-safety')!;
    expect(raft.ok).toBe(true);
    expect(Number(/(\d+) acknowledged writes kept/.exec(raft.summary)![1])).toBeGreaterThan(500);
  });

  it("slow-disk: the leader's disk, then a follower's, turn slow, and writes through them slow down", () => {
    const r = runScenario('slow-disk', seed);
    const [leaderSlow, followerSlow] = r.fired.map((f) => f.actions[0] as DiskSlow) as [DiskSlow, DiskSlow];
    expect(leaderSlow).toMatchObject({ kind: 'disk-slow', node: r.fired[0]!.leader!.id, factor: 30 });
    expect(sampleAt(r, followerSlow.node, 3000)!.role).toBe('follower');
    expect(r.fired[2]!.actions[0]).toMatchObject({ node: leaderSlow.node, factor: 1 });
    const latency = (id: string, from: number, to: number): number =>
      median(r.history.ops.filter((op) => op.outcome === 'ok' && op.input.f !== 'get' && op.meta?.member === nodeIndex(r, id) && op.call >= from && op.call < to).map((op) => op.ret - op.call));
    expect(latency(leaderSlow.node, 2000, 5000)).toBeGreaterThan(3 * latency(leaderSlow.node, 0, 2000));
    expect(latency(followerSlow.node, 3000, 6000)).toBeGreaterThan(3 * latency(followerSlow.node, 0, 2000));
  });
});
