// Jepsen mode: the simulator's client workloads over real HTTP against a running etcd-v2 cluster (raftsim's own
// or etcd 3.4 with the v2 API), optionally under real faults (kill -9 and restart, SIGSTOP and SIGCONT) on
// members this process started, then the simulator's checkers over the recorded history.
//
// One run: start the cluster (or take the endpoints given) -> wait until a quorum read succeeds -> clients and
// faults for `durationMs` -> heal every fault -> let outstanding requests finish or time out -> one quorum read
// of every key the history touched (what the durability check relies on) -> check -> stop what was started.
import { performance } from 'node:perf_hooks';
import { keysRequest } from '../../core/api/index.ts';
import { checkAckedWrites } from '../../sim/check/durability.ts';
import { resultOf, type CheckResult, type EtcdInput, type EtcdOutput, type History } from '../../sim/check/history.ts';
import { checkHistory, type LinearizabilityResult } from '../../sim/check/linearizability.ts';
import { etcdModel } from '../../sim/check/models/etcd.ts';
import { renderReport } from '../../sim/check/report.ts';
import { ClientPool, outcomeOf, type ClientStats } from '../../sim/clients/pool.ts';
import { queueOrderProblems } from '../../sim/clients/workloads.ts';
import { resolveConfig, type WorkloadConfig } from '../../sim/config.ts';
import { RandomStreams } from '../../sim/world/random.ts';
import { etcdVersion, findEtcdBinary, freeLoopbackPort, LocalCluster } from '../cluster.ts';
import { FaultRunner, planFaults, type FaultKind, type FaultRecord } from './faults.ts';
import { V2HttpClient } from './http.ts';
import { RealTimeClientWorld } from './world.ts';

/** Workloads whose every operation the checkers can judge over HTTP (no TTLs, no watches). */
export const JEPSEN_WORKLOADS = ['register', 'multi-key', 'queue', 'mixed'] as const;
export type JepsenWorkload = (typeof JEPSEN_WORKLOADS)[number];

export interface JepsenClusterOptions {
  kind: 'raftsim' | 'etcd';
  size: number;
  /** Member i listens on basePort + 2i (clients) and + 2i + 1 (peers); default: ports the kernel hands out. */
  basePort?: number;
  /** Parent of the members' data dirs (kept); default a temp dir removed at the end. */
  dataDir?: string;
  /** etcd binary (default: $ETCD_BIN, PATH, the usual places). */
  etcdBin?: string;
  /** raftsim: run members from this bin/main.ts (a mutated copy, in tests). */
  entry?: string;
  heartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
}

export interface JepsenOptions {
  /** An existing cluster's client URLs (faults are then refused), or `cluster` to start one. */
  endpoints?: string[];
  cluster?: JepsenClusterOptions;
  durationMs: number;
  seed: number;
  workload: { kind: JepsenWorkload; clients: number; timeoutMs: number; quorumReads: number; thinkMs: number; keys?: number; readFraction?: number };
  faults: { kill: boolean; pause: boolean; meanGapMs: number; meanFaultMs: number };
  /** Wall-clock budget of the linearizability search. */
  checkTimeoutMs: number;
  /** How long to wait for a quorum read to succeed before starting (default 10 s; a started cluster gets 60 s). */
  readyTimeoutMs?: number;
  /** Key prefix on the wire; default `/raftsim-jepsen/<time>-<seed>`. */
  namespace?: string;
  /** Progress lines (faults as they run, phases). */
  log?: (line: string) => void;
  /** Ends the client phase early (Ctrl-C): the run still heals, reads back, checks and stops what it started. */
  signal?: AbortSignal;
}

/** The run could not be set up (bad options, no etcd binary, a cluster that never came up): exit 2. */
export class JepsenSetupError extends Error {
  override name = 'JepsenSetupError';
}

export interface JepsenSummary {
  target: { kind: 'raftsim' | 'etcd' | 'endpoints'; started: boolean; members: Array<{ name: string; url: string }>; version?: string };
  namespace: string;
  seed: number;
  /** How long the clients ran (less than asked when stopped early). */
  durationMs: number;
  wallMs: number;
  workload: { kind: JepsenWorkload; clients: number; timeoutMs: number; quorumReads: number };
  operations: { ok: number; fail: number; info: number; total: number };
  clients: ClientStats;
  faults: { counts: Record<FaultKind, number>; events: FaultRecord[] };
  /** Members that died without a fault killing them. */
  unexpectedExits: Array<{ atMs: number; member: string; code: number | null; signal: string | null }>;
  finalReads: { keys: number; read: number };
  checkMs: number;
  verdicts: Array<{ checker: string; ok: boolean; summary: string }>;
  ok: boolean;
}

export interface JepsenResult {
  summary: JepsenSummary;
  history: History<EtcdInput, EtcdOutput>;
  linearizability: LinearizabilityResult;
  verdicts: CheckResult[];
  /** A self-contained HTML page explaining the first non-linearizable key. */
  report: { key: string; html: string } | null;
}

/** Final reads are recorded as clients from here on, apart from the workload's. */
const FINAL_READER = 900_000;
const FINAL_READERS = 8;
const FINAL_READ_BUDGET_MS = 30_000;
const READY_TIMEOUT_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sleeps for `ms`, or less if `signal` aborts first. */
function sleepUnless(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return sleep(ms);
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

async function startCluster(
  o: JepsenClusterOptions,
  log: (line: string) => void,
  onExit: (name: string, code: number | null, signal: string | null) => void,
): Promise<{ cluster: LocalCluster; version?: string }> {
  let program: string | undefined;
  let version: string | undefined;
  if (o.kind === 'etcd') {
    let bin: string | null;
    try {
      bin = o.etcdBin ?? findEtcdBinary();
    } catch (err) {
      throw new JepsenSetupError(err instanceof Error ? err.message : String(err));
    }
    if (bin === null) throw new JepsenSetupError('no etcd binary found (install etcd-server, set ETCD_BIN or pass --etcd-bin)');
    try {
      version = etcdVersion(bin);
    } catch (err) {
      throw new JepsenSetupError(err instanceof Error ? err.message : String(err));
    }
    program = bin;
  }
  log(`starting a ${o.size}-member ${o.kind} cluster on loopback${version === undefined ? '' : ` (${version})`}`);
  const members = [];
  for (let i = 0; i < o.size; i++) {
    const [clientPort, peerPort] = o.basePort === undefined ? [await freeLoopbackPort(), await freeLoopbackPort()] : [o.basePort + 2 * i, o.basePort + 2 * i + 1];
    members.push({ name: `m${i + 1}`, clientPort, peerPort });
  }
  const cluster = new LocalCluster({
    members,
    ...(o.dataDir === undefined ? {} : { dataDir: o.dataDir }),
    ...(o.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: o.heartbeatIntervalMs }),
    ...(o.electionTimeoutMs === undefined ? {} : { electionTimeoutMs: o.electionTimeoutMs }),
    ...(o.entry === undefined ? {} : { entry: o.entry }),
    ...(program === undefined ? {} : { program, extraArgs: ['--enable-v2=true'] }),
    onUnexpectedExit: onExit,
  });
  cluster.start();
  try {
    await cluster.waitHealthy(READY_TIMEOUT_MS);
  } catch (err) {
    await cluster.stop();
    throw new JepsenSetupError(`the ${o.kind} cluster did not come up: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { cluster, ...(version === undefined ? {} : { version }) };
}

/** Waits until some endpoint answers a quorum read (an event, or "key not found"). */
async function waitForQuorumRead(client: V2HttpClient, endpoints: string[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const last = new Map<string, string>();
  for (;;) {
    for (const endpoint of endpoints) {
      const x = await client.send(endpoint, keysRequest('GET', '/', { quorum: true }), { timeoutMs: 2000 });
      if (x.kind === 'reply' && x.reply.outcome === 'ok') return;
      last.set(endpoint, x.kind === 'refused' ? 'connection refused' : x.reply.body.type === 'error' ? x.reply.body.error.cause || x.reply.body.error.message : 'no answer');
    }
    if (performance.now() > deadline) {
      throw new JepsenSetupError(`no endpoint answered a quorum read within ${timeoutMs} ms: ${[...last].map(([e, why]) => `${e} (${why})`).join(', ')}`);
    }
    await sleep(200);
  }
}

function checkOptions(o: JepsenOptions): void {
  const problems: string[] = [];
  if ((o.endpoints === undefined) === (o.cluster === undefined)) problems.push('give either endpoints or a cluster to start');
  if ((o.faults.kill || o.faults.pause) && o.cluster === undefined) {
    problems.push('faults (--kill, --pause) need a cluster this command starts (--cluster raftsim|etcd): it never signals processes it did not start');
  }
  if (o.cluster !== undefined && (o.cluster.size < 1 || o.cluster.size > 9)) problems.push(`cluster size must be 1..9, got ${o.cluster.size}`);
  if (problems.length > 0) throw new JepsenSetupError(problems[0]!);
}

/** One Jepsen-mode run; throws JepsenSetupError when it cannot start (nothing is left running). */
export async function runJepsen(options: JepsenOptions): Promise<JepsenResult> {
  checkOptions(options);
  const log = options.log ?? (() => {});
  const wallStart = performance.now();
  const namespace = options.namespace ?? `/raftsim-jepsen/${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${options.seed}`;
  const unexpectedExits: JepsenSummary['unexpectedExits'] = [];
  let clock: () => number = () => Math.round(performance.now() - wallStart);
  let cluster: LocalCluster | null = null;
  let version: string | undefined;
  if (options.cluster !== undefined) {
    const started = await startCluster(options.cluster, log, (member, code, signal) => {
      unexpectedExits.push({ atMs: clock(), member, code, signal });
      log(`member ${member} exited on its own (${code ?? signal})`);
    });
    cluster = started.cluster;
    version = started.version;
  }
  const members = cluster !== null ? cluster.members.map((m) => ({ name: m.name, url: m.clientUrl })) : options.endpoints!.map((url, i) => ({ name: `e${i + 1}`, url }));
  const client = new V2HttpClient({ namespace });
  let world: RealTimeClientWorld | null = null;
  let faults: FaultRunner | null = null;
  try {
    await waitForQuorumRead(client, members.map((m) => m.url), options.readyTimeoutMs ?? (cluster === null ? 10_000 : READY_TIMEOUT_MS));

    // ---- clients and faults ----
    const config = resolveConfig({
      name: 'jepsen',
      workload: {
        kind: options.workload.kind,
        clients: options.workload.clients,
        thinkMs: options.workload.thinkMs,
        timeoutMs: options.workload.timeoutMs,
        quorumReads: options.workload.quorumReads,
        ...(options.workload.keys === undefined ? {} : { keys: options.workload.keys }),
        ...(options.workload.readFraction === undefined ? {} : { readFraction: options.workload.readFraction }),
        // TTL registrations and watches need the committed event history to be judged, which HTTP does not give.
        instances: 0,
        watchers: 0,
      } satisfies Partial<WorkloadConfig>,
    });
    world = new RealTimeClientWorld(client, new Map(members.map((m) => [m.name, m.url])));
    const w = world;
    clock = () => Math.round(w.now);
    const pool = new ClientPool(world, members.map((m) => m.name), config, new RandomStreams(options.seed), options.durationMs);
    world.sink = pool;
    if (cluster !== null) {
      faults = new FaultRunner(cluster, () => w.now, (f) => log(`${(f.atMs / 1000).toFixed(1)}s: ${f.kind} ${f.member}`));
      const schedule = planFaults({
        members: members.map((m) => m.name),
        seed: options.seed,
        kill: options.faults.kill,
        pause: options.faults.pause,
        startMs: Math.min(1000, options.durationMs / 5),
        endMs: options.durationMs,
        meanGapMs: options.faults.meanGapMs,
        meanFaultMs: options.faults.meanFaultMs,
      });
      faults.start(schedule);
    }
    log(`running ${pool.workers} clients (${options.workload.kind}) for ${options.durationMs} ms against ${members.map((m) => m.url).join(',')}`);
    pool.start();
    await sleepUnless(Math.max(0, options.durationMs - world.now), options.signal);
    const clientsMs = Math.min(options.durationMs, Math.round(world.now));
    if (options.signal?.aborted) {
      log(`stopped early at ${(world.now / 1000).toFixed(1)}s; healing and checking what ran`);
      pool.stopAt(world.now);
    }

    // ---- heal, drain ----
    if (faults !== null) {
      await faults.heal();
      if (faults.failure !== null) throw faults.failure;
      try {
        await cluster!.waitHealthy(READY_TIMEOUT_MS);
      } catch (err) {
        log(`after healing: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const drainUntil = world.now + 2 * options.workload.timeoutMs + 1000;
    while (world.outstanding > 0 && world.now < drainUntil) await sleep(20);
    const stats = { ...pool.stats };

    // ---- final quorum reads ----
    const before = pool.history(world.now);
    // An indeterminate POST gets a placeholder key that nobody can read (see ClientPool).
    const keys = [...new Set(before.ops.map((op) => op.key))].filter((k) => !k.includes('/?')).sort();
    log(`reading ${keys.length} key(s) back with quorum reads`);
    const finalRead = await finalReads(client, world, pool, members.map((m) => m.url), keys, options.workload.timeoutMs);
    if (world.failure !== null) throw world.failure;
    const history = pool.history(world.now);
    world.close();

    // ---- check ----
    const checkStart = performance.now();
    const linearizability = checkHistory(history, { timeoutMs: options.checkTimeoutMs });
    const linearCheck: CheckResult = {
      checker: 'linearizability',
      ok: linearizability.verdict === 'linearizable',
      violations: linearizability.verdict === 'non-linearizable' ? [{ property: 'linearizability', explanation: linearizability.explanation }] : [],
      summary: `linearizability: ${linearizability.verdict} (${linearizability.explanation})`,
    };
    const acked = checkAckedWrites(history.ops);
    const queue = queueOrderProblems(pool.listings);
    const queueCheck = resultOf('queue-order', queue.map((explanation) => ({ property: 'queue-order', explanation })), `${pool.listings.length} queue listing(s) in creation order`);
    const unread = keys.length - finalRead.read;
    const finalCheck = resultOf(
      'final-reads',
      unread === 0 ? [] : [{ property: 'final-read-missing', explanation: `${unread} of ${keys.length} key(s) could not be read back after healing (first: ${finalRead.missing[0]}), so their acknowledged writes are not confirmed` }],
      `every one of ${keys.length} key(s) read back with a quorum read after healing`,
    );
    // A member that dies without being killed (or cannot restart on its data dir after a kill) is a bug too.
    const exitsCheck = resultOf(
      'members',
      unexpectedExits.map((e) => ({ property: 'member-exited', explanation: `member ${e.member} exited on its own (${e.code ?? e.signal}) at ${(e.atMs / 1000).toFixed(1)}s` })),
      cluster === null ? 'not started here' : `no member exited unless killed`,
    );
    const verdicts = [linearCheck, acked, finalCheck, queueCheck, ...(cluster === null ? [] : [exitsCheck])];
    const checkMs = Math.round(performance.now() - checkStart);
    let report: JepsenResult['report'] = null;
    const failure = linearizability.partitions.find((p) => p.failure)?.failure;
    if (failure) report = { key: failure.key, html: renderReport({ title: `raftsim jepsen seed ${options.seed}: key ${failure.key}`, model: etcdModel, ops: history.ops, failure }) };

    const summary: JepsenSummary = {
      target: {
        kind: options.cluster?.kind ?? 'endpoints',
        started: cluster !== null,
        members,
        ...(version === undefined ? {} : { version }),
      },
      namespace,
      seed: options.seed,
      durationMs: clientsMs,
      wallMs: Math.round(performance.now() - wallStart),
      workload: { kind: options.workload.kind, clients: pool.workers, timeoutMs: options.workload.timeoutMs, quorumReads: options.workload.quorumReads },
      operations: { ok: stats.ok, fail: stats.fail, info: stats.info, total: stats.ok + stats.fail + stats.info },
      clients: stats,
      faults: { counts: faults?.counts() ?? { kill: 0, restart: 0, pause: 0, resume: 0 }, events: faults?.done ?? [] },
      unexpectedExits,
      finalReads: { keys: keys.length, read: finalRead.read },
      checkMs,
      verdicts: verdicts.map((v) => ({ checker: v.checker, ok: v.ok, summary: v.summary })),
      ok: verdicts.every((v) => v.ok),
    };
    return { summary, history, linearizability, verdicts, report };
  } finally {
    world?.close();
    client.close();
    if (cluster !== null) {
      // Heal first: a paused member would otherwise sit out the stop's grace period.
      await faults?.heal();
      await cluster.stop();
    }
  }
}

/** A quorum read of each key, retried on other endpoints until it answers or the budget runs out. */
async function finalReads(
  client: V2HttpClient,
  world: RealTimeClientWorld,
  pool: ClientPool,
  endpoints: string[],
  keys: string[],
  timeoutMs: number,
): Promise<{ read: number; missing: string[] }> {
  const deadline = world.now + FINAL_READ_BUDGET_MS;
  const queue = [...keys];
  const missing: string[] = [];
  let read = 0;
  await Promise.all(
    Array.from({ length: Math.min(FINAL_READERS, keys.length) }, async (_, reader) => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
        let done = false;
        for (let attempt = 0; !done && world.now < deadline; attempt++) {
          const member = (reader + attempt) % endpoints.length;
          const id = pool.recorder.invoke(FINAL_READER + reader, key, { f: 'get', quorum: true }, world.now, { member });
          const x = await client.send(endpoints[member]!, keysRequest('GET', key, { quorum: true }), { timeoutMs });
          const { result, output } = x.kind === 'refused' ? { result: { outcome: 'fail' as const }, output: null } : outcomeOf(x.reply);
          pool.recorder.complete(id, result.outcome, output, world.now, x.kind === 'reply' ? { etcdIndex: x.reply.etcdIndex } : {});
          done = result.outcome === 'ok';
          if (!done) await sleep(100);
        }
        if (done) read++;
        else missing.push(key);
      }
    }),
  );
  return { read, missing: missing.sort() };
}
