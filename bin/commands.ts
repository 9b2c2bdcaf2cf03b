// The subcommand registry: one entry per command that exists. `main.ts` only dispatches.
// Each command module exports `run(argv: string[]): Promise<number>` returning the exit code
// (0 every check held, 1 a check failed, 2 bad usage or bad input).

export interface Command {
  name: string;
  usage: string;
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

export const commands: Command[] = [
  { name: 'serve', usage: 'serve <etcd flags>', summary: 'run one etcd-v2-compatible member (etcd flag names, ETCD_* variables)', load: () => import('./serve.ts') },
  { name: 'cluster', usage: 'cluster [--size 3] [--base-port 2379]', summary: 'start a local cluster of serve processes and print its endpoints', load: () => import('./cluster.ts') },
  { name: 'scenarios', usage: 'scenarios [--json]', summary: 'list the scenarios with one-line descriptions', load: () => import('./scenarios.ts') },
  { name: 'run', usage: 'run [<scenario>] [--seed N] [--json] [--duration 30s] [--nodes 5]', summary: 'simulate a cluster under faults and check what happened', load: () => import('./run.ts') },
  { name: 'sweep', usage: 'sweep [<scenario>...|--all] [--seeds A..B] [--workers N] [--shard K/N] [--out DIR]', summary: 'run scenarios over many seeds on all cores; traces of failing runs go to --out', load: () => import('./sweep.ts') },
  { name: 'replay', usage: 'replay <trace>', summary: 're-run a trace, checking the run hash at every event, and print its verdicts', load: () => import('./replay.ts') },
  { name: 'shrink', usage: 'shrink <trace> [--out FILE] [--max-runs N] [--budget 5m]', summary: 'cut a failing trace down to the smallest run that still fails the same check', load: () => import('./shrink.ts') },
  { name: 'jepsen', usage: 'jepsen (--endpoints U | --cluster raftsim|etcd) [--kill] [--pause]', summary: 'run the client workloads and checkers over HTTP against a real cluster, under kills and pauses', load: () => import('./jepsen.ts') },
  { name: 'view', usage: 'view <trace> [--out FILE.html]', summary: 'draw a trace as a self-contained HTML timeline (nodes, faults, messages, operations, the violation)', load: () => import('./view.ts') },
  { name: 'check', usage: 'check <files...> --format F', summary: 'check histories for linearizability (jepsen-etcd, porcupine-kv, raftsim)', load: () => import('./check.ts') },
];
