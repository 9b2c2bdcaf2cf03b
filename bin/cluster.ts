// `raftsim cluster [--size 3] [--base-port 2379] [--data-dir DIR]`: a local cluster in one command. Each member
// is a `raftsim serve` child with its own data dir; the client endpoints are printed once every member reports a
// leader, and SIGINT/SIGTERM stop the children before this process exits. Exit codes: 0 stopped by a signal,
// 1 the cluster did not come up, 2 bad usage.
import { LocalCluster } from '../net/cluster.ts';
import { parseFlags, parseInteger } from './args.ts';
import { UsageError } from './usage.ts';

export const usage = 'cluster [--size 3] [--base-port 2379] [--data-dir DIR] [--heartbeat-interval MS] [--election-timeout MS]';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    size: { type: 'string' },
    'base-port': { type: 'string' },
    'data-dir': { type: 'string' },
    'heartbeat-interval': { type: 'string' },
    'election-timeout': { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: raftsim ${usage}`);
  const size = parseInteger('--size', values.size, 3, 1);
  if (size > 15) throw new UsageError(`--size must be at most 15, got ${size}`);
  const basePort = parseInteger('--base-port', values['base-port'], 2379, 1);
  if (basePort + 2 * size - 1 > 65535) throw new UsageError(`--base-port ${basePort} leaves no room for ${size} members (two ports each)`);
  const heartbeatIntervalMs = values['heartbeat-interval'] === undefined ? undefined : parseInteger('--heartbeat-interval', values['heartbeat-interval'], 100, 1);
  const electionTimeoutMs = values['election-timeout'] === undefined ? undefined : parseInteger('--election-timeout', values['election-timeout'], 1000, 1);

  let stopping = false;
  const cluster = new LocalCluster({
    size,
    basePort,
    ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
    ...(heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs }),
    ...(electionTimeoutMs === undefined ? {} : { electionTimeoutMs }),
    onOutput: (name, line) => process.stderr.write(`[${name}] ${line}\n`),
    onUnexpectedExit: (name, code, signal) => {
      if (!stopping) process.stderr.write(`raftsim cluster: member ${name} exited (${code ?? signal}); the others keep running\n`);
    },
  });
  let finish!: (code: number) => void;
  const finished = new Promise<number>((r) => (finish = r));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`raftsim cluster: stopping on ${signal}\n`);
    void cluster.stop().then(() => finish(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  cluster.start();
  try {
    await cluster.waitHealthy(30_000);
  } catch (err) {
    if (!stopping) {
      stopping = true;
      process.stderr.write(`raftsim cluster: ${err instanceof Error ? err.message : String(err)}\n`);
      await cluster.stop();
      return 1;
    }
  }
  if (!stopping) {
    process.stdout.write(`raftsim cluster: ${size} member(s) ready\n`);
    for (const m of cluster.members) process.stdout.write(`${m.name} ${m.clientUrl} (peer ${m.peerUrl}, data ${m.dataDir})\n`);
    process.stdout.write(`endpoints: ${cluster.endpoints.join(',')}\n`);
  }
  const code = await finished;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return code;
}
