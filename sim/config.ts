// One run's configuration: plain data, so a named scenario is just an object (or a partial one merged over
// the defaults), and a run is a function of (config, seed). `resolveConfig` fills defaults and checks every
// field, giving one line per problem instead of a crash mid-run.
import type { DiskFaults } from './world/disk.ts';
import type { LatencyModel } from './world/latency.ts';
import { validateRunNemesis, type NemesisFamily, type RunNemesisEvent } from './world/nemesis.ts';
import { validateLatency } from './world/latency.ts';

export type WorkloadKind = 'register' | 'multi-key' | 'discovery' | 'queue' | 'mixed';

export interface WorkloadConfig {
  kind: WorkloadKind;
  /** Closed-loop client workers (each has at most one request outstanding). */
  clients: number;
  /** Mean pause between a reply and the client's next request (exponential), virtual ms; 0 means back to back, 1 ms apart. */
  thinkMs: number;
  /** A client gives up on a request after this long: a write is then indeterminate, a read failed. */
  timeoutMs: number;
  /** Times a client retries an operation that surely failed (another member each time) before moving on. */
  retries: number;
  /** Fraction of reads sent with quorum=true; the rest are default (possibly stale) reads. */
  quorumReads: number;
  /** Fraction of operations that are reads (register and multi-key). */
  readFraction: number;
  /** Keys of the multi-key workload. */
  keys: number;
  /** Service-discovery instances (each registers a key with a TTL and refreshes it). */
  instances: number;
  /** TTL of a registration (s) and the refresh period (ms). */
  ttlSeconds: number;
  refreshMs: number;
  /** Watchers following a prefix with waitIndex. */
  watchers: number;
  /** Per member, read-only clients of the register key that stay with that member whatever happens (so a
   * partitioned member's reads reach the history). */
  pinnedReaders: number;
  /** When set, each client worker (watchers and service instances too) issues at most this many operations,
   * retries not counted, then stops: `raftsim shrink` cuts a failing run's history down with it. */
  maxOpsPerClient?: number;
}

export interface NemesisConfig {
  /** `generated`: drawn from the nemesis stream; `schedule`: exactly these events; `none`: no faults. */
  kind: 'none' | 'generated' | 'schedule';
  meanGapMs: number;
  meanFaultMs: number;
  /** Relative weights of fault families (generated). */
  weights: Partial<Record<NemesisFamily, number>>;
  maxClockJumpMs: number;
  /** The schedule (`schedule`): node ids, or targets resolved when an event fires (see sim/world/nemesis.ts). */
  events: RunNemesisEvent[];
}

export interface RunConfig {
  /** Shown in summaries; a scenario's name. */
  name: string;
  nodes: number;
  /** Clients work and the nemesis acts for this long (virtual ms). */
  durationMs: number;
  /** Then faults are healed and clients finish their last requests for up to this long. */
  settleMs: number;
  /** Member clocks start here (ms since the epoch): etcd treats expiries before 2000 as no TTL at all. */
  epochMs: number;
  tickMs: number;
  network: { latency: LatencyModel; loss: number; duplicate: number; reorder: number };
  disk: { syncLatency: LatencyModel; faultsOn: boolean; faults: Partial<DiskFaults> };
  clocks: { maxOffsetMs: number; maxDriftPpm: number };
  raft: {
    electionTimeoutMs: number;
    heartbeatIntervalMs: number;
    preVote: boolean;
    checkQuorum: boolean;
    /** Entries per append message (flow control; the Raft core's default, 64, when absent). */
    maxEntriesPerMessage?: number;
  };
  replica: { requestTimeoutMs: number; expiryIntervalMs: number; snapshotEvery: number; forwardRetryMs: number };
  workload: WorkloadConfig;
  nemesis: NemesisConfig;
  checks: {
    /** Judge default (non-quorum) reads for linearizability too; etcd v2 does not promise it. */
    defaultReadsCount: boolean;
    /**
     * With `defaultReadsCount`, how stale a default read may be: it may return any value the key held from this
     * long before it was sent until it returned (bounded staleness). 0 demands linearizability; a follower's
     * ordinary replication lag needs a few hundred ms, a member cut off from the leader lags without bound.
     */
    defaultReadsStalenessMs: number;
    /**
     * Budget of the linearizability search in search steps (past it the verdict is `unknown`). Steps, not wall
     * time, so that a run's verdict, and its trace, are the same on any machine.
     */
    linearizabilityMaxSteps: number;
  };
}

/** A config with any part left out; nested objects merge over the defaults. */
export type PartialRunConfig = { [K in keyof RunConfig]?: RunConfig[K] extends object ? (RunConfig[K] extends unknown[] ? RunConfig[K] : Partial<RunConfig[K]>) : RunConfig[K] };

/** 2026-11-25T00:00:00Z. */
export const DEFAULT_EPOCH_MS = Date.UTC(2026, 10, 25);

export const DEFAULT_CONFIG: RunConfig = {
  name: 'default',
  nodes: 5,
  durationMs: 30_000,
  settleMs: 5_000,
  epochMs: DEFAULT_EPOCH_MS,
  tickMs: 10,
  network: { latency: { kind: 'lognormal', medianMs: 2, sigma: 0.5, maxMs: 50 }, loss: 0.01, duplicate: 0.01, reorder: 0.05 },
  disk: { syncLatency: { kind: 'lognormal', medianMs: 2, sigma: 0.6, maxMs: 100 }, faultsOn: false, faults: { corruptOnSync: 0 } },
  clocks: { maxOffsetMs: 50, maxDriftPpm: 100 },
  raft: { electionTimeoutMs: 300, heartbeatIntervalMs: 50, preVote: true, checkQuorum: true },
  replica: { requestTimeoutMs: 1500, expiryIntervalMs: 500, snapshotEvery: 1000, forwardRetryMs: 300 },
  workload: {
    kind: 'mixed',
    clients: 10,
    thinkMs: 20,
    timeoutMs: 2000,
    retries: 2,
    quorumReads: 0.7,
    readFraction: 0.5,
    keys: 8,
    instances: 3,
    ttlSeconds: 3,
    refreshMs: 1000,
    watchers: 2,
    pinnedReaders: 0,
  },
  nemesis: {
    kind: 'generated',
    meanGapMs: 3000,
    meanFaultMs: 1500,
    weights: { partition: 3, crash: 2, pause: 1, clock: 1, network: 2, disk: 1 },
    maxClockJumpMs: 2000,
    events: [],
  },
  checks: { defaultReadsCount: false, defaultReadsStalenessMs: 0, linearizabilityMaxSteps: 50_000_000 },
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function merge(base: RunConfig, patch: PartialRunConfig): RunConfig {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    const b = (base as unknown as Record<string, unknown>)[k];
    out[k] = b !== null && typeof b === 'object' && !Array.isArray(b) && typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...b, ...v } : v;
  }
  return out as unknown as RunConfig;
}

/**
 * The config a trace header carries, read by this raftsim: fields added since the trace was written take their
 * defaults and retired ones are dropped, so an old trace still replays. The result is checked by the caller.
 */
export function configFromTrace(written: PartialRunConfig): RunConfig {
  const config = merge(DEFAULT_CONFIG, written);
  if (config.checks === null || typeof config.checks !== 'object') return config;
  // Retired: a wall-clock budget made a run's verdict depend on the machine; the step budget replaced it.
  const { linearizabilityTimeoutMs: _retired, ...checks } = config.checks as RunConfig['checks'] & { linearizabilityTimeoutMs?: unknown };
  return { ...config, checks };
}

/** One line per problem; empty when the config is usable. */
export function configProblems(c: RunConfig): string[] {
  const problems: string[] = [];
  const int = (what: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) problems.push(`${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  };
  const num = (what: string, v: unknown, min: number, max: number): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) problems.push(`${what} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  };
  const latency = (what: string, v: unknown): void => {
    try {
      if (typeof v !== 'object' || v === null) throw new RangeError(`${what}: expected a latency model object`);
      validateLatency(v as LatencyModel, what);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  };
  if (typeof c.name !== 'string' || c.name.length === 0) problems.push('name must be a non-empty string');
  int('nodes', c.nodes, 1, 9);
  int('durationMs', c.durationMs, 1, 24 * 3600_000);
  int('settleMs', c.settleMs, 0, 3600_000);
  int('epochMs', c.epochMs, Date.UTC(2000, 0, 2));
  int('tickMs', c.tickMs, 1, 1000);
  latency('network.latency', c.network.latency);
  num('network.loss', c.network.loss, 0, 1);
  num('network.duplicate', c.network.duplicate, 0, 1);
  num('network.reorder', c.network.reorder, 0, 1);
  latency('disk.syncLatency', c.disk.syncLatency);
  if (typeof c.disk.faultsOn !== 'boolean') problems.push('disk.faultsOn must be true or false');
  for (const [k, v] of Object.entries(c.disk.faults ?? {})) num(`disk.faults.${k}`, v, 0, 1);
  num('clocks.maxOffsetMs', c.clocks.maxOffsetMs, 0, 3600_000);
  num('clocks.maxDriftPpm', c.clocks.maxDriftPpm, 0, 500_000);
  int('raft.electionTimeoutMs', c.raft.electionTimeoutMs, 1);
  int('raft.heartbeatIntervalMs', c.raft.heartbeatIntervalMs, 1);
  if (c.raft.heartbeatIntervalMs >= c.raft.electionTimeoutMs) problems.push('raft.heartbeatIntervalMs must be below raft.electionTimeoutMs');
  if (c.raft.maxEntriesPerMessage !== undefined) int('raft.maxEntriesPerMessage', c.raft.maxEntriesPerMessage, 1, 1_000_000);
  int('replica.requestTimeoutMs', c.replica.requestTimeoutMs, 1);
  int('replica.expiryIntervalMs', c.replica.expiryIntervalMs, 1);
  int('replica.snapshotEvery', c.replica.snapshotEvery, 1);
  int('replica.forwardRetryMs', c.replica.forwardRetryMs, 1);
  const w = c.workload;
  if (!['register', 'multi-key', 'discovery', 'queue', 'mixed'].includes(w.kind)) problems.push(`workload.kind must be register, multi-key, discovery, queue or mixed, got ${JSON.stringify(w.kind)}`);
  int('workload.clients', w.clients, 0, 10_000);
  num('workload.thinkMs', w.thinkMs, 0, 3600_000);
  int('workload.timeoutMs', w.timeoutMs, 1);
  int('workload.retries', w.retries, 0, 100);
  num('workload.quorumReads', w.quorumReads, 0, 1);
  num('workload.readFraction', w.readFraction, 0, 1);
  int('workload.keys', w.keys, 1, 100_000);
  int('workload.instances', w.instances, 0, 1000);
  int('workload.ttlSeconds', w.ttlSeconds, 1, 3600);
  int('workload.refreshMs', w.refreshMs, 1);
  int('workload.watchers', w.watchers, 0, 1000);
  int('workload.pinnedReaders', w.pinnedReaders, 0, 100);
  if (w.maxOpsPerClient !== undefined) int('workload.maxOpsPerClient', w.maxOpsPerClient, 1);
  const n = c.nemesis;
  if (!['none', 'generated', 'schedule'].includes(n.kind)) problems.push(`nemesis.kind must be none, generated or schedule, got ${JSON.stringify(n.kind)}`);
  num('nemesis.meanGapMs', n.meanGapMs, 1, 1e9);
  num('nemesis.meanFaultMs', n.meanFaultMs, 1, 1e9);
  num('nemesis.maxClockJumpMs', n.maxClockJumpMs, 0, 1e9);
  for (const [k, v] of Object.entries(n.weights ?? {})) {
    if (!['partition', 'crash', 'pause', 'clock', 'disk', 'network'].includes(k)) problems.push(`nemesis.weights: unknown fault family ${JSON.stringify(k)}`);
    else num(`nemesis.weights.${k}`, v, 0, 1e6);
  }
  if (!Array.isArray(n.events)) problems.push('nemesis.events must be a list');
  else if (n.kind === 'schedule' && Number.isInteger(c.nodes)) problems.push(...validateRunNemesis(n.events, nodeIds(c)).map((p) => `nemesis.events: ${p}`));
  int('checks.defaultReadsStalenessMs', c.checks.defaultReadsStalenessMs, 0, 3_600_000);
  int('checks.linearizabilityMaxSteps', c.checks.linearizabilityMaxSteps, 1);
  return problems;
}

/** The defaults with `patch` merged in (one level deep), checked; throws ConfigError with the first problem. */
export function resolveConfig(patch: PartialRunConfig = {}, base: RunConfig = DEFAULT_CONFIG): RunConfig {
  const config = merge(base, patch);
  const problems = configProblems(config);
  if (problems.length > 0) throw new ConfigError(`run config: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`);
  return config;
}

export function nodeIds(config: RunConfig): string[] {
  return Array.from({ length: config.nodes }, (_, i) => `n${i + 1}`);
}
