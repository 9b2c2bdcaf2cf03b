// Benchmark of the real server against real etcd: a 3-member raftsim cluster (`raftsim serve` processes, real
// sockets, real fsync) and a 3-member etcd 3.4 cluster (v2 API on) on this machine, both on loopback with their
// own data dirs on the same disk, driven by the same closed-loop load generator (bench/load.ts) at the leader.
// Measurements: PUT at 1 and 64 connections, quorum GET and plain GET at 64 connections. Each reports
// throughput (perSec), p50/p99 latency (ms) and the CPU time all members spent per ok request (cpuMsPerOp, from
// /proc: it shows what a request costs even when machine noise moves throughput). Prints one JSON line: each
// system's figures (medians over the rounds) and raftsim/etcd ratios (above 1 is better for throughput, below 1
// for latency and CPU).
//
// Machine noise (other processes on a shared 2-core machine) must hit both systems alike, so every round runs
// each measurement on both, alternating which goes first; every measurement is bounded in count and time.
//
// Run: npx tsx bench/net.ts [--rounds N] [--measure-ms MS] [--max-requests N] [--keys N] [--value-bytes N]
//                           [--dir PATH] [--profile DIR] [--raftsim-entry FILE]
//   --dir: where both clusters' temp data dirs go (default the OS temp dir); removed at the end.
//   --profile: raftsim members write V8 CPU profiles (node --cpu-prof) into DIR when they stop.
//   --raftsim-entry: run the members from this bin/main.ts (another checkout: figures before a change).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalCluster } from '../net/cluster.ts';
import { parseFlags, parseInteger } from '../bin/args.ts';
import { UsageError } from '../bin/usage.ts';
import { findEtcdBinary, freeLoopbackPort, startEtcdCluster } from '../test/support/etcd.ts';
import { runLoad, type LoadRequest, type LoadResult } from './load.ts';

const SYSTEMS = ['raftsim', 'etcd'] as const;
type SystemName = (typeof SYSTEMS)[number];
const CLUSTER_SIZE = 3;
const MANY = 64;

interface Measurement {
  name: string;
  connections: number;
  request(i: number): LoadRequest;
}

/** What each measurement reports; cpuMsPerOp is the CPU time of all members per ok request, which shows
 * the cost of a request even when machine noise moves throughput. */
const FIGURES = ['perSec', 'p50Ms', 'p99Ms', 'cpuMsPerOp'] as const;
type Result = LoadResult & { cpuMsPerOp: number };

interface Options {
  rounds: number;
  measureMs: number;
  maxRequests: number;
  keys: number;
  valueBytes: number;
  parentDir: string;
  profileDir: string | null;
  raftsimEntry: string | null;
}

interface System {
  name: SystemName;
  clientUrls: string[];
  /** The member processes, for their CPU time. */
  pids(): number[];
  stop(): Promise<void>;
}

const usage = 'bench/net.ts [--rounds N] [--measure-ms MS] [--max-requests N] [--keys N] [--value-bytes N] [--dir PATH] [--profile DIR] [--raftsim-entry FILE]';

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseFlags(argv, {
    rounds: { type: 'string' },
    'measure-ms': { type: 'string' },
    'max-requests': { type: 'string' },
    keys: { type: 'string' },
    'value-bytes': { type: 'string' },
    dir: { type: 'string' },
    profile: { type: 'string' },
    'raftsim-entry': { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (usage: ${usage})`);
  return {
    rounds: parseInteger('--rounds', values.rounds, 5, 1),
    measureMs: parseInteger('--measure-ms', values['measure-ms'], 3000, 1),
    maxRequests: parseInteger('--max-requests', values['max-requests'], 200_000, 1),
    keys: parseInteger('--keys', values.keys, 1000, 1),
    valueBytes: parseInteger('--value-bytes', values['value-bytes'], 64, 0),
    parentDir: values.dir ?? tmpdir(),
    profileDir: values.profile === undefined ? null : resolve(values.profile),
    raftsimEntry: values['raftsim-entry'] === undefined ? null : existingFile('--raftsim-entry', values['raftsim-entry']),
  };
}

function existingFile(flag: string, path: string): string {
  const full = resolve(path);
  if (!existsSync(full)) throw new UsageError(`${flag}: no such file ${full}`);
  return full;
}

function measurements(o: Options): Measurement[] {
  const value = 'v'.repeat(o.valueBytes);
  const key = (i: number) => `/v2/keys/bench/k${i % o.keys}`;
  const put = (i: number): LoadRequest => ({ method: 'PUT', path: key(i), body: `value=${value}` });
  return [
    { name: 'put1', connections: 1, request: put },
    { name: `put${MANY}`, connections: MANY, request: put },
    { name: `quorumGet${MANY}`, connections: MANY, request: (i) => ({ method: 'GET', path: `${key(i)}?quorum=true` }) },
    { name: `get${MANY}`, connections: MANY, request: (i) => ({ method: 'GET', path: key(i) }) },
  ];
}

function getJson(url: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolveGet) => {
    const req = get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolveGet(JSON.parse(body));
        } catch {
          resolveGet(null);
        }
      });
      res.on('error', () => resolveGet(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveGet(null));
  });
}

/** The client URL of the member that says it leads (both systems answer /v2/stats/self alike). */
async function leaderUrl(system: System, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const url of system.clientUrls) {
      const self = (await getJson(`${url}/v2/stats/self`, 1000)) as { state?: string } | null;
      if (self?.state === 'StateLeader') return url;
    }
    if (Date.now() > deadline) throw new Error(`${system.name}: no member reports being the leader`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startRaftsim(o: Options, root: string): Promise<System> {
  const members = [];
  for (let i = 0; i < CLUSTER_SIZE; i++) members.push({ name: `m${i + 1}`, clientPort: await freeLoopbackPort(), peerPort: await freeLoopbackPort() });
  const nodeArgs = o.profileDir === null ? undefined : ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`];
  const cluster = new LocalCluster({
    members,
    dataDir: join(root, 'raftsim'),
    ...(nodeArgs === undefined ? {} : { nodeArgs }),
    ...(o.raftsimEntry === null ? {} : { entry: o.raftsimEntry }),
  });
  cluster.start();
  try {
    await cluster.waitHealthy(30_000);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return { name: 'raftsim', clientUrls: cluster.endpoints, pids: () => cluster.members.flatMap((m) => (m.process?.pid === undefined ? [] : [m.process.pid])), stop: () => cluster.stop() };
}

async function startEtcd(root: string): Promise<System> {
  const cluster = await startEtcdCluster({ size: CLUSTER_SIZE, parentDir: root });
  return { name: 'etcd', clientUrls: cluster.clientUrls, pids: () => cluster.pids, stop: () => cluster.stop() };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export interface NetBenchFigures {
  [figure: string]: number;
}

const CLOCK_TICKS_PER_SECOND = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

/** User + system CPU time of the processes (all their threads), in ms; NaN where /proc cannot tell. */
function cpuTimeMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return NaN;
    }
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

async function measure(system: System, m: Measurement, o: Options, maxMs: number, maxRequests = o.maxRequests): Promise<Result> {
  const url = await leaderUrl(system);
  const cpuBefore = cpuTimeMs(system.pids());
  const r = await runLoad({ url, connections: m.connections, maxRequests, maxMs, request: m.request });
  return { ...r, cpuMsPerOp: (cpuTimeMs(system.pids()) - cpuBefore) / r.ok };
}

async function main(o: Options): Promise<void> {
  if (findEtcdBinary() === null) throw new Error('no etcd binary found (install etcd-server or set ETCD_BIN)');
  const root = mkdtempSync(join(o.parentDir, 'raftsim-bench-net-'));
  const systems: System[] = [];
  let stopping: Promise<void> | null = null;
  const stopAll = () => (stopping ??= Promise.all(systems.map((s) => s.stop())).then(() => rmSync(root, { recursive: true, force: true })));
  const onSignal = () => void stopAll().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    systems.push(await startRaftsim(o, root));
    systems.push(await startEtcd(root));
    const list = measurements(o);
    const results = new Map<string, Result[]>();
    const errors: Record<SystemName, { count: number; samples: string[] }> = { raftsim: { count: 0, samples: [] }, etcd: { count: 0, samples: [] } };
    const record = (system: System, m: Measurement, r: Result) => {
      const k = `${system.name}/${m.name}`;
      results.set(k, [...(results.get(k) ?? []), r]);
      errors[system.name].count += r.errors;
      errors[system.name].samples.push(...r.errorSamples.slice(0, 5 - errors[system.name].samples.length));
    };
    // Warm-up (JIT, connection setup, every key written once so reads find them); errors still count.
    for (const system of systems) {
      const fill = list[1]!;
      record(system, { ...fill, name: 'warmup' }, await measure(system, fill, o, 60_000, o.keys));
      for (const m of list) record(system, { ...m, name: 'warmup' }, await measure(system, m, o, Math.min(o.measureMs, 1000)));
    }
    for (let round = 0; round < o.rounds; round++) {
      for (const [i, m] of list.entries()) {
        const order = (round + i) % 2 === 0 ? systems : [...systems].reverse();
        for (const system of order) record(system, m, await measure(system, m, o, o.measureMs));
      }
    }
    const figures = {} as Record<SystemName, NetBenchFigures>;
    for (const system of systems) {
      const f: NetBenchFigures = {};
      for (const m of list) {
        const rs = results.get(`${system.name}/${m.name}`)!;
        for (const fig of FIGURES) f[`${m.name}${fig.charAt(0).toUpperCase()}${fig.slice(1)}`] = round3(median(rs.map((r) => r[fig])));
      }
      figures[system.name] = f;
    }
    const ratio: NetBenchFigures = {};
    for (const k of Object.keys(figures.raftsim)) ratio[k] = round3(figures.raftsim[k]! / figures.etcd[k]!);
    console.log(
      JSON.stringify({
        bench: 'net',
        members: CLUSTER_SIZE,
        rounds: o.rounds,
        measureMs: o.measureMs,
        maxRequests: o.maxRequests,
        keys: o.keys,
        valueBytes: o.valueBytes,
        raftsim: figures.raftsim,
        etcd: figures.etcd,
        ratio,
        errors: { raftsim: errors.raftsim.count, etcd: errors.etcd.count },
        errorSamples: [...errors.raftsim.samples.map((s) => `raftsim ${s}`), ...errors.etcd.samples.map((s) => `etcd ${s}`)],
      }),
    );
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

let options: Options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`bench/net: ${err.message}`);
  process.exit(2);
}
try {
  await main(options);
} catch (err) {
  console.error(`bench/net: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
