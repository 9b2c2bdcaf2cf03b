// Benchmark of the Raft core alone: 3 and 5 nodes driven in-process with no simulated delays (every write is
// durable at once, every message delivered at once), proposals in batches of 1 and 64 payloads of 16 bytes.
// Prints one JSON line: committed entries per second (counted at the leader's application) and bytes
// allocated per committed entry.
//
// Allocation is measured in a child process started with --expose-gc and a young generation large enough
// (--max-semi-space-size) that a short measured run triggers no garbage collection at all: then the growth of
// `heapUsed` across the run is every byte it allocated, garbage included. A PerformanceObserver counts GCs
// during the window; the figure is reported only when there were none (else null). `retainedBytesPerEntry`
// is the growth that survives a full GC afterwards (the log itself).
//
// Run: npx tsx bench/raft.ts [--entries N]   (N: entries per throughput run, default 200000)
import { spawnSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import * as raft from '../core/raft/index.ts';
import type { NodeId, RaftInput, RaftState, Ready } from '../core/raft/types.ts';

const PAYLOAD_BYTES = 16;
const TIME_CAP_MS = 10_000;
/** One proposal's messages settle in a few dozen steps; far more means the nodes are talking forever. */
const MAX_JOBS_PER_RUN = 1_000_000;

function usageError(message: string): never {
  console.error(`bench/raft: ${message}`);
  process.exit(2);
}

/** The only flag is `--entries N`; anything else is bad usage. */
function parseEntries(argv: string[]): number {
  let entries = 200_000;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--entries') usageError(`unknown argument ${argv[i]} (usage: bench/raft.ts [--entries N])`);
    const n = Number(argv[i + 1]);
    if (argv[i + 1] === undefined || !Number.isInteger(n) || n <= 0) {
      usageError(`--entries must be a positive integer, got ${argv[i + 1] ?? 'nothing'}`);
    }
    entries = n;
    i++;
  }
  return entries;
}

/** A zero-latency driver: a FIFO of (node, input) jobs; persists are durable the moment they are produced. */
class InstantCluster {
  readonly nodes = new Map<NodeId, RaftState>();
  readonly ids: NodeId[];
  // Two parallel queues rather than one of [state, input] pairs: the driver should allocate as little as it can,
  // since its garbage is counted in the bytes-per-entry figure too.
  // The arrays keep their capacity between runs (only `jobCount` resets) so the queue itself stops allocating.
  private readonly jobStates: RaftState[] = [];
  private readonly jobInputs: RaftInput[] = [];
  private jobCount = 0;
  private readonly durable = new Map<NodeId, { index: number; term: number }>();
  appliedAtLeader = 0;
  leader: NodeId;

  constructor(size: number) {
    this.ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    for (const id of this.ids) {
      this.nodes.set(id, raft.createNode({ id, seed: 1, maxInflightMessages: 256 }, { voters: this.ids }));
      this.durable.set(id, { index: 0, term: 0 });
    }
    this.leader = this.ids[0];
    for (const id of this.ids) this.run(this.nodes.get(id)!, { type: 'tick', now: 0 });
    this.run(this.nodes.get(this.leader)!, { type: 'campaign' });
    if (this.nodes.get(this.leader)!.role !== 'leader') throw new Error('bench/raft: n1 did not become leader');
  }

  /** Steps `input` and everything it causes, until the cluster is quiet. */
  run(state: RaftState, input: RaftInput): void {
    this.push(state, input);
    // The queue is drained by index so a batch of follow-up jobs costs no array shifting.
    for (let i = 0; i < this.jobCount; i++) {
      if (i > MAX_JOBS_PER_RUN) throw new Error(`bench/raft: one proposal caused over ${MAX_JOBS_PER_RUN} steps; the cluster never went quiet`);
      const s = this.jobStates[i]!;
      this.handle(s, raft.step(s, this.jobInputs[i]!));
    }
    this.jobCount = 0;
  }

  private push(state: RaftState, input: RaftInput): void {
    this.jobStates[this.jobCount] = state;
    this.jobInputs[this.jobCount] = input;
    this.jobCount++;
  }

  private handle(state: RaftState, ready: Ready): void {
    const p = ready.persist;
    if (p) {
      const d = this.durable.get(state.id)!;
      if (p.entries.length > 0) {
        const last = p.entries[p.entries.length - 1];
        d.index = last.index;
        d.term = last.term;
      } else if (p.snapshot) {
        d.index = p.snapshot.index;
        d.term = p.snapshot.term;
      }
      this.push(state, { type: 'persisted', index: d.index, term: d.term });
    }
    for (const out of ready.messages) this.push(this.nodes.get(out.message.to)!, { type: 'message', message: out.message });
    if (ready.committed.length > 0) {
      const last = ready.committed[ready.committed.length - 1].index;
      if (state.id === this.leader) {
        for (const e of ready.committed) if (e.kind === 'normal') this.appliedAtLeader++;
      }
      this.push(state, { type: 'applied', index: last });
    }
  }

  propose(batch: Uint8Array[]): void {
    this.run(this.nodes.get(this.leader)!, { type: 'propose', payloads: batch });
  }
}

function makeBatch(size: number, counter: { n: number }): Uint8Array[] {
  const batch: Uint8Array[] = [];
  for (let i = 0; i < size; i++) {
    const p = new Uint8Array(PAYLOAD_BYTES);
    const n = counter.n++;
    p[0] = n >>> 24;
    p[1] = (n >>> 16) & 0xff;
    p[2] = (n >>> 8) & 0xff;
    p[3] = n & 0xff;
    batch.push(p);
  }
  return batch;
}

function throughput(size: number, batchSize: number, entries: number): { entriesPerSec: number; entries: number } {
  const cluster = new InstantCluster(size);
  const counter = { n: 0 };
  const start = process.hrtime.bigint();
  const deadline = Date.now() + TIME_CAP_MS;
  while (cluster.appliedAtLeader < entries && Date.now() < deadline) cluster.propose(makeBatch(batchSize, counter));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { entriesPerSec: Math.round(cluster.appliedAtLeader / seconds), entries: cluster.appliedAtLeader };
}

function allocation(size: number, batchSize: number, entries: number): { allocated: number | null; retained: number } {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const cluster = new InstantCluster(size);
  const counter = { n: 0 };
  // Warm up so the JIT's own allocations stay out of the window.
  const deadline = Date.now() + TIME_CAP_MS;
  while (cluster.appliedAtLeader < 20_000 && Date.now() < deadline) cluster.propose(makeBatch(batchSize, counter));
  const batches = Array.from({ length: Math.ceil(entries / batchSize) }, () => makeBatch(batchSize, counter));
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  gc();
  observer.observe({ entryTypes: ['gc'] });
  const before = process.memoryUsage().heapUsed;
  const appliedBefore = cluster.appliedAtLeader;
  for (const batch of batches) cluster.propose(batch);
  const after = process.memoryUsage().heapUsed;
  const committed = cluster.appliedAtLeader - appliedBefore;
  if (committed === 0) throw new Error('bench/raft: nothing committed in the measured window');
  // GC entries are delivered asynchronously; takeRecords collects those already queued.
  gcs += observer.takeRecords().length;
  observer.disconnect();
  gc();
  const retained = process.memoryUsage().heapUsed;
  // The pre-built batches were counted in `before`: keep them alive through the last GC so they cancel out.
  if (batches.length === 0) console.error('bench/raft: no batches');
  return {
    allocated: gcs === 0 ? Math.round((after - before) / committed) : null,
    retained: Math.round((retained - before) / committed),
  };
}

const CASES: Array<[number, number]> = [
  [3, 1],
  [3, 64],
  [5, 1],
  [5, 64],
];

const childFlag = process.argv.indexOf('--allocation-child');
if (childFlag >= 0) {
  // One shape per child process, so one shape's JIT warm-up and heap layout do not leak into another's figure.
  const [size, batch] = (process.argv[childFlag + 1] ?? '').split(':').map(Number);
  console.log(JSON.stringify(allocation(size!, batch!, batch === 1 ? 50_000 : 200_000)));
} else {
  const entries = parseEntries(process.argv.slice(2));
  const throughputs: Record<string, number> = {};
  // A warm-up run per shape lets the JIT settle so the figures are the steady state.
  for (const [size, batch] of CASES) throughput(size, batch, Math.min(entries, 20_000));
  for (const [size, batch] of CASES) throughputs[`${size}n-b${batch}`] = throughput(size, batch, batch === 1 ? Math.ceil(entries / 4) : entries).entriesPerSec;
  type Allocation = Record<string, { allocated: number | null; retained: number }>;
  const alloc: Allocation = {};
  for (const [size, batch] of CASES) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, '--expose-gc', '--max-semi-space-size=512', process.argv[1]!, '--allocation-child', `${size}:${batch}`],
      { encoding: 'utf8', timeout: 120_000 },
    );
    try {
      alloc[`${size}n-b${batch}`] = JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as Allocation[string];
    } catch {
      console.error(`bench/raft: allocation child ${size}:${batch} failed: ${child.stderr.trim().split('\n')[0] ?? child.status}`);
    }
  }
  const bytesPerEntry: Record<string, number | null> = {};
  const retainedBytesPerEntry: Record<string, number | null> = {};
  for (const [size, batch] of CASES) {
    const key = `${size}n-b${batch}`;
    bytesPerEntry[key] = alloc[key]?.allocated ?? null;
    retainedBytesPerEntry[key] = alloc[key]?.retained ?? null;
  }
  console.log(
    JSON.stringify({
      bench: 'raft',
      payloadBytes: PAYLOAD_BYTES,
      entriesPerSec: throughputs,
      bytesPerEntry,
      retainedBytesPerEntry,
    }),
  );
}
