// Benchmark of the replica core: client writes end to end (request -> Raft -> persist -> commit -> apply ->
// reply) on one member and on three members with every message delivered in process, plus the cost of the
// simulator's observation (observeReplica, O(1) since the store keeps its tree hash up to date, and the
// from-scratch tree hash it saves).
// No I/O: this is the core's own speed. Prints one JSON line.
//
// Run: npx tsx bench/replica.ts [--writes N]
import { keysRequest } from '../core/api/index.ts';
import { computeTreeHash } from '../core/kv/index.ts';
import type { PersistedState } from '../core/raft/index.ts';
import {
  createReplica,
  observeReplica,
  persistedPoint,
  stepReplica,
  type PeerMessage,
  type ReplicaInput,
  type ReplicaReady,
  type ReplicaState,
} from '../core/replica/index.ts';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench/replica: ${name} must be a positive integer, got ${process.argv[i + 1] ?? 'nothing'}`);
    process.exit(2);
  }
  return n;
}

const writes = flag('--writes', 20_000);

interface Node {
  state: ReplicaState;
  disk: PersistedState;
}

/** A minimal in-process world: persists count as durable at once, messages are delivered in FIFO order. */
function world(ids: string[]) {
  const nodes = new Map<string, Node>();
  for (const id of ids) {
    nodes.set(id, {
      state: createReplica({ id, raft: { electionTimeoutMs: 300, heartbeatIntervalMs: 50 }, snapshotEvery: 5000 }, { voters: ids }),
      disk: { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
    });
  }
  const queue: PeerMessage[] = [];
  let steps = 0;
  let replies = 0;
  const step = (id: string, input: ReplicaInput): void => {
    const node = nodes.get(id)!;
    const ready: ReplicaReady = stepReplica(node.state, input);
    steps++;
    replies += ready.replies.length;
    for (const m of ready.messages) queue.push(m.message);
    const point = ready.persist === null ? null : persistedPoint(ready.persist);
    if (point !== null) step(id, { type: 'persisted', index: point.index, term: point.term });
  };
  const drain = (): void => {
    while (queue.length > 0) {
      const m = queue.shift()!;
      step(m.to, { type: 'message', message: m });
    }
  };
  return { nodes, step, drain, stats: () => ({ steps, replies }) };
}

function measure(ids: string[], origin: (i: number) => string) {
  const w = world(ids);
  const leader = ids[0]!;
  let now = 1_800_000_000_000;
  for (const id of ids) w.step(id, { type: 'tick', now });
  w.step(leader, { type: 'campaign' });
  w.drain();
  let requestId = 0;
  const started = performance.now();
  for (let i = 0; i < writes; i++) {
    if (i % 100 === 0) {
      now += 10;
      for (const id of ids) w.step(id, { type: 'tick', now });
    }
    w.step(origin(i), { type: 'request', id: ++requestId, request: keysRequest('PUT', `/bench/k${i % 1000}`, { value: String(i) }) });
    w.drain();
  }
  const ms = performance.now() - started;
  const { steps, replies } = w.stats();
  if (replies < writes) throw new Error(`bench/replica: only ${replies} of ${writes} writes were answered`);
  const state = w.nodes.get(leader)!.state;
  const observeStarted = performance.now();
  const observations = 200;
  for (let i = 0; i < observations; i++) observeReplica(state);
  const observeUs = ((performance.now() - observeStarted) * 1000) / observations;
  const digestStarted = performance.now();
  for (let i = 0; i < observations; i++) computeTreeHash(state.replicated.store.root);
  const digestUs = ((performance.now() - digestStarted) * 1000) / observations;
  return {
    writesPerSec: Math.round((writes / ms) * 1000),
    stepsPerWrite: Number((steps / writes).toFixed(2)),
    keys: 1000,
    fullTreeHashUs: Number(digestUs.toFixed(1)),
    observeUs: Number(observeUs.toFixed(2)),
  };
}

const single = measure(['a'], () => 'a');
const three = measure(['a', 'b', 'c'], (i) => ['a', 'b', 'c'][i % 3]!);
console.log(JSON.stringify({ bench: 'replica', writes, single, threeMembersRoundRobin: three }));
