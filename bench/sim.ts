// Benchmark of whole simulated runs: real replicas in the virtual world, driven by sim/run.ts. Two scenarios:
//   idle    5 members, no clients, no faults: how fast virtual time passes when nothing happens;
//   loaded  5 members, 50 client workers (mixed workload), a partition every few seconds.
// For each: delivered messages and events per wall-second, and simulated time over wall time, for the
// simulation alone (the run's own timer around its event loop); for the loaded run also the checkers' wall time
// (the rest of runSimulation). Each figure is the median of `--rounds` runs in this process (the first run of
// a kind also warms the JIT, so it counts like any other). The run hash must be the same every round.
// On a shared machine wall time also counts the time other processes held the CPU, so the same figures are
// given per CPU-second of this process too (`cpu`: from just before the event loop to its last progress report).
//
// Run: npx tsx bench/sim.ts [--rounds 3] [--only idle|loaded] [--idle-duration 3600s] [--loaded-duration 30s] [--seed 1]
import { performance } from 'node:perf_hooks';
import type { PartialRunConfig } from '../sim/config.ts';
import { runSimulation } from '../sim/run.ts';

const USAGE = 'bench/sim.ts [--rounds N] [--only idle|loaded] [--idle-duration SECONDS] [--loaded-duration SECONDS] [--seed N]';

function usageError(message: string): never {
  console.error(`bench/sim: ${message}`);
  process.exit(2);
}

function positive(flag: string, text: string | undefined): number {
  const n = Number(text?.replace(/s$/, ''));
  if (text === undefined || !Number.isInteger(n) || n <= 0) usageError(`${flag} must be a positive integer, got ${text ?? 'nothing'}`);
  return n;
}

interface Flags {
  rounds: number;
  only: 'idle' | 'loaded' | null;
  idleSeconds: number;
  loadedSeconds: number;
  seed: number;
}

function parseArgs(argv: string[]): Flags {
  const flags: Flags = { rounds: 3, only: null, idleSeconds: 3600, loadedSeconds: 30, seed: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--rounds':
        flags.rounds = positive('--rounds', value);
        break;
      case '--idle-duration':
        flags.idleSeconds = positive('--idle-duration', value);
        break;
      case '--loaded-duration':
        flags.loadedSeconds = positive('--loaded-duration', value);
        break;
      case '--seed':
        flags.seed = positive('--seed', value);
        break;
      case '--only':
        if (value !== 'idle' && value !== 'loaded') usageError(`--only takes idle or loaded, got ${value ?? 'nothing'}`);
        flags.only = value;
        break;
      default:
        usageError(`unknown argument ${argv[i]} (usage: ${USAGE})`);
    }
  }
  return flags;
}

const NO_CLIENTS = { clients: 0, instances: 0, watchers: 0 };

function idleConfig(seconds: number): PartialRunConfig {
  return { name: 'bench-idle', durationMs: seconds * 1000, settleMs: 0, workload: NO_CLIENTS, nemesis: { kind: 'none' } };
}

function loadedConfig(seconds: number): PartialRunConfig {
  return {
    name: 'bench-loaded',
    durationMs: seconds * 1000,
    workload: { kind: 'mixed', clients: 50 },
    nemesis: { kind: 'generated', meanGapMs: 3000, meanFaultMs: 1500, weights: { partition: 1 } },
  };
}

interface Round {
  simWallMs: number;
  simCpuMs: number;
  checkWallMs: number;
  simulatedMs: number;
  events: number;
  delivered: number;
  operations: number;
  hash: string;
  ok: boolean;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function once(config: PartialRunConfig, seed: number): Round {
  let cpuAtStart = 0;
  let cpuAtEnd = 0;
  const started = performance.now();
  const result = runSimulation({
    seed,
    config,
    onWorld: () => {
      cpuAtStart = cpuMs();
    },
    onProgress: (p) => {
      // Only at the end: reading the CPU clock is a system call, and an idle run reports thousands of seconds.
      if (p.simMs >= p.endMs) cpuAtEnd = cpuMs();
    },
  });
  const total = performance.now() - started;
  const s = result.summary;
  return {
    simWallMs: s.wallMs,
    simCpuMs: cpuAtEnd - cpuAtStart,
    checkWallMs: Math.max(0, total - s.wallMs),
    simulatedMs: s.simulatedMs,
    events: s.events,
    delivered: s.messages.delivered,
    operations: s.operations.total,
    hash: s.hash,
    ok: result.ok,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function measure(config: PartialRunConfig, flags: Flags) {
  const rounds: Round[] = [];
  for (let i = 0; i < flags.rounds; i++) rounds.push(once(config, flags.seed));
  const hashes = new Set(rounds.map((r) => r.hash));
  if (hashes.size !== 1) throw new Error(`bench/sim: ${config.name} is not deterministic: run hashes ${[...hashes].join(', ')}`);
  const first = rounds[0]!;
  const perSecond = (count: (r: Round) => number, ms: (r: Round) => number = (r) => r.simWallMs) =>
    Math.round(median(rounds.map((r) => count(r) / (Math.max(ms(r), 1) / 1000))));
  const cpu = (r: Round): number => r.simCpuMs;
  return {
    simulatedMs: first.simulatedMs,
    events: first.events,
    delivered: first.delivered,
    operations: first.operations,
    checksHeld: rounds.every((r) => r.ok),
    simWallMs: Math.round(median(rounds.map((r) => r.simWallMs))),
    eventsPerSec: perSecond((r) => r.events),
    deliveredPerSec: perSecond((r) => r.delivered),
    speedup: Number(median(rounds.map((r) => r.simulatedMs / Math.max(r.simWallMs, 1))).toFixed(1)),
    checkWallMs: Math.round(median(rounds.map((r) => r.checkWallMs))),
    cpu: {
      simCpuMs: Math.round(median(rounds.map(cpu))),
      eventsPerSec: perSecond((r) => r.events, cpu),
      deliveredPerSec: perSecond((r) => r.delivered, cpu),
      speedup: Number(median(rounds.map((r) => r.simulatedMs / Math.max(cpu(r), 1))).toFixed(1)),
    },
    hash: first.hash,
  };
}

const flags = parseArgs(process.argv.slice(2));
const out: Record<string, unknown> = { bench: 'sim', rounds: flags.rounds, seed: flags.seed };
if (flags.only !== 'loaded') out.idle = measure(idleConfig(flags.idleSeconds), flags);
if (flags.only !== 'idle') out.loaded = measure(loadedConfig(flags.loadedSeconds), flags);
console.log(JSON.stringify(out));
