// `raftsim serve <etcd flags>`: one etcd-v2-compatible member on this machine. Flags and ETCD_* variables as
// etcd 3.4 reads them (net/server/config.ts). Exit codes: 0 stopped by SIGINT/SIGTERM or removed from the
// cluster, 1 the member failed while running (its disk), 2 bad flags or it could not start (data dir, ports).
import { ConfigError, EtcdMember, StartupError, parseServeConfig } from '../net/server/index.ts';
import { UsageError } from './usage.ts';

export const usage =
  'serve [--name N] [--data-dir D] [--listen-client-urls U] [--advertise-client-urls U] [--listen-peer-urls U] ' +
  '[--initial-advertise-peer-urls U] [--initial-cluster n=U,... | --discovery URL] [--initial-cluster-state new|existing] [--initial-cluster-token T]';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: raftsim ${usage}\n  also --heartbeat-interval MS --election-timeout MS --snapshot-count N --max-request-bytes N; each flag may come from ETCD_<FLAG> instead\n`);
    return 0;
  }
  let config;
  try {
    config = parseServeConfig(argv, process.env, (line) => process.stderr.write(line + '\n'));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  let member: EtcdMember;
  try {
    member = await EtcdMember.start({ config, onFatal: (_reason, code) => finish(code) });
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`raftsim serve: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  process.stdout.write(`raftsim serve: ${config.name} (${member.id}) ready; clients ${member.clientUrls.join(',')}\n`);
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`raftsim serve: ${config.name} stopping on ${signal}\n`);
    void member.stop().then(() => finish(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const code = await finished;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return code;
}
