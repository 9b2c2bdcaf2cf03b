// `raftsim jepsen`: the simulator's client workloads and checkers against a real etcd-v2 cluster over HTTP
// (net/jepsen). Prints what ran and one verdict per checker; writes the history (raftsim format, for
// `raftsim check`), a JSON summary and, on a linearizability failure, an HTML report. Exit codes: 0 every check
// held, 1 a check failed, 2 bad usage or a cluster that could not be started or reached.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializeRaftsim } from '../sim/check/formats.ts';
import { JEPSEN_WORKLOADS, JepsenSetupError, runJepsen, type JepsenOptions, type JepsenSummary, type JepsenWorkload } from '../net/jepsen/run.ts';
import { parseEndpointList } from '../net/jepsen/http.ts';
import { parseFlags, parseInteger } from './args.ts';
import { parseDuration, parseFraction } from './run.ts';
import { UsageError } from './usage.ts';

export const usage =
  'jepsen (--endpoints URL,... | --cluster raftsim|etcd [--size 3]) [--duration 60s] [--kill] [--pause] [--workload mixed] [--clients 10] [--seed N] [--out DIR] [--json]';

const HELP = `usage: raftsim ${usage}
  --endpoints URL,...      an existing etcd-v2 cluster (faults are refused: it never signals processes it did not start)
  --cluster raftsim|etcd   start a local cluster of child processes on loopback instead
    --size N               members (default 3, at most 9)
    --etcd-bin PATH        etcd binary for --cluster etcd (default: $ETCD_BIN, PATH, /usr/bin/etcd)
    --base-port N          member i listens on N+2i (clients) and N+2i+1 (peers); default: free ports
    --data-dir DIR         keep the members' data dirs under DIR (default: a temp dir, removed)
    --heartbeat-interval MS, --election-timeout MS   Raft timing of the started members
  --duration D             how long clients run (default 60s; 500ms, 30s, 2m)
  --kill                   kill -9 members and restart them on their data dirs
  --pause                  SIGSTOP members and SIGCONT them later
  --fault-interval D       mean time between faults (default 4s)
  --fault-duration D       mean time a fault lasts (default 2s)
  --workload W             ${JEPSEN_WORKLOADS.join(', ')} (default mixed)
  --clients N              closed-loop clients (default 10)
  --timeout D              a client gives up on a request after D (default 2s): a write is then indeterminate
  --quorum-reads F         fraction of reads sent with quorum=true (default 1); the others are not judged
  --think D                mean pause between a client's requests (default 10ms)
  --seed N                 seeds the workload's choices and the fault schedule (default 1)
  --check-timeout D        budget of the linearizability search (default 60s)
  --ready-timeout D        how long to wait for a first quorum read to succeed (default 10s; 60s for a started cluster)
  --out DIR                where history.jsonl, summary.json and report.html go (default out/jepsen-<time>-seed<N>)
  --json                   print the summary as one JSON line`;

export function formatSummary(s: JepsenSummary, files: { history: string; report: string | null }): string {
  const t = s.target;
  const what = t.kind === 'endpoints' ? `${t.members.length} endpoint(s) given` : `${t.members.length}-member ${t.kind} cluster started here${t.version ? ` (${t.version})` : ''}`;
  const c = s.faults.counts;
  const faultLine = s.faults.events.length === 0 ? 'none' : `kill ${c.kill}, restart ${c.restart}, pause ${c.pause}, resume ${c.resume}`;
  const timeline = s.faults.events.map((f) => `${f.kind} ${f.member} @${(f.atMs / 1000).toFixed(1)}s`).join(', ');
  const lines = [
    `raftsim jepsen seed ${s.seed}: ${what}; ${s.workload.clients} ${s.workload.kind} clients for ${(s.durationMs / 1000).toFixed(1)}s (keys under ${s.namespace})`,
    `operations   ${s.operations.total} (ok ${s.operations.ok}, failed ${s.operations.fail}, indeterminate ${s.operations.info}); retries ${s.clients.retries}, timeouts ${s.clients.timeouts}, refused ${s.clients.refused}`,
    `faults       ${faultLine}`,
    ...(timeline === '' ? [] : [`             ${timeline}`]),
    ...(s.unexpectedExits.length === 0 ? [] : [`exits        ${s.unexpectedExits.map((e) => `${e.member} exited on its own (${e.code ?? e.signal}) @${(e.atMs / 1000).toFixed(1)}s`).join(', ')}`]),
    `final reads  ${s.finalReads.read} of ${s.finalReads.keys} key(s) read back after healing`,
    `time         wall ${(s.wallMs / 1000).toFixed(1)}s, checks ${s.checkMs} ms`,
    ...s.verdicts.map((v) => `${v.ok ? 'ok  ' : 'FAIL'}         ${v.summary}`),
    `history      ${files.history} (raftsim check ${files.history} --format raftsim)`,
    ...(files.report === null ? [] : [`report       ${files.report}`]),
  ];
  return lines.join('\n');
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const { values, positionals } = parseFlags(argv, {
    endpoints: { type: 'string' },
    cluster: { type: 'string' },
    size: { type: 'string' },
    'etcd-bin': { type: 'string' },
    'base-port': { type: 'string' },
    'data-dir': { type: 'string' },
    'heartbeat-interval': { type: 'string' },
    'election-timeout': { type: 'string' },
    duration: { type: 'string' },
    kill: { type: 'boolean' },
    pause: { type: 'boolean' },
    'fault-interval': { type: 'string' },
    'fault-duration': { type: 'string' },
    workload: { type: 'string' },
    clients: { type: 'string' },
    timeout: { type: 'string' },
    'quorum-reads': { type: 'string' },
    think: { type: 'string' },
    seed: { type: 'string' },
    'check-timeout': { type: 'string' },
    'ready-timeout': { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: raftsim ${usage}`);
  if (values.endpoints !== undefined && values.cluster !== undefined) throw new UsageError('give either --endpoints (an existing cluster) or --cluster (start one), not both');
  if (values.endpoints === undefined && values.cluster === undefined) throw new UsageError(`--endpoints or --cluster is required; usage: raftsim ${usage}`);
  if (values.endpoints !== undefined && (values.kill || values.pause)) {
    throw new UsageError(`${values.kill ? '--kill' : '--pause'} needs a cluster this command starts (--cluster raftsim|etcd): it never signals processes it did not start`);
  }
  let endpoints: string[] | undefined;
  if (values.endpoints !== undefined) {
    try {
      endpoints = parseEndpointList(values.endpoints);
    } catch (err) {
      throw new UsageError(`--endpoints: ${(err as Error).message}`);
    }
  }
  for (const flag of ['size', 'etcd-bin', 'base-port', 'data-dir', 'heartbeat-interval', 'election-timeout'] as const) {
    if (values.cluster === undefined && values[flag] !== undefined) throw new UsageError(`--${flag} only applies with --cluster`);
  }
  let cluster: JepsenOptions['cluster'];
  if (values.cluster !== undefined) {
    if (values.cluster !== 'raftsim' && values.cluster !== 'etcd') throw new UsageError(`unknown --cluster '${values.cluster}' (expected raftsim or etcd)`);
    if (values.cluster !== 'etcd' && values['etcd-bin'] !== undefined) throw new UsageError('--etcd-bin only applies with --cluster etcd');
    const size = parseInteger('--size', values.size, 3, 1);
    if (size > 9) throw new UsageError(`--size must be at most 9, got ${size}`);
    cluster = { kind: values.cluster, size };
    if (values['base-port'] !== undefined) {
      const basePort = parseInteger('--base-port', values['base-port'], 2379, 1);
      if (basePort + 2 * size - 1 > 65535) throw new UsageError(`--base-port ${basePort} leaves no room for ${size} members (two ports each)`);
      cluster.basePort = basePort;
    }
    if (values['etcd-bin'] !== undefined) cluster.etcdBin = values['etcd-bin'];
    if (values['data-dir'] !== undefined) cluster.dataDir = values['data-dir'];
    if (values['heartbeat-interval'] !== undefined) cluster.heartbeatIntervalMs = parseInteger('--heartbeat-interval', values['heartbeat-interval'], 100, 1);
    if (values['election-timeout'] !== undefined) cluster.electionTimeoutMs = parseInteger('--election-timeout', values['election-timeout'], 1000, 1);
  }
  const workload = (values.workload ?? 'mixed') as JepsenWorkload;
  if (!JEPSEN_WORKLOADS.includes(workload)) {
    throw new UsageError(`unknown --workload '${values.workload}' (expected ${JEPSEN_WORKLOADS.join(', ')}; TTL and watch workloads run in the simulator only)`);
  }
  const clients = parseInteger('--clients', values.clients, 10, 1);
  if (clients > 1000) throw new UsageError(`--clients must be at most 1000, got ${clients}`);
  const seed = parseInteger('--seed', values.seed, 1, 0);
  if (seed > 0xffffffff) throw new UsageError(`--seed must be at most ${0xffffffff}, got '${values.seed}'`);
  const options: JepsenOptions = {
    ...(endpoints === undefined ? {} : { endpoints }),
    ...(cluster === undefined ? {} : { cluster }),
    durationMs: parseDuration('--duration', values.duration, 60_000),
    seed,
    workload: {
      kind: workload,
      clients,
      timeoutMs: parseDuration('--timeout', values.timeout, 2000),
      quorumReads: parseFraction('--quorum-reads', values['quorum-reads']) ?? 1,
      thinkMs: values.think === undefined ? 10 : parseDuration('--think', values.think, 10),
    },
    faults: {
      kill: values.kill === true,
      pause: values.pause === true,
      meanGapMs: parseDuration('--fault-interval', values['fault-interval'], 4000),
      meanFaultMs: parseDuration('--fault-duration', values['fault-duration'], 2000),
    },
    checkTimeoutMs: parseDuration('--check-timeout', values['check-timeout'], 60_000),
    ...(values['ready-timeout'] === undefined ? {} : { readyTimeoutMs: parseDuration('--ready-timeout', values['ready-timeout'], 10_000) }),
    log: (line) => process.stderr.write(`raftsim jepsen: ${line}\n`),
  };
  const outDir = values.out ?? join('out', `jepsen-${stamp()}-seed${seed}`);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (err) {
    throw new UsageError(`--out: cannot create ${outDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }

  // The first Ctrl-C ends the client phase (the run still heals, checks and stops its cluster); a second one
  // exits at once, and the exit hook of net/cluster.ts kills the members.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write(`raftsim jepsen: ${signal}: stopping the clients (again to quit at once)\n`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result;
  try {
    result = await runJepsen({ ...options, signal: stop.signal });
  } catch (err) {
    if (err instanceof JepsenSetupError) {
      process.stderr.write(`raftsim jepsen: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const historyPath = join(outDir, 'history.jsonl');
  writeFileSync(historyPath, serializeRaftsim(result.history));
  let reportPath: string | null = null;
  if (result.report !== null) {
    reportPath = join(outDir, 'report.html');
    writeFileSync(reportPath, result.report.html);
  }
  const files = { history: historyPath, report: reportPath };
  writeFileSync(join(outDir, 'summary.json'), JSON.stringify({ ...result.summary, files }, null, 2) + '\n');
  if (values.json) process.stdout.write(JSON.stringify({ ...result.summary, files }) + '\n');
  else process.stdout.write(formatSummary(result.summary, files) + '\n');
  for (const v of result.verdicts.filter((x) => !x.ok)) {
    process.stderr.write(`raftsim jepsen: check failed: ${v.summary}\n`);
    for (const extra of v.violations.slice(1, 20)) process.stderr.write(`raftsim jepsen: ${v.checker}: ${extra.property}: ${extra.explanation}\n`);
  }
  return result.summary.ok ? 0 : 1;
}
