// TTL scenarios: the clock jump reaches the leader, and dead service instances vanish in time while live ones
// never do.
import { describe, expect, it } from 'vitest';
import type { NemesisAction } from '../../sim/world/nemesis.ts';
import { runScenario, sampleAt } from './support.ts';

const SEEDS = [1, 2];
const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe.each(SEEDS)('TTL scenarios, seed %i', (seed) => {
  it("clock-jump-ttl: the leader's clock jumps 2.5 s forward and back, its expiry follows it, and TTLs stay within the bound", () => {
    const clocks: Record<string, Record<string, number>> = {};
    const replicaClock: Record<string, Record<string, number>> = {};
    const r = runScenario('clock-jump-ttl', seed, {
      onWorld: (world) => {
        for (const t of [2490, 2530, 2600, 4990, 5030]) {
          world.at(t, `probe clocks ${t}`, () => {
            clocks[t] = Object.fromEntries(IDS.map((id) => [id, world.clock(id).read(world.now)]));
            replicaClock[t] = Object.fromEntries(IDS.map((id) => [id, world.state(id)!.replica!.raft.clockMs!]));
          });
        }
      },
    });
    const [forward, back] = r.fired;
    const jumped = (forward!.actions[0] as Extract<NemesisAction, { kind: 'clock-jump' }>).node;
    expect(jumped).toBe(forward!.leader!.id);
    expect(sampleAt(r, jumped, 2500)!.role).toBe('leader');
    expect(back!.actions[0]).toEqual({ kind: 'clock-jump', node: jumped, deltaMs: -2500 });
    const other = IDS.find((id) => id !== jumped)!;
    const advance = (id: string, from: number, to: number): number => clocks[to]![id]! - clocks[from]![id]!;
    expect(advance(jumped, 2490, 2530) - advance(other, 2490, 2530)).toBeCloseTo(2500, -1);
    expect(advance(jumped, 4990, 5030) - advance(other, 4990, 5030)).toBeCloseTo(-2500, -1);
    // The replica's own reading (what it stamps deadlines and expiry ticks with) moved too, from its next tick
    // on (members are ticked at their deadlines; a leader's come every heartbeat interval).
    expect(replicaClock[2600]![jumped]! - replicaClock[2600]![other]!).toBeGreaterThan(2300);
    // So while it ran ahead, registrations that were being refreshed expired early, inside the widened bound.
    const early = r.history.ops.filter((op) => op.input.f === 'expire' && op.ret > 2500 && op.ret < 5000);
    expect(early.length).toBeGreaterThan(0);
    // The measured clock error counts the jump (2500 ms) on top of the members' offsets (at most 100 ms apart).
    const clockError = Number(/clock error ([\d.]+) ms/.exec(r.verdicts.find((v) => v.checker === 'ttl')!.summary)![1]);
    expect(clockError).toBeGreaterThan(2500);
    expect(clockError).toBeLessThan(2500 + 100 + 2 * r.config.tickMs + 10);
  });

  it('service-discovery: dead instances vanish within the bound, a restarted one registers again, live ones never vanish', () => {
    const r = runScenario('service-discovery', seed);
    expect(r.fired.map((f) => f.actions[0]!.kind)).toEqual(['instance-crash', 'instance-crash', 'crash']);
    const crashed = r.fired[2]!.actions[0] as Extract<NemesisAction, { kind: 'crash' }>;
    expect(sampleAt(r, crashed.node, 8500)!.role).toBe('follower');
    const ttl = r.verdicts.find((v) => v.checker === 'ttl')!;
    // Both dead instances' last registrations were judged (expired by their deadline) and none expired early.
    expect(Number(/(\d+) abandoned versions expired in time/.exec(ttl.summary)![1])).toBeGreaterThanOrEqual(2);
    const expired = (key: string) => r.history.ops.filter((op) => op.input.f === 'expire' && op.key === key);
    const lastWrite = (key: string, before: number) =>
      r.history.ops.filter((op) => op.key === key && op.input.f !== 'get' && op.input.f !== 'expire' && op.outcome === 'ok' && op.ret < before).sort((a, b) => b.ret - a.ret)[0]!;
    for (const [instance, diedAt] of [[0, 1500], [1, 2500]] as const) {
      const key = `/services/instance-${instance}`;
      const gone = expired(key)[0]!;
      expect(gone.ret).toBeGreaterThan(diedAt);
      // TTL 3 s after the last refresh, plus the expiry tick: well inside the checker's bound.
      expect(gone.ret - lastWrite(key, diedAt + 100).ret).toBeLessThan(3000 + 1000);
      // The watchers saw it go.
      expect(r.watches.some((w) => w.received.some((e) => e.key === key && e.action === 'expire'))).toBe(true);
    }
    // Instance 1 came back at 10.5 s and registered afresh.
    expect(r.history.ops.some((op) => op.key === '/services/instance-1' && op.input.f === 'set' && op.call >= 10_500 && op.outcome === 'ok')).toBe(true);
    // Live instances never vanished while they lived (their keys expire only once every client stops at 11 s).
    for (const instance of [2, 3, 4]) expect(expired(`/services/instance-${instance}`).filter((op) => op.ret < 11_000)).toEqual([]);
  });
});
