// fast-check arbitraries for whole simulated runs: a cluster size, a workload and a fault schedule, each a plain
// value that maps to a run config (`caseConfig`). Property tests draw them; anything that wants random but
// well-formed schedules (the bug zoo, benchmarks) can too.
//
// Faults are generated as (start, length, action) and expanded into nemesis events, the fault at `start` and
// the event that undoes it at `start + length`, both clipped to the run's duration. So every schedule is well
// formed by construction, whatever the generator or the shrinker picks: every partition is healed, every crashed
// node restarted, every pause resumed, every clock jump jumped back, every drift, slow disk, disk fault mode and
// degraded link reset. Nodes are small integers taken modulo the cluster size, so a case stays valid when the
// shrinker goes from 5 nodes to 3.
//
// Shrinking goes the way a person simplifying a failure would: fewer faults (each dropped in turn), earlier and
// shorter faults (start and length towards 0 and 1 ms), fewer nodes (5 -> 3), a shorter run, a simpler workload
// (register, one client, fewer keys), the default Raft timing and disks, lower node indices, smaller clock jumps
// and loss rates.
import fc from 'fast-check';
import type { PartialRunConfig, WorkloadConfig, WorkloadKind } from '../config.ts';
import type { LinkConfig, NodeId } from '../world/network.ts';
import type { NemesisAction, NemesisEvent } from '../world/nemesis.ts';

/** Which way a degraded link points, relative to the node it is aimed at. */
export type LinkDirection = 'both' | 'out' | 'in';

/** A fault, with nodes as indices taken modulo the cluster size. */
export type FaultAction =
  | { kind: 'isolate'; node: number }
  /** `sides[i]` is node i's side (0..2); nodes on one side stay connected. */
  | { kind: 'split'; sides: number[] }
  /** Two sides that only `via` connects; `sides[i]` (0 or 1) places every other node. */
  | { kind: 'bridge'; via: number; sides: number[] }
  | { kind: 'one-way'; from: number; to: number }
  | { kind: 'crash'; node: number }
  | { kind: 'pause'; node: number }
  | { kind: 'clock-jump'; node: number; deltaMs: number }
  | { kind: 'clock-drift'; node: number; ppm: number }
  | { kind: 'disk-slow'; node: number; factor: number }
  | { kind: 'disk-faults'; node: number }
  | { kind: 'link'; node: number; direction: LinkDirection; config: Partial<LinkConfig> };

export interface Fault {
  startMs: number;
  lengthMs: number;
  action: FaultAction;
}

/** The workload knobs a case draws; the rest keep sim/config.ts's defaults. */
export type CaseWorkload = Pick<WorkloadConfig, 'kind' | 'clients' | 'readFraction' | 'quorumReads' | 'keys' | 'instances' | 'watchers' | 'ttlSeconds' | 'thinkMs'>;

/** One generated run: everything but the code. */
export interface SimCase {
  /** Seeds every random stream of the run (network, disks, clocks, clients, nodes); the nemesis is `faults`. */
  seed: number;
  nodes: number;
  /** Clients work and faults happen for this long; then `settleMs` of quiet. */
  durationMs: number;
  workload: CaseWorkload;
  /** Raft knobs: turning pre-vote or check-quorum off and shortening the election timeout makes more elections. */
  raft: { preVote: boolean; checkQuorum: boolean; electionTimeoutMs: number };
  /** 0: the default fast disks; else syncs take uniformly up to this long, so crashes catch more unsynced state. */
  slowDiskMs: number;
  faults: Fault[];
}

export type FaultFamily = 'partition' | 'crash' | 'pause' | 'clock' | 'disk' | 'network';

export const FAULT_FAMILIES: readonly FaultFamily[] = ['partition', 'crash', 'pause', 'clock', 'disk', 'network'];

/** The most nodes a case can have; node indices are drawn below it and taken modulo the real size. */
const MAX_NODES = 5;

const nodeIndex = fc.nat({ max: MAX_NODES - 1 });

function actionArbitraries(family: FaultFamily, maxClockJumpMs: number): Array<fc.Arbitrary<FaultAction>> {
  switch (family) {
    case 'partition':
      return [
        fc.record({ kind: fc.constant('isolate' as const), node: nodeIndex }),
        fc.record({ kind: fc.constant('split' as const), sides: fc.array(fc.nat({ max: 2 }), { minLength: MAX_NODES, maxLength: MAX_NODES }) }),
        fc.record({ kind: fc.constant('bridge' as const), via: nodeIndex, sides: fc.array(fc.nat({ max: 1 }), { minLength: MAX_NODES, maxLength: MAX_NODES }) }),
        fc.record({ kind: fc.constant('one-way' as const), from: nodeIndex, to: nodeIndex }),
      ];
    case 'crash':
      return [fc.record({ kind: fc.constant('crash' as const), node: nodeIndex })];
    case 'pause':
      return [fc.record({ kind: fc.constant('pause' as const), node: nodeIndex })];
    case 'clock':
      return [
        fc.record({ kind: fc.constant('clock-jump' as const), node: nodeIndex, deltaMs: fc.integer({ min: -maxClockJumpMs, max: maxClockJumpMs }) }),
        // The generator's range (sim/world/nemesis.ts): a real clock's error, not a broken oscillator.
        fc.record({ kind: fc.constant('clock-drift' as const), node: nodeIndex, ppm: fc.integer({ min: -200, max: 200 }) }),
      ];
    case 'disk':
      return [
        fc.record({ kind: fc.constant('disk-slow' as const), node: nodeIndex, factor: fc.integer({ min: 2, max: 50 }) }),
        fc.record({ kind: fc.constant('disk-faults' as const), node: nodeIndex }),
      ];
    case 'network':
      return [
        fc.record({
          kind: fc.constant('link' as const),
          node: nodeIndex,
          direction: fc.constantFrom<LinkDirection>('both', 'out', 'in'),
          config: fc.oneof(
            fc.record({ loss: fc.integer({ min: 1, max: 9 }).map((tenths) => tenths / 10) }),
            fc.record({ duplicate: fc.constantFrom(0.3, 0.6), reorder: fc.constant(1) }),
            fc.constant({ latency: { kind: 'pareto' as const, minMs: 20, shape: 1.3, maxMs: 3_000 } }),
          ),
        }),
      ];
  }
}

export interface FaultArbitraryOptions {
  /** Faults start in [0, maxStartMs); the run clips them to its duration. */
  maxStartMs: number;
  maxLengthMs?: number;
  maxFaults?: number;
  families?: readonly FaultFamily[];
  maxClockJumpMs?: number;
}

export function faultArbitrary(options: FaultArbitraryOptions): fc.Arbitrary<Fault> {
  const families = options.families ?? FAULT_FAMILIES;
  if (families.length === 0) throw new RangeError('faultArbitrary: no fault families');
  const actions = families.flatMap((f) => actionArbitraries(f, options.maxClockJumpMs ?? 2_000));
  return fc.record({
    startMs: fc.nat({ max: Math.max(0, options.maxStartMs - 1) }),
    lengthMs: fc.integer({ min: 1, max: options.maxLengthMs ?? 2_000 }),
    action: fc.oneof(...actions),
  });
}

/**
 * Up to `maxFaults` faults: a fixed row of fault slots, each switched on or off. fast-check shrinks a record's
 * fields depth first, so with a plain array it would shorten the first fault's timing (a run per candidate)
 * before trying to drop the faults after it; with the switches shrunk first, the first pass drops every fault
 * the failure does not need, one run per fault, and only then do the remaining ones move earlier and get shorter.
 */
export function faultsArbitrary(options: FaultArbitraryOptions): fc.Arbitrary<Fault[]> {
  const slots = options.maxFaults ?? 8;
  return fc
    .record({
      on: fc.array(fc.nat({ max: 1 }), { minLength: slots, maxLength: slots }),
      faults: fc.array(faultArbitrary(options), { minLength: slots, maxLength: slots }),
    })
    .map(({ on, faults }) => faults.filter((_, i) => on[i] === 1));
}

export interface WorkloadArbitraryOptions {
  kinds?: readonly WorkloadKind[];
  /** Fractions of reads sent with quorum=true to choose from; the first is what shrinking goes to. */
  quorumReads?: readonly number[];
  readFractions?: readonly number[];
  maxClients?: number;
}

export function workloadArbitrary(options: WorkloadArbitraryOptions = {}): fc.Arbitrary<CaseWorkload> {
  return fc.record({
    kind: fc.constantFrom(...(options.kinds ?? (['register', 'multi-key', 'queue', 'discovery', 'mixed'] as const))),
    clients: fc.integer({ min: 1, max: options.maxClients ?? 8 }),
    readFraction: fc.constantFrom(...(options.readFractions ?? [0.5, 0, 0.25, 0.75, 0.9])),
    quorumReads: fc.constantFrom(...(options.quorumReads ?? [1, 0.7, 0])),
    keys: fc.integer({ min: 1, max: 8 }),
    instances: fc.integer({ min: 0, max: 3 }),
    watchers: fc.integer({ min: 0, max: 3 }),
    ttlSeconds: fc.integer({ min: 1, max: 3 }),
    thinkMs: fc.constantFrom(20, 0, 5, 100),
  });
}

export interface CaseArbitraryOptions {
  workload?: WorkloadArbitraryOptions;
  families?: readonly FaultFamily[];
  maxFaults?: number;
  /** Run length range (ms); cases shrink towards the shortest. */
  minDurationMs?: number;
  maxDurationMs?: number;
  maxClockJumpMs?: number;
  /** Raft knobs to choose from (default: pre-vote and check-quorum on or off, election timeout 300, 150 or 600 ms). */
  raft?: fc.Arbitrary<SimCase['raft']>;
  /** Slowest disk sync to choose from, 0 for the default fast disks; the first is what shrinking goes to. */
  slowDiskMs?: readonly number[];
}

export const DEFAULT_RAFT_ARBITRARY: fc.Arbitrary<SimCase['raft']> = fc.record({
  preVote: fc.constantFrom(true, false),
  checkQuorum: fc.constantFrom(true, false),
  electionTimeoutMs: fc.constantFrom(300, 150, 600),
});

/**
 * A whole run: 3 or 5 nodes, a workload, a fault schedule, a seed for everything else. fast-check shrinks a
 * record's fields in order, so the faults come first (the budget of shrink runs goes to dropping and shortening
 * faults before anything else) and the seed is never shrunk (another seed is another run, not a simpler one).
 */
export function caseArbitrary(options: CaseArbitraryOptions = {}): fc.Arbitrary<SimCase> {
  const minDurationMs = options.minDurationMs ?? 2_000;
  const maxDurationMs = options.maxDurationMs ?? 4_000;
  return fc
    .record({
      faults: faultsArbitrary({
        maxStartMs: maxDurationMs,
        maxLengthMs: maxDurationMs / 2,
        maxFaults: options.maxFaults,
        families: options.families,
        maxClockJumpMs: options.maxClockJumpMs,
      }),
      nodes: fc.constantFrom(3, 5),
      durationMs: fc.integer({ min: minDurationMs, max: maxDurationMs }),
      workload: workloadArbitrary(options.workload),
      raft: options.raft ?? DEFAULT_RAFT_ARBITRARY,
      slowDiskMs: fc.constantFrom(...(options.slowDiskMs ?? [0, 50, 150])),
      seed: fc.noShrink(fc.nat()),
    })
    .map(({ seed, nodes, durationMs, workload, raft, slowDiskMs, faults }) => ({ seed, nodes, durationMs, workload, raft, slowDiskMs, faults }));
}

// ------------------------------------------------------------------------------------------------ expansion

function linkEnds(node: NodeId, direction: LinkDirection): Array<{ from: NodeId | '*'; to: NodeId | '*' }> {
  const out = { from: node, to: '*' as const };
  const into = { from: '*' as const, to: node };
  return direction === 'both' ? [out, into] : direction === 'out' ? [out] : [into];
}

/** The fault's event and the events that undo it, with real node ids. */
function expand(action: FaultAction, ids: readonly NodeId[]): { start: NemesisAction[]; undo: NemesisAction[] } {
  const id = (i: number): NodeId => ids[i % ids.length]!;
  switch (action.kind) {
    case 'isolate':
      return { start: [{ kind: 'isolate', node: id(action.node) }], undo: [{ kind: 'heal' }] };
    case 'split': {
      const groups: NodeId[][] = [[], [], []];
      ids.forEach((n, i) => groups[action.sides[i] ?? 0]!.push(n));
      return { start: [{ kind: 'split', groups: groups.filter((g) => g.length > 0) }], undo: [{ kind: 'heal' }] };
    }
    case 'bridge': {
      const via = id(action.via);
      const others = ids.filter((n) => n !== via);
      const left = others.filter((_, i) => (action.sides[i] ?? 0) === 0);
      const right = others.filter((_, i) => (action.sides[i] ?? 0) === 1);
      return { start: [{ kind: 'bridge', left, right, via }], undo: [{ kind: 'heal' }] };
    }
    case 'one-way': {
      const from = action.from % ids.length;
      const to = action.to % ids.length === from ? (from + 1) % ids.length : action.to % ids.length;
      return { start: [{ kind: 'one-way', from: id(from), to: id(to) }], undo: [{ kind: 'heal' }] };
    }
    case 'crash':
      return { start: [{ kind: 'crash', node: id(action.node) }], undo: [{ kind: 'restart', node: id(action.node) }] };
    case 'pause':
      return { start: [{ kind: 'pause', node: id(action.node) }], undo: [{ kind: 'resume', node: id(action.node) }] };
    case 'clock-jump':
      return {
        start: [{ kind: 'clock-jump', node: id(action.node), deltaMs: action.deltaMs }],
        undo: [{ kind: 'clock-jump', node: id(action.node), deltaMs: -action.deltaMs }],
      };
    case 'clock-drift':
      return { start: [{ kind: 'clock-drift', node: id(action.node), ppm: action.ppm }], undo: [{ kind: 'clock-drift', node: id(action.node), ppm: 0 }] };
    case 'disk-slow':
      return { start: [{ kind: 'disk-slow', node: id(action.node), factor: action.factor }], undo: [{ kind: 'disk-slow', node: id(action.node), factor: 1 }] };
    case 'disk-faults':
      return { start: [{ kind: 'disk-faults', node: id(action.node), on: true }], undo: [{ kind: 'disk-faults', node: id(action.node), on: false }] };
    case 'link': {
      const ends = linkEnds(id(action.node), action.direction);
      return {
        start: ends.map((e) => ({ kind: 'link', ...e, config: action.config })),
        undo: ends.map((e) => ({ kind: 'link-reset', ...e })),
      };
    }
  }
}

/**
 * The nemesis schedule of a list of faults on `nodes` nodes: each fault's events at its start and the events
 * undoing it at its end, clipped to [0, durationMs], in time order (faults keep their list order at equal times,
 * so a fault starting where an earlier one ends is not undone by it).
 */
export function faultSchedule(faults: readonly Fault[], nodes: number, durationMs: number): NemesisEvent[] {
  const ids = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
  const timed: Array<{ event: NemesisEvent; order: number }> = [];
  faults.forEach((fault, i) => {
    const startMs = Math.min(fault.startMs, durationMs - 1);
    const endMs = Math.min(startMs + Math.max(1, fault.lengthMs), durationMs);
    const { start, undo } = expand(fault.action, ids);
    for (const a of start) timed.push({ event: { atMs: startMs, ...a } as NemesisEvent, order: 2 * i });
    for (const a of undo) timed.push({ event: { atMs: endMs, ...a } as NemesisEvent, order: 2 * i + 1 });
  });
  // An undo at the instant another fault starts goes first: the later fault is not cancelled on arrival.
  return timed
    .sort((a, b) => a.event.atMs - b.event.atMs || Number(isUndo(b.order)) - Number(isUndo(a.order)) || a.order - b.order)
    .map((t) => t.event);
}

function isUndo(order: number): boolean {
  return order % 2 === 1;
}

/** Quiet time after the faults: long enough for a request timeout and an election or two. */
export const CASE_SETTLE_MS = 2_000;

/** The run config of a case, over sim/config.ts's defaults. */
export function caseConfig(c: SimCase, name = 'property'): PartialRunConfig {
  return {
    name,
    nodes: c.nodes,
    durationMs: c.durationMs,
    settleMs: CASE_SETTLE_MS,
    workload: { ...c.workload, refreshMs: Math.min(1_000, Math.round((c.workload.ttlSeconds * 1000) / 3)) },
    raft: { ...c.raft, heartbeatIntervalMs: Math.round(c.raft.electionTimeoutMs / 6) },
    ...(c.slowDiskMs > 0 ? { disk: { syncLatency: { kind: 'uniform', minMs: c.slowDiskMs / 5, maxMs: c.slowDiskMs } } } : {}),
    nemesis: { kind: 'schedule', events: faultSchedule(c.faults, c.nodes, c.durationMs) },
  };
}

/** One line per fault, for failure messages. */
export function describeCase(c: SimCase): string {
  const w = c.workload;
  const events = faultSchedule(c.faults, c.nodes, c.durationMs);
  return [
    `seed ${c.seed}, ${c.nodes} nodes, ${c.durationMs} ms + ${CASE_SETTLE_MS} ms settle`,
    `raft: election timeout ${c.raft.electionTimeoutMs} ms, pre-vote ${c.raft.preVote ? 'on' : 'off'}, check-quorum ${c.raft.checkQuorum ? 'on' : 'off'}; disk syncs ${c.slowDiskMs > 0 ? `up to ${c.slowDiskMs} ms` : 'fast'}`,
    `workload ${w.kind}: ${w.clients} client(s), reads ${w.readFraction} (quorum ${w.quorumReads}), ${w.keys} key(s), ${w.instances} instance(s) ttl ${w.ttlSeconds}s, ${w.watchers} watcher(s), think ${w.thinkMs} ms`,
    `faults: ${c.faults.length} (${events.length} nemesis events)`,
  ].join('; ');
}
