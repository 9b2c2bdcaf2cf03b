// The generators behind the whole-run properties: every generated case is a valid run config whose fault
// schedule undoes every fault by the end of the run, the generators reach every fault shape, workload and
// cluster size, and shrinking goes where a person would (fewer, earlier, shorter faults on fewer nodes). None of
// this runs the Raft cluster, so it is cheap enough for hundreds of cases.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolveConfig } from '../../../sim/config.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import * as realModule from '../../../sim/properties/arbitraries.ts';
import { caseArbitrary, faultSchedule, type SimCase } from '../../../sim/properties/arbitraries.ts';
import { validateNemesis, type NemesisEvent, type NemesisKind } from '../../../sim/world/nemesis.ts';
import { DEFAULT_LINK } from '../../../sim/world/network.ts';
import { toyWorld } from '../world/toy.ts';

const ARBITRARIES = 'sim/properties/arbitraries.ts';

const idsOf = (c: SimCase): string[] => Array.from({ length: c.nodes }, (_, i) => `n${i + 1}`);

type ArbitrariesModule = typeof import('../../../sim/properties/arbitraries.ts');

/** Settings a fault changes and its undo puts back: the last word on each must be the default. */
function leftoverSettings(events: readonly NemesisEvent[]): string[] {
  const jumps = new Map<string, number>();
  const last = new Map<string, string>();
  for (const e of events) {
    if (e.kind === 'clock-jump') jumps.set(e.node, (jumps.get(e.node) ?? 0) + e.deltaMs);
    if (e.kind === 'clock-drift') last.set(`drift ${e.node}`, e.ppm === 0 ? '' : `${e.ppm} ppm`);
    if (e.kind === 'disk-slow') last.set(`disk-slow ${e.node}`, e.factor === 1 ? '' : `x${e.factor}`);
    if (e.kind === 'disk-faults') last.set(`disk-faults ${e.node}`, e.on ? 'on' : '');
  }
  const left = [...last].filter(([, v]) => v !== '').map(([k, v]) => `${k} ${v}`);
  for (const [node, sum] of jumps) if (sum !== 0) left.push(`clock of ${node} off by ${sum} ms`);
  return left;
}

/** What is wrong with a case's config and schedule on paper: invalid, out of order, outside the run, not undone. */
function scheduleProblems(mod: ArbitrariesModule, c: SimCase): string[] {
  let events: NemesisEvent[];
  try {
    events = resolveConfig(mod.caseConfig(c)).nemesis.events as NemesisEvent[];
  } catch (err) {
    return [(err as Error).message];
  }
  const problems = validateNemesis(events, idsOf(c));
  events.forEach((e, i) => {
    if (i > 0 && e.atMs < events[i - 1]!.atMs) problems.push(`event #${i} at ${e.atMs} ms comes after one at ${events[i - 1]!.atMs} ms`);
    if (e.atMs < 0 || e.atMs > c.durationMs) problems.push(`event #${i} at ${e.atMs} ms is outside the run (0..${c.durationMs} ms)`);
  });
  return [...problems, ...leftoverSettings(events)];
}

/** What a case's schedule leaves behind in a real world (toy program) at the end of the run. */
function worldProblems(mod: ArbitrariesModule, c: SimCase): string[] {
  const nodes = idsOf(c);
  const nemesis = mod.faultSchedule(c.faults, c.nodes, c.durationMs);
  const { world } = toyWorld({ nodes, nemesis, seed: c.seed, gossip: { tickMs: 100, persist: true, reportMessages: false } });
  world.run({ untilMs: c.durationMs + 1 });
  const summary = world.summary();
  const problems = summary.nodes.filter((n) => n.status !== 'running').map((n) => `${n.id} is ${n.status}`);
  problems.push(...summary.network.cuts.map((cut) => `cut ${cut}`));
  for (const a of nodes) {
    for (const b of nodes) if (a !== b && JSON.stringify(world.network.linkConfig(a, b)) !== JSON.stringify(DEFAULT_LINK)) problems.push(`link ${a}->${b} still degraded`);
    if (world.clock(a).driftPpm !== 0) problems.push(`${a} drifts ${world.clock(a).driftPpm} ppm`);
    // Only what a drift gained while it lasted may remain (at most 200 ppm over at most 2 s per fault).
    const error = world.clock(a).read(world.now) - world.now;
    if (Math.abs(error) > 1 + c.faults.length * 0.4) problems.push(`${a}'s clock is off by ${error} ms`);
  }
  return problems;
}

/** The first generated case (fixed seed) with problems, or null. */
function firstProblem(mod: ArbitrariesModule, problems: (mod: ArbitrariesModule, c: SimCase) => string[], numRuns: number): string | null {
  const details = fc.check(fc.property(mod.caseArbitrary(), (c) => problems(mod, c).length === 0), { numRuns, seed: 42 });
  return details.failed ? problems(mod, details.counterexample![0]).join('; ') : null;
}

describe('generated cases', () => {
  it('are valid run configs whose schedules are in time order, within the run, and leave no setting changed', () => {
    expect(firstProblem(realModule, scheduleProblems, 500)).toBeNull();
  });

  it('leave the world whole at the end of the run: every node running, no cut, default links, true clocks', () => {
    expect(firstProblem(realModule, worldProblems, 60)).toBeNull();
  });

  // Broken generators, to show the two checks above can fail.
  const brokenGenerators: Array<{ mutant: Mutant; check: typeof scheduleProblems; expected: RegExp }> = [
    {
      mutant: { name: 'properties-crash-never-restarted', description: 'a crash fault has no undo', edits: [{ file: ARBITRARIES, find: "undo: [{ kind: 'restart', node: id(action.node) }]", replace: 'undo: []' }] },
      check: worldProblems,
      expected: /is crashed/,
    },
    {
      mutant: { name: 'properties-faults-not-clipped', description: "a fault's undo is not clipped to the run", edits: [{ file: ARBITRARIES, find: 'Math.min(startMs + Math.max(1, fault.lengthMs), durationMs)', replace: 'startMs + Math.max(1, fault.lengthMs)' }] },
      check: scheduleProblems,
      expected: /outside the run/,
    },
    {
      mutant: { name: 'properties-clock-jump-kept', description: 'a clock jump is never jumped back', edits: [{ file: ARBITRARIES, find: 'deltaMs: -action.deltaMs', replace: 'deltaMs: 0' }] },
      check: scheduleProblems,
      expected: /clock of n\d off by/,
    },
  ];
  for (const { mutant, check, expected } of brokenGenerators) {
    it(`notice a broken generator: ${mutant.description}`, async () => {
      const problem = await withMutant<ArbitrariesModule, string | null>(mutant, ARBITRARIES, (mod) => firstProblem(mod, check, 200), { dirs: ['sim'] });
      expect(problem).toMatch(expected);
    });
  }

  it('reach every fault shape, workload kind, cluster size and Raft and disk setting', () => {
    const cases = fc.sample(caseArbitrary(), { numRuns: 400, seed: 3 });
    const kinds = new Set<NemesisKind>();
    let threeWaySplits = 0;
    for (const c of cases) {
      for (const e of faultSchedule(c.faults, c.nodes, c.durationMs)) {
        kinds.add(e.kind);
        if (e.kind === 'split' && e.groups.length === 3) threeWaySplits++;
      }
    }
    const everyKind: NemesisKind[] = ['isolate', 'split', 'bridge', 'one-way', 'heal', 'crash', 'restart', 'pause', 'resume', 'clock-jump', 'clock-drift', 'disk-slow', 'disk-faults', 'link', 'link-reset'];
    expect([...kinds].sort()).toEqual([...everyKind].sort());
    expect(threeWaySplits).toBeGreaterThan(5);
    expect(new Set(cases.map((c) => c.nodes))).toEqual(new Set([3, 5]));
    expect(new Set(cases.map((c) => c.workload.kind))).toEqual(new Set(['register', 'multi-key', 'queue', 'discovery', 'mixed']));
    expect(new Set(cases.map((c) => c.workload.quorumReads))).toEqual(new Set([1, 0.7, 0]));
    expect(new Set(cases.map((c) => `${c.raft.preVote}/${c.raft.checkQuorum}`)).size).toBe(4);
    expect(new Set(cases.map((c) => c.slowDiskMs))).toEqual(new Set([0, 50, 150]));
    const sizes = cases.map((c) => c.faults.length);
    expect(Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(7);
  });
});

describe('shrinking', () => {
  const shrunk = (failsWhen: (events: NemesisEvent[], c: SimCase) => boolean, seed: number): SimCase => {
    const details = fc.check(
      fc.property(caseArbitrary(), (c) => !failsWhen(faultSchedule(c.faults, c.nodes, c.durationMs), c)),
      { numRuns: 1000, seed },
    );
    expect(details.failed).toBe(true);
    return details.counterexample![0];
  };

  it('goes to one fault, at time 0, 1 ms long, on 3 nodes, with the simplest workload and default knobs', () => {
    const c = shrunk((events) => events.some((e) => e.kind === 'crash'), 1);
    expect(c.faults).toEqual([{ startMs: 0, lengthMs: 1, action: { kind: 'crash', node: 0 } }]);
    expect(c.nodes).toBe(3);
    expect(c.durationMs).toBe(2000);
    expect(c.workload).toMatchObject({ kind: 'register', clients: 1, keys: 1, instances: 0, watchers: 0 });
    expect(c.raft).toEqual({ preVote: true, checkQuorum: true, electionTimeoutMs: 300 });
    expect(c.slowDiskMs).toBe(0);
  });

  it('keeps exactly the faults a failure needs: a crash during a partition shrinks to those two', () => {
    const overlapping = (events: NemesisEvent[]): boolean => {
      let cut = false;
      for (const e of events) {
        if (e.kind === 'isolate' || e.kind === 'split' || e.kind === 'bridge' || e.kind === 'one-way') cut = true;
        if (e.kind === 'heal') cut = false;
        if (e.kind === 'crash' && cut) return true;
      }
      return false;
    };
    const c = shrunk(overlapping, 2);
    const events = faultSchedule(c.faults, c.nodes, c.durationMs);
    expect(c.faults).toHaveLength(2);
    expect(events.map((e) => e.kind)).toEqual([expect.stringMatching(/isolate|split|bridge|one-way/), 'crash', expect.any(String), expect.any(String)]);
    expect(c.nodes).toBe(3);
  });
});
