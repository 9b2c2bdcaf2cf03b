// One simulated run: a cluster of replicas in the virtual world, closed-loop clients, a nemesis, then every
// checker over what happened. A run is a function of (config, seed): the same pair gives the same events, byte
// for byte, and so the same run hash.
import { performance } from 'node:perf_hooks';
import { checkHistory, type LinearizabilityResult } from './check/linearizability.ts';
import { etcdModel } from './check/models/etcd.ts';
import { checkRaftSafety } from './check/raft-safety.ts';
import { renderReport } from './check/report.ts';
import { checkLiveness } from './check/liveness.ts';
import { checkTtl } from './check/ttl.ts';
import { checkWatches } from './check/watch.ts';
import {
  resultOf,
  type AckedWrite,
  type CheckResult,
  type CommittedEvent,
  type EntryRef,
  type EtcdInput,
  type EtcdOutput,
  type History,
  type NodeSample,
  type Operation,
  type RaftObservations,
  type Violation,
  type WatchRecord,
} from './check/history.ts';
import { ClientPool, type ClientStats, type MemberProbe } from './clients/pool.ts';
import { queueOrderProblems } from './clients/workloads.ts';
import { nodeIds, resolveConfig, type PartialRunConfig, type RunConfig } from './config.ts';
import { peerCodec, replicaProgram, type DriverInput, type DriverOutput, type DriverSample, type DriverState } from './driver/replica-program.ts';
import type { PeerMessage } from '../core/replica/index.ts';
import type { StoreEvent } from '../core/kv/index.ts';
import { MembershipClient, type MembershipChangeRecord } from './clients/membership.ts';
import { installRunNemesis, type FiredNemesis } from './nemesis-targets.ts';
import { describeRunNemesis, generateNemesis, needsRun, type NemesisEvent, type RunNemesisEvent } from './world/nemesis.ts';
import { maxLatencyMs, medianLatencyMs } from './world/latency.ts';
import { RandomStreams } from './world/random.ts';
import { NodeProgramError, World, type MessageCodec, type TrailEntry, type WorldSummary } from './world/world.ts';

export interface RunOptions {
  seed: number;
  /** The config, or a partial one merged over the defaults. */
  config?: PartialRunConfig | RunConfig;
  /** Keep a one-line trail of every event (for `firstDivergence`); costs memory. */
  trail?: boolean;
  /** Called about once per simulated second. */
  onProgress?: (p: RunProgress) => void;
  /** Sees the world before it runs (tests schedule probes with `world.at`). */
  onWorld?: (world: SimWorld) => void;
  /** Hears every processed event with its description and the run hash after it (trace recording). */
  onEvent?: (entry: TrailEntry) => void;
  /** Replaces the peer-message codec (tests wrap it to watch the wire). */
  codec?: MessageCodec<PeerMessage>;
}

export type SimWorld = World<DriverState, PeerMessage, DriverInput, DriverOutput>;

export interface RunProgress {
  simMs: number;
  endMs: number;
  events: number;
  ops: number;
  wallMs: number;
}

export interface RunSummary {
  name: string;
  seed: number;
  nodes: number;
  operations: { ok: number; fail: number; info: number; total: number };
  clients: ClientStats & { workers: number };
  leaderChanges: number;
  faults: Record<string, number>;
  messages: { sent: number; delivered: number; dropped: number; duplicated: number };
  crashes: number;
  /** Members that refused to start (a corrupt WAL). */
  refusedToStart: number;
  simulatedMs: number;
  wallMs: number;
  events: number;
  eventsPerSecond: number;
  speedup: number;
  hash: string;
  verdicts: Array<{ checker: string; ok: boolean; summary: string }>;
  /** Schedules with targets or run-only actions: one line per event, what it hit (see `RunResult.fired`). */
  targeted?: string[];
}

export interface RunResult {
  config: RunConfig;
  seed: number;
  ok: boolean;
  hash: string;
  history: History<EtcdInput, EtcdOutput>;
  observations: RaftObservations;
  committedEvents: CommittedEvent[];
  watches: WatchRecord[];
  nemesis: RunNemesisEvent[];
  /** Every fault as it was carried out: the time it fired and the node ids it hit (targets resolved). */
  carriedOut: RunNemesisEvent[];
  /** Every member of the run in observation-index order: the initial ones, then those the nemesis added. */
  nodes: string[];
  /** A schedule with targets or run-only actions: each event as it was carried out (empty otherwise). */
  fired: FiredNemesis[];
  /** Membership changes the nemesis asked for, and when each took effect. */
  membershipChanges: MembershipChangeRecord[];
  linearizability: LinearizabilityResult;
  verdicts: CheckResult[];
  summary: RunSummary;
  /** A self-contained HTML page explaining the first non-linearizable key, when there is one. */
  report: { key: string; html: string } | null;
  trail: TrailEntry[] | undefined;
  world: WorldSummary;
}

/** The client id under which the store's own expirations enter the history. */
const EXPIRY_CLIENT = 1_000_000;

function committedEventOf(e: StoreEvent): CommittedEvent {
  const out: CommittedEvent = { index: e.node.modifiedIndex, key: e.node.key, action: e.action };
  if (e.node.value !== null && e.action !== 'delete' && e.action !== 'expire' && e.action !== 'compareAndDelete') out.value = e.node.value;
  if (e.node.dir) out.dir = true;
  if (e.refresh) out.refresh = true;
  return out;
}

function sameEvent(a: CommittedEvent, b: CommittedEvent): boolean {
  return a.key === b.key && a.action === b.action && a.value === b.value && a.refresh === b.refresh;
}

/** The nemesis schedule a config asks for; generated ones come from the `nemesis` stream only. */
export function nemesisSchedule(config: RunConfig, seed: number, nodes: readonly string[]): RunNemesisEvent[] {
  const n = config.nemesis;
  if (n.kind === 'none') return [];
  if (n.kind === 'schedule') return n.events;
  return generateNemesis(new RandomStreams(seed).stream('nemesis'), {
    nodes,
    startMs: 1000,
    endMs: config.durationMs,
    meanGapMs: n.meanGapMs,
    meanFaultMs: n.meanFaultMs,
    weights: n.weights,
    maxClockJumpMs: n.maxClockJumpMs,
  });
}

/** A run schedule as it was carried out: when each event really fired (targets may wait), with the nodes it hit. */
function asCarriedOut(schedule: readonly RunNemesisEvent[], fired: readonly FiredNemesis[]): RunNemesisEvent[] {
  if (fired.length === 0) return [...schedule];
  return schedule.flatMap((e, i) => {
    const f = fired[i]!;
    return f.firedMs === null ? [] : [{ ...e, ...f.actions[0], atMs: f.firedMs } as RunNemesisEvent];
  });
}

/** Periods in which a fault may have left the cluster without a leader able to commit, padded by an election. */
function disruptedPeriods(schedule: readonly RunNemesisEvent[], padMs: number, endMs: number): Array<{ from: number; to: number }> {
  const periods: Array<{ from: number; to: number }> = [];
  schedule.forEach((e, i) => {
    const undone = (pred: (x: RunNemesisEvent) => boolean): number => schedule.slice(i + 1).find(pred)?.atMs ?? endMs;
    let to: number | null = null;
    switch (e.kind) {
      case 'isolate': case 'split': case 'bridge': case 'one-way':
        to = undone((x) => x.kind === 'heal');
        break;
      case 'crash':
        to = e.restartAfterMs !== undefined ? e.atMs + e.restartAfterMs : undone((x) => x.kind === 'restart' && x.node === e.node);
        break;
      case 'pause':
        to = undone((x) => x.kind === 'resume' && x.node === e.node);
        break;
      case 'link':
        to = undone((x) => x.kind === 'link-reset');
        break;
      case 'disk-slow':
        if (e.factor > 1) to = undone((x) => x.kind === 'disk-slow' && x.node === e.node);
        break;
      case 'clock-jump': case 'clock-drift': case 'member-add': case 'member-remove':
        to = e.atMs;
        break;
      default:
        break;
    }
    if (to !== null) periods.push({ from: e.atMs, to: to + padMs });
  });
  return periods;
}

/**
 * When the last fault was undone and its last effect gone (0 with none); null when one never is, or a membership
 * change never took effect. A slow link's messages outlive its reset: a FIFO link delivers nothing sent after
 * them until they arrive, so the link is not healed until its slowest possible message is in.
 */
function lastFaultUndoneMs(carriedOut: readonly RunNemesisEvent[], changes: readonly MembershipChangeRecord[]): number | null {
  let end = 0;
  carriedOut.forEach((e, i) => {
    if (e.kind !== 'link') return;
    const reset = carriedOut.slice(i + 1).find((x) => x.kind === 'link-reset')?.atMs ?? Infinity;
    end = Math.max(end, reset + (e.config.latency === undefined ? 0 : maxLatencyMs(e.config.latency)));
  });
  for (const p of disruptedPeriods(carriedOut, 0, Infinity)) end = Math.max(end, p.to);
  for (const c of changes) end = Math.max(end, c.appliedMs ?? Infinity);
  return Number.isFinite(end) ? end : null;
}

function describeFired(f: FiredNemesis, changes: readonly MembershipChangeRecord[]): string {
  if (f.firedMs === null) return `t=${f.scheduledMs} ${f.text}: never fired (${f.note ?? 'run ended'})`;
  const member = f.actions.find((a) => a.kind === 'member-add' || a.kind === 'member-remove') as { kind: string; node: string } | undefined;
  const change = member && changes.find((c) => `member-${c.kind}` === member.kind && c.node === member.node && c.requestedMs === f.firedMs);
  const applied = change === undefined ? '' : change.appliedMs === null ? '; never applied' : `; in the configuration at ${Math.round(change.appliedMs)} ms`;
  const did = f.actions.map((a) => describeRunNemesis(a)).join(', ');
  const leader = f.leader === null ? 'no leader' : `leader ${f.leader.id}, term ${f.leader.term}`;
  const inFlight = f.inFlight === undefined ? '' : `; write ${f.inFlight.index} in flight (commit ${f.inFlight.commit}, on ${f.inFlight.holders.join(',')})`;
  return `t=${Math.round(f.firedMs)} ${f.text} -> ${did} (${leader}${inFlight}${applied})${f.note === undefined ? '' : `; ${f.note}`}`;
}

/** Runs one simulation and judges it. Throws ConfigError (one line) on a bad config. */
export function runSimulation(options: RunOptions): RunResult {
  const config = resolveConfig(options.config ?? {});
  const seed = options.seed;
  const ids = nodeIds(config);
  const endMs = config.durationMs + config.settleMs;
  const schedule = nemesisSchedule(config, seed, ids);
  const setupStreams = new RandomStreams(seed);
  const clocks = Object.fromEntries(
    ids.map((id) => {
      const rng = setupStreams.stream(`clock/${id}`);
      const offset = Math.round(rng.uniform(-config.clocks.maxOffsetMs, config.clocks.maxOffsetMs));
      const drift = Math.round(rng.uniform(-config.clocks.maxDriftPpm, config.clocks.maxDriftPpm));
      return [id, { offsetMs: config.epochMs + offset, driftPpm: drift }];
    }),
  );
  const program = replicaProgram({
    voters: ids,
    tickMs: config.tickMs,
    replica: {
      raft: { ...config.raft, seed },
      requestTimeoutMs: config.replica.requestTimeoutMs,
      expiryIntervalMs: config.replica.expiryIntervalMs,
      snapshotEvery: config.replica.snapshotEvery,
      forwardRetryMs: config.replica.forwardRetryMs,
    },
  });

  // ---- observation state ----
  const samples: NodeSample[] = [];
  const logs: EntryRef[][] = ids.map(() => []);
  const firstSeen = new Map<string, number>();
  const committed = new Map<number, CommittedEvent>();
  const agreement: Violation[] = [];
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  // Members added by the nemesis get the next indexes.
  const indexFor = (id: string): number => {
    let i = indexOf.get(id);
    if (i === undefined) {
      indexOf.set(id, (i = indexOf.size));
      logs.push([]);
    }
    return i;
  };
  let leaderChanges = 0;
  let lastLeaderTerm = 0;
  let refusedToStart = 0;
  let pool: ClientPool | null = null;
  let membership: MembershipClient | null = null;
  const expiries: Array<{ key: string; index: number; call: number; ret: number }> = [];

  const observeSample = (node: number, s: DriverSample, time: number): void => {
    const sample: NodeSample = { node, time, ...s };
    samples.push(sample);
    if (s.log) {
      const log = logs[node]!;
      log.length = Math.min(log.length, s.log.from - 1);
      let index = s.log.from;
      for (const ref of s.log.entries) {
        log[index - 1] = ref;
        const key = `${index}/${ref[0]}`;
        if (!firstSeen.has(key)) firstSeen.set(key, time);
        index++;
      }
    }
    if (s.role === 'leader' && s.term > lastLeaderTerm) {
      lastLeaderTerm = s.term;
      leaderChanges++;
    }
  };

  const onOutput = (id: string, out: DriverOutput, time: number): void => {
    const node = indexFor(id);
    switch (out.kind) {
      case 'sample':
        return observeSample(node, out.sample, time);
      case 'reply': {
        if (membership!.owns(out.token)) return membership!.onReply(out.token, out.reply);
        const acked = pool!.onReply(out.token, out.reply, out.entry);
        if (acked !== null) acked.digest = logs[node]![acked.raftIndex - 1]?.[1] ?? '(not in the member log)';
        return;
      }
      case 'refused':
        return membership!.owns(out.token) ? membership!.onRefused(out.token) : pool!.onRefused(out.token);
      case 'boot':
        if (out.halted !== null) refusedToStart++;
        if (out.incarnation > 1) samples.push({ ...lastSampleOf(node, time), event: 'crash' });
        return;
      case 'applied': {
        const expireEntries = out.entries.filter((e) => e.kind === 'expire');
        for (const e of out.events) {
          const c = committedEventOf(e);
          const known = committed.get(c.index);
          if (known === undefined) {
            committed.set(c.index, c);
            if (e.action === 'expire') {
              const entry = expireEntries.find((x) => x.storeIndex >= c.index);
              const call = entry === undefined ? time : firstSeen.get(`${entry.index}/${entry.term}`) ?? time;
              expiries.push({ key: c.key, index: c.index, call: Math.min(call, time), ret: time });
            }
          } else if (!sameEvent(known, c) && agreement.length < 20) {
            agreement.push({
              property: 'event-agreement',
              explanation: `store index ${c.index}: ${id} applied ${c.action} ${c.key}, another member ${known.action} ${known.key}`,
            });
          }
        }
        return;
      }
    }
  };

  // The crash marker repeats the node's last known view: a crash itself changes nothing but ends the incarnation.
  const lastSampleOf = (node: number, time: number): NodeSample => {
    for (let i = samples.length - 1; i >= 0; i--) {
      const s = samples[i]!;
      if (s.node === node) return { node, time, role: s.role, term: s.term, commitIndex: s.commitIndex, lastIndex: s.lastIndex, applied: s.applied };
    }
    return { node, time, role: 'follower', term: 0, commitIndex: 0, lastIndex: 0, applied: 0 };
  };

  const world = new World(program, {
    seed,
    nodes: ids,
    codec: options.codec ?? peerCodec,
    network: { defaultLink: config.network },
    disk: { syncLatency: config.disk.syncLatency, faultsOn: config.disk.faultsOn, faults: config.disk.faults },
    clocks,
    // Targets and run-only actions are carried out by installRunNemesis below; a plain schedule goes to the world.
    nemesis: needsRun(schedule) ? [] : (schedule as NemesisEvent[]),
    trail: options.trail,
    onEvent: options.onEvent,
    onOutput: onOutput,
    onInputDropped: (_id, input) => {
      if (input.kind === 'cancel') return;
      if (membership!.owns(input.token)) membership!.onRefused(input.token);
      else pool!.onRefused(input.token);
    },
  });
  const probe: MemberProbe = (id) => {
    const replica = world.status(id) === 'running' ? world.state(id)?.replica : undefined;
    return replica ? { interruptions: world.interruptions(id), appliedIndex: replica.replicated.store.index } : null;
  };
  pool = new ClientPool(world, ids, config, world.streams, config.durationMs, probe);
  membership = new MembershipClient(world, endMs);
  const clients = pool;
  const fired = needsRun(schedule)
    ? installRunNemesis(world, schedule, { membership, crashInstance: (i, after) => clients.crashInstance(i, after), untilMs: config.durationMs })
    : [];
  pool.start();
  options.onWorld?.(world);

  // ---- run ----
  const wallStart = performance.now();
  // A node program that throws (the Raft core's own invariant checks, or any other bug it trips over) ends the
  // run there: that is a finding, judged with everything observed up to it, not a crash of the simulator.
  let halted: string | null = null;
  try {
    for (let t = 0; t < endMs; ) {
      t = Math.min(endMs, t + 1000);
      world.run({ untilMs: t });
      options.onProgress?.({ simMs: t, endMs, events: world.events, ops: pool.stats.ok + pool.stats.fail + pool.stats.info, wallMs: performance.now() - wallStart });
    }
  } catch (err) {
    if (!(err instanceof NodeProgramError)) throw err;
    halted = err.message;
  }
  const wallMs = performance.now() - wallStart;

  // ---- judge ----
  for (const x of expiries) {
    const id = pool.recorder.invoke(EXPIRY_CLIENT, x.key, { f: 'expire' }, x.call);
    pool.recorder.complete(id, 'ok', { index: x.index }, x.ret);
  }
  const history = pool.history(world.now);
  const linearOps: Operation<EtcdInput, EtcdOutput>[] = config.checks.defaultReadsCount
    ? history.ops.map((op) =>
        op.input.f === 'get' && op.input.quorum === false ? { ...op, input: { f: 'get' }, call: Math.max(0, op.call - config.checks.defaultReadsStalenessMs) } : op,
      )
    : history.ops;
  const linearizability = checkHistory({ model: 'etcd', ops: linearOps }, { maxSteps: config.checks.linearizabilityMaxSteps });
  const linearCheck: CheckResult = {
    checker: 'linearizability',
    ok: linearizability.verdict === 'linearizable',
    violations: linearizability.verdict === 'non-linearizable' ? [{ property: 'linearizability', explanation: linearizability.explanation }] : [],
    summary: `linearizability: ${linearizability.verdict} (${linearizability.explanation})`,
  };
  let report: RunResult['report'] = null;
  const failure = linearizability.partitions.find((p) => p.failure)?.failure;
  if (failure) {
    report = { key: failure.key, html: renderReport({ title: `raftsim run ${config.name} seed ${seed}: key ${failure.key}`, model: etcdModel, ops: linearOps, failure }) };
  }

  const observations: RaftObservations = { samples, acked: pool.acked.map(({ member: _m, ...a }) => a as AckedWrite) };
  const raft = checkRaftSafety(observations);
  const electionMs = config.raft.electionTimeoutMs;
  // The clock error is measured, not bounded from the config: the spread of every member's skew (reading minus
  // virtual time) over the whole run, offsets, drift and the jumps that really fired included, plus the ticks
  // by which a member's reading lags its clock and the millisecond a reading floors away.
  const skews = [...indexOf.keys()].map((id) => world.clock(id).skewRange(world.now));
  const clockErrorMs = Math.ceil((Math.max(...skews.map((r) => r.max)) - Math.min(...skews.map((r) => r.min)) + 2 * config.tickMs + 1) * 10) / 10;
  const ttl = checkTtl(history.ops, {
    expiryTickMs: config.replica.expiryIntervalMs + 2 * electionMs + config.replica.requestTimeoutMs,
    clockErrorMs,
    leaderless: disruptedPeriods(asCarriedOut(schedule, fired), 3 * electionMs + config.replica.expiryIntervalMs, endMs),
    observedUntilMs: world.now,
  });
  const committedEvents = [...committed.values()].sort((a, b) => a.index - b.index);
  const watches: WatchRecord[] = pool.watchLogs.map((w) => {
    const r: WatchRecord = {
      watcher: w.watcher,
      key: w.key,
      recursive: w.recursive,
      waitIndex: w.waitIndex,
      stream: false,
      sent: w.sent,
      received: w.received.map(({ event, time }) => ({ ...committedEventOf(event), time })),
    };
    if (w.cleared) r.cleared = w.cleared;
    if (w.drainedThrough !== undefined) r.drainedThrough = w.drainedThrough;
    return r;
  });
  const watch = checkWatches(committedEvents, watches, { historyCapacity: 1000 });
  const storeAgreement = resultOf('store-agreement', agreement, `${committedEvents.length} committed event(s) agree across members`);
  const queue = queueOrderProblems(pool.listings);
  const queueCheck = resultOf(
    'queue-order',
    queue.map((explanation) => ({ property: 'queue-order', explanation })),
    `${pool.listings.length} queue listing(s) in creation order`,
  );
  const invariants = resultOf(
    'invariants',
    halted === null ? [] : [{ property: 'node-invariant', explanation: `the run stopped at t=${Math.round(world.now)} ms: ${halted}` }],
    'no member reached a state its own checks call impossible',
  );
  const finalVoters = [...indexOf.keys()].filter((id) => {
    const changes = membership!.changes.filter((c) => c.node === id);
    return !changes.some((c) => c.kind === 'remove' && c.appliedMs !== null) && !changes.some((c) => c.kind === 'add' && c.appliedMs === null);
  });
  const liveness = checkLiveness({
    samples,
    members: finalVoters.filter((id) => world.status(id) === 'running' && world.state(id)?.halted === null).map((id) => ({ node: indexOf.get(id)!, name: id })),
    voters: finalVoters.length,
    faultsEndMs: lastFaultUndoneMs(asCarriedOut(schedule, fired), membership.changes),
    endMs: world.now,
    minQuietMs: 5 * electionMs,
    catchUpMs: electionMs,
    stoppedEarly: halted !== null,
    timing: { electionTimeoutMs: electionMs, broadcastMs: 2 * medianLatencyMs(config.network.latency) + medianLatencyMs(config.disk.syncLatency) },
  });
  const verdicts = [linearCheck, raft, ttl, watch, storeAgreement, queueCheck, invariants, liveness];
  const ok = verdicts.every((v) => v.ok);

  const ws = world.summary();
  const faults: Record<string, number> = {};
  for (const e of schedule) if (e.atMs <= endMs) faults[e.kind] = (faults[e.kind] ?? 0) + 1;
  const count = (o: 'ok' | 'fail' | 'info'): number => history.ops.filter((op) => op.outcome === o && op.client !== EXPIRY_CLIENT).length;
  const summary: RunSummary = {
    name: config.name,
    seed,
    nodes: config.nodes,
    operations: { ok: count('ok'), fail: count('fail'), info: count('info'), total: history.ops.filter((op) => op.client !== EXPIRY_CLIENT).length },
    clients: { ...pool.stats, workers: pool.workers },
    leaderChanges,
    faults,
    messages: {
      sent: ws.network.sent,
      delivered: ws.network.delivered,
      dropped: ws.network.lost + ws.network.blocked + ws.network.undeliverable,
      duplicated: ws.network.duplicated,
    },
    crashes: ws.nodes.reduce((s, n) => s + n.crashes, 0),
    refusedToStart,
    simulatedMs: world.now,
    wallMs: Math.round(wallMs),
    events: world.events,
    eventsPerSecond: Math.round(world.events / Math.max(wallMs / 1000, 1e-9)),
    speedup: Math.round((world.now / Math.max(wallMs, 1e-9)) * 10) / 10,
    hash: world.runHash(),
    verdicts: verdicts.map((v) => ({ checker: v.checker, ok: v.ok, summary: v.summary })),
  };
  if (fired.length > 0) summary.targeted = fired.map((f) => describeFired(f, membership!.changes));
  return {
    config,
    seed,
    ok,
    hash: world.runHash(),
    history,
    observations,
    committedEvents,
    watches,
    nemesis: schedule,
    carriedOut: fired.length === 0 ? [...schedule] : fired.flatMap((f) => (f.firedMs === null ? [] : f.actions.map((a) => ({ ...a, atMs: f.firedMs! }) as RunNemesisEvent))),
    nodes: [...indexOf.keys()],
    fired,
    membershipChanges: membership.changes,
    linearizability,
    verdicts,
    summary,
    report,
    trail: world.trail,
    world: ws,
  };
}
