// Micro-benchmark of the simulated world's hot path: scheduler + network (+ disk in the second figure) with
// toy gossip nodes. Prints one JSON line. Bounded by an event budget, never by wall time.
// Run: npx tsx bench/world.ts [--events N]
import { gossipCodec, gossipProgram } from '../sim/world/toy-gossip.ts';
import { Scheduler } from '../sim/world/scheduler.ts';
import { World } from '../sim/world/world.ts';

const flag = process.argv.indexOf('--events');
const budget = flag >= 0 ? Number(process.argv[flag + 1]) : 2_000_000;
if (!Number.isInteger(budget) || budget <= 0) {
  console.error(`bench/world: --events must be a positive integer, got ${process.argv[flag + 1]}`);
  process.exit(2);
}

function measure(persist: boolean, events: number): { eventsPerSec: number; events: number; virtualMs: number; hash: string } {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const world = new World(gossipProgram({ tickMs: 10, persist, reportMessages: false }), {
    seed: 42,
    nodes,
    codec: gossipCodec,
    network: { defaultLink: { latency: { kind: 'lognormal', medianMs: 2, sigma: 0.5, maxMs: 50 }, loss: 0.01, duplicate: 0.01, reorder: 0.1 } },
  });
  const start = process.hrtime.bigint();
  const result = world.run({ maxEvents: events });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { eventsPerSec: Math.round(result.events / seconds), events: result.events, virtualMs: Math.round(world.now), hash: result.hash };
}

/** The queue alone: schedule/pop pairs per second with ~10,000 events pending (a busy world's queue depth). */
function measureScheduler(pairs: number): number {
  const s = new Scheduler<number>();
  let x = 1;
  const later = (): number => {
    x = (x * 1103515245 + 12345) >>> 0; // a fixed LCG: the same delays every run
    return s.now + (x % 1000) / 10;
  };
  for (let i = 0; i < 10_000; i++) s.schedule(later(), i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < pairs; i++) {
    s.pop();
    s.schedule(later(), i);
  }
  return Math.round(pairs / (Number(process.hrtime.bigint() - start) / 1e9));
}

// A short warm-up lets the JIT settle so the figure is the steady state.
measure(false, 200_000);
const network = measure(false, budget);
const withDisk = measure(true, budget);
measureScheduler(200_000);
const schedulerPairsPerSec = measureScheduler(budget);
console.log(
  JSON.stringify({
    bench: 'world',
    nodes: 5,
    eventsPerSec: network.eventsPerSec,
    eventsPerSecWithDisk: withDisk.eventsPerSec,
    schedulerPairsPerSec,
    events: network.events,
    virtualMs: network.virtualMs,
    hash: network.hash,
  }),
);
