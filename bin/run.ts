// `raftsim run [<scenario>] [--seed N] [--json] ...`: one simulated run, its summary and every checker's verdict.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeExpectation, meetsExpectation, scenarioNamed, scenarioNames } from '../scenarios/index.ts';
import { ConfigError, type PartialRunConfig, type WorkloadKind } from '../sim/config.ts';
import { allMutants, mutantNamed } from '../sim/mutants/index.ts';
import { runSimulation, type RunProgress, type RunSummary } from '../sim/run.ts';
import { writeTraceFile } from '../sim/trace/format.ts';
import { recordTrace } from '../sim/trace/record.ts';
import { parseFlags, parseInteger } from './args.ts';
import { UsageError } from './usage.ts';

export const usage =
  'run [<scenario>] [--seed N] [--trace FILE] [--mutant BUG] [--json] [--duration 30s] [--nodes 5] [--clients N] [--workload K] [--quorum-reads F] [--no-faults] [--progress] [--report DIR]';

/** "30s", "500ms", "2m" or a bare number of seconds, to virtual ms. */
export function parseDuration(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) throw new UsageError(`${flag} takes a duration such as 30s, 500ms or 2m, got '${text}'`);
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (!Number.isSafeInteger(Math.round(ms)) || ms < 1) throw new UsageError(`${flag} must be at least 1ms, got '${text}'`);
  return Math.round(ms);
}

export function parseFraction(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const x = Number(text);
  if (!/^\d*\.?\d+$/.test(text) || !(x >= 0 && x <= 1)) throw new UsageError(`${flag} takes a fraction between 0 and 1, got '${text}'`);
  return x;
}

const WORKLOADS: WorkloadKind[] = ['register', 'multi-key', 'discovery', 'queue', 'mixed'];

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function formatSummary(s: RunSummary): string {
  const faults = Object.entries(s.faults).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  const lines = [
    `raftsim run ${s.name} seed ${s.seed}: ${s.nodes} members, ${s.clients.workers} client workers`,
    `operations   ${s.operations.total} (ok ${s.operations.ok}, failed ${s.operations.fail}, indeterminate ${s.operations.info}); retries ${s.clients.retries}, timeouts ${s.clients.timeouts}, watch events ${s.clients.watchEvents}`,
    `leaders      ${s.leaderChanges} elected; crashes ${s.crashes}${s.refusedToStart > 0 ? `, ${s.refusedToStart} refused to start (corrupt WAL)` : ''}`,
    `faults       ${faults}`,
    ...(s.targeted ?? []).map((line) => `nemesis      ${line}`),
    `messages     sent ${s.messages.sent}, delivered ${s.messages.delivered}, dropped ${s.messages.dropped}, duplicated ${s.messages.duplicated}`,
    `time         simulated ${seconds(s.simulatedMs)}, wall ${seconds(s.wallMs)} (${s.speedup}x), ${s.events} events (${s.eventsPerSecond}/s)`,
    `run hash     ${s.hash}`,
    ...s.verdicts.map((v) => `${v.ok ? 'ok  ' : 'FAIL'}         ${v.summary}`),
  ];
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    seed: { type: 'string' },
    json: { type: 'boolean' },
    duration: { type: 'string' },
    nodes: { type: 'string' },
    clients: { type: 'string' },
    workload: { type: 'string' },
    'quorum-reads': { type: 'string' },
    'no-faults': { type: 'boolean' },
    progress: { type: 'boolean' },
    report: { type: 'string' },
    trace: { type: 'string' },
    mutant: { type: 'string' },
  });
  if (positionals.length > 1) throw new UsageError(`one scenario at most, got ${positionals.length}; usage: raftsim ${usage}`);
  const name = positionals[0] ?? 'default';
  const scenario = scenarioNamed(name);
  if (scenario === undefined) throw new UsageError(`unknown scenario '${name}' (known: ${scenarioNames().join(', ')}; see 'raftsim scenarios')`);
  const seed = parseInteger('--seed', values.seed, 1, 0);
  if (seed > 0xffffffff) throw new UsageError(`--seed must be at most ${0xffffffff}, got '${values.seed}'`);
  const base = scenario.config;
  const config: PartialRunConfig = { ...base, name };
  if (values.duration !== undefined) config.durationMs = parseDuration('--duration', values.duration, 30_000);
  if (values.nodes !== undefined) config.nodes = parseInteger('--nodes', values.nodes, 5, 1);
  if (config.nodes !== undefined && config.nodes > 9) throw new UsageError(`--nodes must be at most 9, got '${values.nodes}'`);
  const workload = { ...base.workload };
  if (values.clients !== undefined) workload.clients = parseInteger('--clients', values.clients, 10, 0);
  if (values.workload !== undefined) {
    if (!WORKLOADS.includes(values.workload as WorkloadKind)) throw new UsageError(`unknown --workload '${values.workload}' (expected ${WORKLOADS.join(', ')})`);
    workload.kind = values.workload as WorkloadKind;
  }
  const quorumReads = parseFraction('--quorum-reads', values['quorum-reads']);
  if (quorumReads !== undefined) workload.quorumReads = quorumReads;
  config.workload = workload;
  if (values['no-faults']) config.nemesis = { ...base.nemesis, kind: 'none' };

  const showProgress = values.progress === true || process.stderr.isTTY === true;
  const progress = (p: RunProgress): void => {
    process.stderr.write(`\r${name} seed ${seed}: ${seconds(p.simMs)}/${seconds(p.endMs)} simulated, ${p.events} events, ${p.ops} ops, wall ${seconds(p.wallMs)}   `);
  };
  const mutant = values.mutant ?? null;
  if (mutant !== null && mutantNamed(mutant) === undefined) throw new UsageError(`unknown --mutant '${mutant}' (known: ${allMutants.map((m) => m.name).join(', ')})`);
  let result;
  try {
    const onProgress = showProgress ? progress : undefined;
    if (values.trace !== undefined || mutant !== null) {
      const recorded = await recordTrace({ scenario: name, seed, config, expect: scenario.expect, mutant, onProgress });
      result = recorded.result;
      if (values.trace !== undefined) writeTraceFile(values.trace, recorded.trace);
    } else {
      result = runSimulation({ seed, config, onProgress });
    }
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  if (showProgress) process.stderr.write('\n');
  let reportPath: string | null = null;
  if (result.report !== null) {
    const dir = values.report ?? 'out';
    mkdirSync(dir, { recursive: true });
    reportPath = join(dir, `raftsim-${name}-seed${seed}.html`);
    writeFileSync(reportPath, result.report.html);
  }
  // A scenario that demonstrates a known bug passes when the bug is found: exit 0 means "did what it says".
  const asExpected = meetsExpectation(scenario.expect, result.verdicts);
  const expected = describeExpectation(scenario.expect);
  if (values.json) process.stdout.write(JSON.stringify({ ...result.summary, ok: result.ok, expected, asExpected, report: reportPath }) + '\n');
  else process.stdout.write(formatSummary(result.summary) + `\nexpected     ${expected}: ${asExpected ? 'yes' : 'NO'}\n`);
  if (!result.ok) {
    for (const v of result.verdicts.filter((x) => !x.ok)) process.stderr.write(`raftsim run: check failed: ${v.summary}\n`);
    if (reportPath !== null) process.stderr.write(`raftsim run: linearizability report written to ${reportPath}\n`);
  }
  if (values.trace !== undefined) process.stderr.write(`raftsim run: trace written to ${values.trace}; replay it with: raftsim replay ${values.trace}\n`);
  if (!asExpected && scenario.expect.kind === 'violation') process.stderr.write(`raftsim run: expected a ${scenario.expect.checker} violation, none was found\n`);
  return asExpected ? 0 : 1;
}
