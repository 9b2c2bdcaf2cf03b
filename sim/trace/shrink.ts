// Shrinking a failing trace: the smallest run we can find that still fails the same check.
//
// A trace pins a run as (config with its fault schedule written out, seed, mutant). Shrinking edits the config
// only: it removes fault events, cuts the run shorter, drops members, simplifies the workload and caps each
// client's operations, and keeps an edit when a full deterministic re-run (with the trace's mutant) still fails
// the target check. The seed never changes, so every candidate is itself a run anyone can replay.
//
// Every accepted edit makes some part of the config strictly smaller (fewer fault events, a shorter phase, fewer
// members, clients or operations) or moves a fault earlier on a 100 ms grid, so the search ends; it also stops at
// its budget of runs or wall time. It returns the smallest failing run it saw (by the size below), which is never
// bigger than the input.
//
// The size a shrink reports (docs/TRACE.md): fault events in the schedule plus client requests sent (operations,
// their retries, watches and listings). World events are reported too, but even a minimal Raft run has hundreds
// (elections, heartbeats, syncs), so they are not what a person reading the trace has to understand.
import { performance } from 'node:perf_hooks';
import type { CheckResult } from '../check/history.ts';
import { configProblems, nodeIds, type RunConfig, type WorkloadKind } from '../config.ts';
import type { RunResult } from '../run.ts';
import type { RunNemesisEvent } from '../world/nemesis.ts';
import { encodeTrace, type Trace } from './format.ts';
import { recordTrace, withRunner, type RunSimulation } from './record.ts';

/** The check a shrink keeps failing. */
export interface ShrinkTarget {
  checker: string;
}

export class NothingToShrink extends Error {
  override name = 'NothingToShrink';
}

/** Whether a run's verdicts show the target check failing with a violation (a timed-out search is no failure). */
export function failsTarget(target: ShrinkTarget, verdicts: readonly CheckResult[]): boolean {
  return verdicts.some((v) => v.checker === target.checker && !v.ok && v.violations.length > 0);
}

/**
 * The check to keep failing: the one asked for, else a violation-expecting trace's expected checker, else the
 * first failing one. Null when that check does not fail: there is nothing to shrink.
 */
export function chooseTarget(trace: Trace, verdicts: readonly CheckResult[], requested?: string): ShrinkTarget | null {
  const expect = trace.header.expect;
  const checker = requested ?? (expect.kind === 'violation' ? expect.checker : verdicts.find((v) => !v.ok && v.violations.length > 0)?.checker);
  if (checker === undefined) return null;
  return failsTarget({ checker }, verdicts) ? { checker } : null;
}

export interface RunSize {
  /** Fault events in the schedule (a fault and its recovery are two). */
  faults: number;
  /** Client workers (register, multi-key and queue clients, service instances, readers, watchers). */
  clients: number;
  /** Requests the clients sent: operations, retries, watches, listings. */
  requests: number;
  /** Operations in the history (the store's own expirations not counted). */
  operations: number;
  nodes: number;
  simulatedMs: number;
  /** Events the world processed (deliveries, timers, syncs, client inputs, faults). */
  events: number;
  /** The shrink measure: faults + requests. */
  size: number;
}

export function sizeOf(result: RunResult): RunSize {
  const faults = result.nemesis.filter((e) => e.atMs < result.config.durationMs + result.config.settleMs).length;
  const requests = result.summary.clients.requests;
  return {
    faults,
    clients: result.summary.clients.workers,
    requests,
    operations: result.summary.operations.total,
    nodes: result.config.nodes,
    simulatedMs: result.summary.simulatedMs,
    events: result.summary.events,
    size: faults + requests,
  };
}

export interface ShrinkOptions {
  /** The check to keep failing (default: the expected violation, else the first failing check). */
  checker?: string;
  /** Candidate runs at most (default 1000). */
  maxRuns?: number;
  /** Wall-clock budget in ms (default 5 minutes); checked between runs. */
  budgetMs?: number;
  /** Hears the target and the original run's size once the original run has been re-run and fails it. */
  onStart?: (target: ShrinkTarget, before: RunSize) => void;
  /** Hears each accepted step. */
  onStep?: (step: ShrinkStep) => void;
}

export interface ShrinkStep {
  /** What the accepted edit did, e.g. "faults 12 -> 4 events". */
  what: string;
  runs: number;
  size: RunSize;
}

export interface ShrinkResult {
  target: ShrinkTarget;
  /** The smallest failing run found, recorded as a trace. */
  trace: Trace;
  before: RunSize & { bytes: number };
  after: RunSize & { bytes: number };
  runs: number;
  steps: ShrinkStep[];
  wallMs: number;
  stoppedBy: 'done' | 'max-runs' | 'budget';
  /** The trace's own run no longer replays to its recorded hash (a changed tree); shrinking went on from the re-run. */
  originalDiverged: boolean;
}

class OutOfBudget extends Error {
  constructor(readonly reason: 'max-runs' | 'budget') {
    super(reason);
  }
}

interface Accepted {
  config: RunConfig;
  result: RunResult;
}

/**
 * Runs candidates and moves to each one that still fails the target. It also remembers the smallest failing run
 * seen (by size, then world events; a tie goes to the later, simpler config): a simpler config can make a bigger
 * run (fewer faults, so clients get more done), so the last accepted run is not always the smallest, and the
 * smallest is what a shrink returns.
 */
class Search {
  runs = 0;
  readonly steps: ShrinkStep[] = [];
  smallest: Accepted;
  /** Adopt only candidates whose run is no bigger than the current one. */
  strict = true;
  private readonly deadline: number;

  constructor(
    private readonly run: RunSimulation,
    private readonly seed: number,
    private readonly target: ShrinkTarget,
    private readonly maxRuns: number,
    budgetMs: number,
    public best: Accepted,
    private readonly onStep: ShrinkOptions['onStep'],
  ) {
    this.deadline = performance.now() + budgetMs;
    this.smallest = best;
  }

  /**
   * Re-runs `config`; adopts it when it still fails the target (and, with `noLarger`, when its run is no bigger
   * than the current one: for edits that are a means to a later cut, not simpler in themselves).
   */
  attempt(config: RunConfig, what: string, noLarger = false): boolean {
    if (this.runs >= this.maxRuns) throw new OutOfBudget('max-runs');
    if (performance.now() >= this.deadline) throw new OutOfBudget('budget');
    const candidate = withoutUnreachedFaults(config);
    if (configProblems(candidate).length > 0) return false;
    this.runs++;
    let result: RunResult;
    try {
      result = this.run({ seed: this.seed, config: candidate });
    } catch {
      // A candidate the (possibly mutated) simulator cannot run shows nothing about the target check.
      return false;
    }
    if (!failsTarget(this.target, result.verdicts)) return false;
    const size = sizeOf(result);
    if ((noLarger || this.strict) && size.size > sizeOf(this.best.result).size) return false;
    this.best = { config: candidate, result };
    const smallest = sizeOf(this.smallest.result);
    if (size.size < smallest.size || (size.size === smallest.size && size.events <= smallest.events)) this.smallest = this.best;
    const step = { what, runs: this.runs, size };
    this.steps.push(step);
    this.onStep?.(step);
    return true;
  }

  get config(): RunConfig {
    return this.best.config;
  }
}

// ---- fault schedules ----

/** Events at or after the end of the run never happen; dropping them changes nothing but the count. */
function withoutUnreachedFaults(config: RunConfig): RunConfig {
  const endMs = config.durationMs + config.settleMs;
  const events = config.nemesis.events;
  return events.every((e) => e.atMs < endMs) ? config : withEvents(config, events.filter((e) => e.atMs < endMs));
}

function withEvents(config: RunConfig, events: RunNemesisEvent[]): RunConfig {
  return { ...config, nemesis: { ...config.nemesis, kind: 'schedule', events } };
}

const field = (e: RunNemesisEvent, name: string): unknown => (e as unknown as Record<string, unknown>)[name];

/** Whether `later` undoes `fault` (a heal ends every partition; the others end their own node's fault). */
function undoes(fault: RunNemesisEvent, later: RunNemesisEvent): boolean {
  const sameNode = field(later, 'node') === field(fault, 'node');
  switch (fault.kind) {
    case 'isolate': case 'split': case 'bridge': case 'one-way':
      return later.kind === 'heal';
    case 'crash':
      return fault.restartAfterMs === undefined && later.kind === 'restart' && sameNode;
    case 'pause':
      return later.kind === 'resume' && sameNode;
    case 'clock-drift':
      return fault.ppm !== 0 && later.kind === 'clock-drift' && later.ppm === 0 && sameNode;
    case 'disk-slow':
      return fault.factor !== 1 && later.kind === 'disk-slow' && later.factor === 1 && sameNode;
    case 'disk-faults':
      return fault.on && later.kind === 'disk-faults' && !later.on && sameNode;
    case 'link':
      return later.kind === 'link-reset' && later.from === fault.from && later.to === fault.to;
    default:
      return false;
  }
}

/**
 * Groups a schedule's events into faults: each fault with the recovery that undoes it, and faults that start at
 * the same instant together (a degraded node's links in and out). Returns groups of event indexes, in order.
 */
export function faultUnits(events: readonly RunNemesisEvent[]): number[][] {
  const claimed = new Set<number>();
  const byStart = new Map<number, number[]>();
  const units: number[][] = [];
  events.forEach((e, i) => {
    if (claimed.has(i)) return;
    claimed.add(i);
    const unit = [i];
    const recovery = events.findIndex((later, j) => j > i && !claimed.has(j) && undoes(e, later));
    if (recovery >= 0) {
      claimed.add(recovery);
      unit.push(recovery);
    }
    const together = recovery >= 0 ? byStart.get(e.atMs) : undefined;
    if (together !== undefined) together.push(...unit);
    else {
      units.push(unit);
      if (recovery >= 0) byStart.set(e.atMs, unit);
    }
  });
  return units.map((u) => u.sort((a, b) => a - b));
}

/**
 * Delta debugging (Zeller's ddmin): the smallest subset of `items` for which `keep` holds that removing any one
 * chunk, down to single items, loses. `keep(subset)` is called only with proper subsets.
 */
function ddmin<T>(items: readonly T[], keep: (subset: T[]) => boolean, tryEmpty = true): T[] {
  let current = [...items];
  if (current.length === 0) return current;
  if (tryEmpty && keep([])) return [];
  let chunks = 2;
  while (current.length >= 2) {
    const size = Math.ceil(current.length / chunks);
    let reduced = false;
    for (let start = 0; start < current.length; start += size) {
      const complement = [...current.slice(0, start), ...current.slice(start + size)];
      if (complement.length < current.length && keep(complement)) {
        current = complement;
        chunks = Math.max(chunks - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (chunks >= current.length) break;
    chunks = Math.min(current.length, chunks * 2);
  }
  return current;
}

/**
 * The smallest value in [lo, hi] (on a grid of `step` from lo) that `fails` accepts, assuming `hi` fails; tries
 * `lo` first (a knob the failure does not need at all), then bisects. Failure need not be monotone in the knob:
 * the answer is always a value that was seen to fail (or `hi`).
 */
function bisectDown(lo: number, hi: number, step: number, fails: (value: number) => boolean): number {
  if (hi <= lo) return hi;
  if (fails(lo)) return lo;
  let low = 0; // in steps from lo; known not to fail
  let high = Math.ceil((hi - lo) / step); // known to fail (as hi)
  let best = hi;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    const value = lo + mid * step;
    if (value >= best) break;
    if (fails(value)) {
      high = mid;
      best = value;
    } else low = mid;
  }
  return best;
}

// ---- passes: each returns whether it accepted anything ----

function dropFaults(s: Search): boolean {
  const events = s.config.nemesis.events;
  if (events.length === 0) return false;
  const toEvents = (indexes: number[]): RunNemesisEvent[] => [...indexes].sort((a, b) => a - b).map((i) => events[i]!);
  // First whole faults (a fault with its recovery), then single events (a recovery, one link of a pair).
  ddmin(faultUnits(events), (units) => s.attempt(withEvents(s.config, toEvents(units.flat())), `faults ${events.length} -> ${units.flat().length} events`));
  const left = s.config.nemesis.events;
  if (left.length > 1) ddmin(left, (subset) => s.attempt(withEvents(s.config, subset), `faults ${left.length} -> ${subset.length} events`), false);
  return s.config.nemesis.events.length < events.length;
}

const TIME_STEP_MS = 100;

function shortenTime(s: Search): boolean {
  // Cutting the end keeps the run identical up to the cut: the cheapest big win, first.
  let changed = cutTheEnd(s);
  // Then move the faults earlier (keeping their spacing), and close the gaps between them one by one, so the
  // failure comes sooner and the end can be cut again. A move is kept only if the run does not grow.
  const events = s.config.nemesis.events;
  const first = Math.min(...events.map((e) => e.atMs));
  if (events.length > 0 && first > TIME_STEP_MS) {
    const startAt = bisectDown(TIME_STEP_MS, first, TIME_STEP_MS, (t) => s.attempt(withEvents(s.config, events.map((e) => ({ ...e, atMs: e.atMs - (first - t) }))), `faults start at ${t}ms instead of ${first}ms`, true));
    changed ||= startAt < first;
  }
  for (let i = 1; i < s.config.nemesis.events.length; i++) {
    const now = s.config.nemesis.events;
    const was = now[i]!.atMs;
    const moved = bisectDown(now[i - 1]!.atMs, was, TIME_STEP_MS, (t) => s.attempt(withEvents(s.config, now.map((e, j) => (j === i ? { ...e, atMs: t } : e))), `fault ${i + 1} at ${t}ms instead of ${was}ms`, true));
    changed ||= moved < was;
  }
  return cutTheEnd(s) || changed;
}

function cutTheEnd(s: Search): boolean {
  const duration = s.config.durationMs;
  const newDuration = bisectDown(TIME_STEP_MS, duration, TIME_STEP_MS, (d) => s.attempt({ ...s.config, durationMs: d }, `duration ${duration} -> ${d}ms`));
  const settle = s.config.settleMs;
  const newSettle = bisectDown(0, settle, TIME_STEP_MS, (d) => s.attempt({ ...s.config, settleMs: d }, `settle ${settle} -> ${d}ms`));
  return newDuration < duration || newSettle < settle;
}

/** The config with only the first `count` members; events naming a removed member go (lists lose it). */
export function withNodes(config: RunConfig, count: number): RunConfig {
  const removed = new Set(nodeIds(config).slice(count));
  const events: RunNemesisEvent[] = [];
  for (const e of config.nemesis.events) {
    let keep = true;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e)) {
      if (typeof v === 'string' && removed.has(v)) keep = false;
      else if (Array.isArray(v)) {
        const lists = v.every(Array.isArray);
        const kept = lists ? (v as unknown[][]).map((g) => g.filter((x) => !removed.has(x as string))).filter((g) => g.length > 0) : v.filter((x) => !removed.has(x as string));
        if (kept.length === 0 || (lists && kept.length < 2)) keep = false;
        out[k] = kept;
      } else out[k] = v;
    }
    if (keep) events.push(out as unknown as RunNemesisEvent);
  }
  return { ...withEvents(config, events), nodes: count };
}

function fewerNodes(s: Search): boolean {
  const nodes = s.config.nodes;
  for (let n = 1; n < nodes; n++) if (s.attempt(withNodes(s.config, n), `nodes ${nodes} -> ${n}`)) return true;
  return false;
}

const SINGLE_WORKLOADS: WorkloadKind[] = ['register', 'multi-key', 'queue', 'discovery'];

function simplerWorkload(s: Search): boolean {
  let changed = false;
  if (s.config.workload.kind === 'mixed') {
    changed = SINGLE_WORKLOADS.some((kind) => s.attempt({ ...s.config, workload: { ...s.config.workload, kind } }, `workload mixed -> ${kind}`));
  }
  // Reads and retries are requests too; a failure of the log or the store rarely needs them.
  const w = s.config.workload;
  if (w.readFraction > 0 && w.kind !== 'discovery' && w.kind !== 'queue') {
    changed = s.attempt({ ...s.config, workload: { ...w, readFraction: 0 } }, `workload.readFraction ${w.readFraction} -> 0`) || changed;
  }
  if (s.config.workload.retries > 0) {
    changed = s.attempt({ ...s.config, workload: { ...s.config.workload, retries: 0 } }, `workload.retries ${s.config.workload.retries} -> 0`) || changed;
  }
  return changed;
}

type CountKnob = 'clients' | 'instances' | 'watchers' | 'keys' | 'pinnedReaders';

/** Which counting knobs a workload kind reads (others change nothing, so shrinking them would waste runs). */
const KNOBS_OF: Record<WorkloadKind, CountKnob[]> = {
  register: ['clients', 'pinnedReaders'],
  queue: ['clients', 'pinnedReaders'],
  'multi-key': ['clients', 'watchers', 'keys', 'pinnedReaders'],
  discovery: ['instances', 'watchers', 'pinnedReaders'],
  mixed: ['clients', 'instances', 'watchers', 'keys', 'pinnedReaders'],
};

function fewerClients(s: Search): boolean {
  let changed = false;
  for (const knob of KNOBS_OF[s.config.workload.kind]) {
    const was = s.config.workload[knob];
    const lo = knob === 'keys' ? 1 : 0;
    const now = bisectDown(lo, was, 1, (v) => s.attempt({ ...s.config, workload: { ...s.config.workload, [knob]: v } }, `workload.${knob} ${was} -> ${v}`));
    changed ||= now < was;
  }
  return changed;
}

function fewerOperations(s: Search): boolean {
  // A cap above every client's count changes nothing: start from one more than all requests together.
  const was = s.config.workload.maxOpsPerClient ?? s.best.result.summary.clients.requests + 1;
  const now = bisectDown(1, was, 1, (v) => s.attempt({ ...s.config, workload: { ...s.config.workload, maxOpsPerClient: v } }, `workload.maxOpsPerClient ${s.config.workload.maxOpsPerClient ?? 'unset'} -> ${v}`));
  return now < was;
}

/** Cheap, run-shortening passes first: every later candidate then runs faster. */
const PASSES: Array<(s: Search) => boolean> = [dropFaults, shortenTime, fewerNodes, simplerWorkload, fewerClients, fewerOperations];

/**
 * Shrinks a failing trace. Throws NothingToShrink when the trace's run does not fail the target check (a
 * passing run, or a violation-expecting trace whose violation is not found), TraceError for an unknown mutant.
 */
export async function shrinkTrace(trace: Trace, options: ShrinkOptions = {}): Promise<ShrinkResult> {
  const started = performance.now();
  const { header } = trace;
  const shrunk = await withRunner(header.mutant, (run) => {
    const original = run({ seed: header.seed, config: header.config });
    const target = chooseTarget(trace, original.verdicts, options.checker);
    if (target === null) {
      const failing = original.verdicts.filter((v) => !v.ok).map((v) => v.checker);
      const wanted = options.checker ?? (header.expect.kind === 'violation' ? header.expect.checker : null);
      throw new NothingToShrink(
        wanted !== null
          ? `nothing to shrink: the run does not fail the ${wanted} check (${failing.length > 0 ? `it fails ${failing.join(', ')}` : 'every check holds'})`
          : 'nothing to shrink: every check holds in this run',
      );
    }
    options.onStart?.(target, sizeOf(original));
    const search = new Search(run, header.seed, target, options.maxRuns ?? 1000, options.budgetMs ?? 5 * 60_000, { config: header.config, result: original }, options.onStep);
    let stoppedBy: ShrinkResult['stoppedBy'] = 'done';
    try {
      // First a descent that never lets the run grow; then, from where it ended, one that may (dropping a
      // fault can let clients do more before the end is cut), keeping the smallest failing run of both.
      for (const strict of [true, false]) {
        search.strict = strict;
        search.best = search.smallest;
        for (let progress = true; progress; ) {
          progress = false;
          for (const pass of PASSES) progress = pass(search) || progress;
        }
      }
    } catch (err) {
      if (!(err instanceof OutOfBudget)) throw err;
      stoppedBy = err.reason;
    }
    return { target, original, search, stoppedBy };
  });
  const { target, original, search, stoppedBy } = shrunk;
  const best = search.smallest;
  const recorded = await recordTrace({ scenario: header.scenario, seed: header.seed, config: best.config, expect: header.expect, mutant: header.mutant });
  if (recorded.result.hash !== best.result.hash) {
    throw new Error(`shrink: recording the shrunk run gave run hash ${recorded.result.hash}, the accepted run had ${best.result.hash}: the simulator is nondeterministic`);
  }
  return {
    target,
    trace: recorded.trace,
    before: { ...sizeOf(original), bytes: encodeTrace(trace).length },
    after: { ...sizeOf(recorded.result), bytes: encodeTrace(recorded.trace).length },
    runs: search.runs,
    steps: search.steps,
    wallMs: performance.now() - started,
    stoppedBy,
    originalDiverged: original.hash !== trace.end.hash,
  };
}
