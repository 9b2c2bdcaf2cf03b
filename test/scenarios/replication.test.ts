// Replication scenarios: watches across leader changes, a snapshot catch-up, membership changes under a
// partition, and a storm of duplicated and reordered messages, each shown to have happened.
import { describe, expect, it } from 'vitest';
import { decodePeerMessage, encodePeerMessage, type PeerMessage } from '../../core/replica/index.ts';
import type { NemesisAction } from '../../sim/world/nemesis.ts';
import type { MessageCodec } from '../../sim/world/world.ts';
import { sequencedCodec } from '../support/wire.ts';
import { leadersBetween, nodeIndex, runScenario, sampleAt } from './support.ts';

const SEEDS = [1, 2];

describe.each(SEEDS)('replication scenarios, seed %i', (seed) => {
  it('watch-across-leader-change: watches waiting through each leader change get the next leader\'s events, gapless', () => {
    const r = runScenario('watch-across-leader-change', seed);
    expect((r.fired[0]!.actions[0] as { node: string }).node).toBe(r.fired[0]!.leader!.id);
    expect((r.fired[2]!.actions[0] as { node: string }).node).toBe(r.fired[2]!.leader!.id);
    // The first sample of each leader elected after the first fault.
    const firsts = new Map<number, number>();
    for (const l of leadersBetween(r, 2000, 8000)) if (l.term > r.fired[0]!.leader!.term && !firsts.has(l.term)) firsts.set(l.term, l.time);
    expect(firsts.size).toBeGreaterThanOrEqual(2);
    for (const elected of firsts.values()) {
      // A watch sent before this leader existed and answered by an event it committed.
      const spanning = r.watches.filter((w) => w.sent! < elected - 100 && w.received.some((e) => e.time > elected));
      expect(spanning.length, `a watch waiting across the election at ${elected} ms`).toBeGreaterThan(0);
    }
    const watch = r.verdicts.find((v) => v.checker === 'watch')!;
    expect(Number(/(\d+) delivered events/.exec(watch.summary)![1])).toBeGreaterThan(500);
  });

  it('lagging-follower-snapshot: the cut-off follower falls behind the compacted log and installs the leader\'s snapshot', () => {
    let snapshotsToLaggard = 0;
    let laggard = '';
    let compactedPast = 0;
    const codec: MessageCodec<PeerMessage> = {
      encode: encodePeerMessage,
      decode(bytes) {
        const m = decodePeerMessage(bytes);
        if (m.type === 'raft' && m.message.type === 'snapshot' && m.to === laggard) snapshotsToLaggard++;
        return m;
      },
    };
    const r = runScenario('lagging-follower-snapshot', seed, {
      codec,
      onWorld: (world) => {
        world.at(1600, 'probe laggard', () => {
          laggard = ['n1', 'n2', 'n3', 'n4', 'n5'].find((id) => world.network.cuts().some((c) => c.includes(id)))!;
        });
        world.at(4990, 'probe compaction', () => {
          const leader = ['n1', 'n2', 'n3', 'n4', 'n5'].find((id) => world.state(id)?.replica?.raft.role === 'leader')!;
          compactedPast = world.state(leader)!.replica!.raft.log.snapshotIndex - world.state(laggard)!.replica!.raft.log.entries.at(-1)!.index;
        });
      },
    });
    const fired = r.fired[0]!;
    expect((fired.actions[0] as { node: string }).node).toBe(laggard);
    expect(sampleAt(r, laggard, 1500)!.role).toBe('follower');
    // The leader's log starts past everything the laggard holds: only a snapshot can catch it up.
    expect(compactedPast).toBeGreaterThan(0);
    expect(snapshotsToLaggard).toBeGreaterThan(0);
    const installed = r.observations.samples.filter((s) => s.node === nodeIndex(r, laggard) && s.snapshot !== undefined && s.event === undefined && s.time > 5000);
    expect(installed.length).toBeGreaterThan(0);
    expect(installed[0]!.snapshot!.index).toBeGreaterThan(sampleAt(r, laggard, 1600)!.lastIndex);
  });

  it('membership-change-under-partition: n6 joins and a cut-off member is removed while the partition lasts', () => {
    let voters: string[] = [];
    const r = runScenario('membership-change-under-partition', seed, {
      onWorld: (world) => world.at(9000, 'probe configuration', () => {
        const leader = world.nodes().find((id) => world.status(id) === 'running' && world.state(id)?.replica?.raft.role === 'leader')!;
        voters = world.state(leader)!.replica!.raft.membership.voters;
      }),
    });
    const minority = (r.fired[0]!.actions[0] as Extract<NemesisAction, { kind: 'split' }>).groups[0]!;
    for (const id of minority) expect(sampleAt(r, id, 1500)!.role).toBe('follower');
    // The redrawn split keeps the same minority and puts n6 with the majority.
    const redrawn = (r.fired[2]!.actions[0] as Extract<NemesisAction, { kind: 'split' }>).groups;
    expect(redrawn[0]).toEqual(minority);
    expect(redrawn[1]).toContain('n6');
    const [add, remove] = r.membershipChanges;
    expect(add).toMatchObject({ kind: 'add', node: 'n6' });
    expect(remove).toMatchObject({ kind: 'remove', node: minority[0] });
    // Both took effect before the heal at 6.5 s, through the majority side alone.
    expect(add!.appliedMs).toBeLessThan(6500);
    expect(remove!.appliedMs).toBeGreaterThan(4500);
    expect(remove!.appliedMs).toBeLessThan(6500);
    expect(r.world.nodes.find((n) => n.id === minority[0])!.status).toBe('removed');
    expect(voters).toEqual(['n1', 'n2', 'n3', 'n4', 'n5', 'n6'].filter((id) => id !== minority[0]));
    // n6 holds the cluster's history, and the other cut-off member caught up after the heal.
    const n6 = r.observations.samples.filter((s) => s.node === nodeIndex(r, 'n6'));
    expect(Math.max(...n6.map((s) => s.applied))).toBeGreaterThan(200);
    expect(sampleAt(r, minority[1]!, 10_000)!.commitIndex).toBeGreaterThan(sampleAt(r, minority[1]!, 6400)!.commitIndex);
  });

  it('message-storm: thousands of messages arrive twice or out of order', () => {
    const codec = sequencedCodec();
    const r = runScenario('message-storm', seed, { codec });
    expect(codec.counts.duplicates).toBeGreaterThan(2000);
    expect(codec.counts.reordered).toBeGreaterThan(2000);
    expect(r.summary.messages.duplicated).toBeGreaterThan(2000);
  });
});
