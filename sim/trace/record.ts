// Recording a run as a trace, and replaying a trace event for event.
//
// A run is a function of (config, seed, code). The trace pins all three: the config with its fault schedule
// written out, the seed, and the code as the raftsim version plus the named mutant (if the run was made with a
// deliberately broken variant, replay re-creates the same variant). Replay re-runs the header and compares the
// run hash after every event with the recorded one; the first difference names both events.
import type { NodeSample } from '../check/history.ts';
import { mutantNamed, materialize } from '../mutants/index.ts';
import { nodeIds, resolveConfig, type PartialRunConfig, type RunConfig } from '../config.ts';
import type { TrailEntry } from '../world/world.ts';
import { meetsExpectation, type ScenarioExpectation } from '../../scenarios/types.ts';
import { nemesisSchedule, runSimulation, type RunOptions, type RunResult } from '../run.ts';
import { RAFTSIM_VERSION, TraceError, TRACE_FORMAT, TRACE_VERSION, type NodeChange, type Trace, type TraceEnd, type TraceEvent, type TraceHeader } from './format.ts';

export type RunSimulation = (options: RunOptions) => RunResult;

/** The config a trace stores: every default filled in and the fault schedule written out. */
export function completeConfig(config: PartialRunConfig | RunConfig, seed: number): RunConfig {
  const resolved = resolveConfig(config);
  const events = nemesisSchedule(resolved, seed, nodeIds(resolved));
  return { ...resolved, nemesis: { ...resolved.nemesis, kind: 'schedule', events } };
}

/**
 * Runs `body` with the `runSimulation` of the named mutant's tree (or the real one for null). The mutated copy
 * lives under `.mutants/` for the duration of the call.
 */
export async function withRunner<T>(mutant: string | null, body: (run: RunSimulation) => T | Promise<T>): Promise<T> {
  if (mutant === null) return body(runSimulation);
  const m = mutantNamed(mutant);
  if (m === undefined) throw new TraceError(`unknown mutant '${mutant}' (this raftsim does not have it; see sim/mutants/)`);
  const copy = materialize(m);
  try {
    const mod = await copy.import<{ runSimulation: RunSimulation }>('sim/run.ts');
    return await body(mod.runSimulation);
  } finally {
    copy.remove();
  }
}

/**
 * Per-node role, term and commit changes (and crashes, restarts) from the run's samples, and each removal from
 * the cluster (`removals`: node index and the time its process was stopped): the viewer's lanes.
 */
export function nodeChanges(samples: readonly NodeSample[], removals: ReadonlyArray<{ node: number; time: number }> = []): NodeChange[] {
  const last = new Map<number, NodeChange>();
  const out: NodeChange[] = [];
  for (const s of samples) {
    const prev = last.get(s.node);
    if (prev !== undefined && s.event === undefined && prev.role === s.role && prev.term === s.term && prev.commit === s.commitIndex) continue;
    const change: NodeChange = { node: s.node, time: s.time, role: s.role, term: s.term, commit: s.commitIndex };
    if (s.event !== undefined) change.event = s.event;
    last.set(s.node, change);
    out.push(change);
  }
  if (removals.length === 0) return out;
  // A removal keeps the member's last known view, like a crash marker, and sorts after samples at its instant.
  const marks = removals.map(({ node, time }): NodeChange => {
    const before = out.filter((c) => c.node === node && c.time <= time).at(-1);
    return { node, time, role: before?.role ?? 'follower', term: before?.term ?? 0, commit: before?.commit ?? 0, event: 'removed' };
  });
  return [...out, ...marks].sort((a, b) => a.time - b.time);
}

export function endRecord(result: RunResult, expectation: ScenarioExpectation, events: number): TraceEnd {
  const failure = result.linearizability.partitions.find((p) => p.failure)?.failure ?? null;
  return {
    events,
    hash: result.hash,
    simulatedMs: result.summary.simulatedMs,
    ok: result.ok,
    asExpected: meetsExpectation(expectation, result.verdicts),
    verdicts: result.verdicts.map((v) => ({ checker: v.checker, ok: v.ok, summary: v.summary })),
    nodes: result.nodes,
    faults: result.carriedOut,
    changes: nodeChanges(
      result.observations.samples,
      result.membershipChanges.flatMap((c) => (c.kind === 'remove' && c.appliedMs !== null ? [{ node: result.nodes.indexOf(c.node), time: c.appliedMs }] : [])),
    ),
    operations: result.history.ops,
    failure,
  };
}

export interface RecordRequest {
  scenario: string;
  seed: number;
  config: PartialRunConfig | RunConfig;
  expect: ScenarioExpectation;
  mutant?: string | null;
  onProgress?: RunOptions['onProgress'];
}

/** Runs once, keeping every event, and returns the trace and the run's full result. */
export async function recordTrace(request: RecordRequest): Promise<{ trace: Trace; result: RunResult }> {
  const config = completeConfig(request.config, request.seed);
  const mutant = request.mutant ?? null;
  const header: TraceHeader = {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    raftsim: RAFTSIM_VERSION,
    scenario: request.scenario,
    seed: request.seed,
    mutant,
    config,
    expect: request.expect,
  };
  const events: TraceEvent[] = [];
  const result = await withRunner(mutant, (run) =>
    run({ seed: request.seed, config, onProgress: request.onProgress, onEvent: (e: TrailEntry) => events.push({ time: e.time, text: e.text, hash: e.hash }) }),
  );
  return { trace: { header, events, end: endRecord(result, request.expect, events.length) }, result };
}

export interface Divergence {
  /** Index of the first event whose run hash differs (or which only one run has). */
  index: number;
  recorded: TraceEvent | null;
  replayed: TraceEvent | null;
}

export interface ReplayOutcome {
  /** Null when every event matched, the counts agree and the final hashes agree. */
  divergence: Divergence | null;
  /** Events the replay processed (it stops at the first divergence). */
  replayedEvents: number;
  /** The replayed run's verdicts; null when it stopped at a divergence. */
  result: RunResult | null;
  versionMismatch: boolean;
}

class Diverged extends Error {
  constructor(readonly divergence: Divergence) {
    super('diverged');
  }
}

/**
 * Re-runs a trace and compares the run hash after every event with the recorded one. Stops at the first
 * difference. `onProgress` hears the replayed event count about every 10,000 events.
 */
export async function replayTrace(trace: Trace, onProgress?: (events: number) => void): Promise<ReplayOutcome> {
  const { header } = trace;
  let i = 0;
  const onEvent = (e: TrailEntry): void => {
    const recorded = trace.events[i] ?? null;
    if (recorded === null || recorded.hash !== e.hash) {
      throw new Diverged({ index: i, recorded, replayed: { time: e.time, text: e.text, hash: e.hash } });
    }
    i++;
    if (onProgress !== undefined && i % 10_000 === 0) onProgress(i);
  };
  const versionMismatch = header.raftsim !== RAFTSIM_VERSION;
  try {
    const result = await withRunner(header.mutant, (run) => run({ seed: header.seed, config: header.config, onEvent }));
    if (i < trace.events.length) return { divergence: { index: i, recorded: trace.events[i]!, replayed: null }, replayedEvents: i, result, versionMismatch };
    if (result.hash !== trace.end.hash) return { divergence: { index: i, recorded: null, replayed: null }, replayedEvents: i, result, versionMismatch };
    return { divergence: null, replayedEvents: i, result, versionMismatch };
  } catch (err) {
    if (err instanceof Diverged) return { divergence: err.divergence, replayedEvents: i, result: null, versionMismatch };
    throw err;
  }
}
