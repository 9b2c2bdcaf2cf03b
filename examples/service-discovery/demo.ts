// The whole example in one command:
//
//   npx tsx examples/service-discovery/demo.ts [--endpoints URLS] [--prefix /services] [--keep]
//
// Without --endpoints it starts its own 3-member raftsim cluster (when this checkout has `raftsim cluster`),
// else it says how to point it at one. It then runs scenario.ts and prints each step with its timing, the
// final rendered file, and whether every expectation held. Exit codes: 0 all held, 1 one failed, 2 bad usage.
import { parseFlags } from '../../bin/args.ts';
import { DEFAULT_PREFIX, UsageError, isMain, parsePrefix, resolveEndpoints, runMain } from './cli.ts';
import { HOW_TO_GET_ENDPOINTS, raftsimClusterAvailable, startRaftsimCluster, type LocalCluster } from './local-cluster.ts';
import { runScenario } from './scenario.ts';

export const DEMO_USAGE = 'demo.ts [--endpoints URLS] [--prefix /services] [--keep]';

async function main(): Promise<number> {
  const { values, positionals } = parseFlags(process.argv.slice(2), {
    endpoints: { type: 'string' },
    prefix: { type: 'string' },
    keep: { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: ${DEMO_USAGE}`);
  const prefix = parsePrefix(values.prefix ?? DEFAULT_PREFIX);
  const print = (line: string) => process.stdout.write(line + '\n');

  let cluster: LocalCluster | null = null;
  let endpoints: string[];
  if (values.endpoints !== undefined) {
    endpoints = resolveEndpoints(values.endpoints, {});
  } else if (raftsimClusterAvailable()) {
    print('starting a 3-member raftsim cluster on loopback...');
    cluster = await startRaftsimCluster(3);
    endpoints = cluster.endpoints;
  } else {
    process.stderr.write(`demo: ${HOW_TO_GET_ENDPOINTS}\n`);
    return 2;
  }
  // Interrupted: stop the cluster, then exit; the exit hook in processes.ts kills the scenario's children.
  const stopCluster = () => void (cluster?.stop() ?? Promise.resolve()).then(() => process.exit(130));
  process.once('SIGINT', stopCluster);
  process.once('SIGTERM', stopCluster);
  try {
    print(`endpoints: ${endpoints.join(',')}`);
    const result = await runScenario({ endpoints, prefix, narrate: print, keepWorkDir: values.keep ?? false });
    print('');
    print(`final ${result.workDir}/upstreams.conf:`);
    print(result.finalFile.trimEnd());
    print('');
    print(`reload command ran ${result.reloads} times for ${result.renders.length} changes of the file`);
    if (result.violations.length === 0) {
      print('every expectation held');
      return 0;
    }
    for (const violation of result.violations) print(`FAILED: ${violation}`);
    return 1;
  } finally {
    process.off('SIGINT', stopCluster);
    process.off('SIGTERM', stopCluster);
    await cluster?.stop();
  }
}

if (isMain(import.meta.url)) runMain('demo', main);
