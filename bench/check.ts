// Benchmark of the linearizability checker on the published Jepsen etcd logs and Porcupine kv logs (the
// reference: Porcupine takes ~0.45 s and ~0.30 s for them on a 2-core machine, parsing excluded), plus one
// large synthetic etcd history. Prints one JSON line.
//
// Each round parses and checks every file; the first round is reported on its own (cold: includes JIT
// warm-up), the figures are the median over the remaining rounds. Parse time is reported separately. The main
// figures give the verdict and longest prefix (like Porcupine's); `*ExplainedMs` also shrink each failure to
// its essential reads, as `raftsim check` does.
//
// Run: npx tsx bench/check.ts [--rounds N] [--large-ops N]
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseHistory, type FormatName } from '../sim/check/formats.ts';
import type { EtcdInput, EtcdOutput, Operation } from '../sim/check/history.ts';
import { checkHistory, checkLinearizability } from '../sim/check/linearizability.ts';
import { etcdModel } from '../sim/check/models/etcd.ts';
import type { NodeSample, RaftObservations } from '../sim/check/history.ts';
import { checkRaftSafety } from '../sim/check/raft-safety.ts';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench/check: ${name} must be a positive integer, got ${process.argv[i + 1] ?? 'nothing'}`);
    process.exit(2);
  }
  return n;
}

const rounds = flag('--rounds', 6);
const largeOps = flag('--large-ops', 100_000);
const dataDir = resolve(import.meta.dirname, '../../shared/data/porcupine');
let names: string[];
try {
  names = readdirSync(dataDir).filter((f) => /^etcd_\d+\.log$|^c\d+-(ok|bad)\.txt$/.test(f)).sort();
} catch {
  console.error(`bench/check: no data at ${dataDir}`);
  process.exit(2);
}
const texts = names.map((name) => ({ name, format: (name.startsWith('etcd') ? 'jepsen-etcd' : 'porcupine-kv') as FormatName, text: readFileSync(join(dataDir, name), 'utf8') }));

interface Round {
  parseMs: number;
  etcdMs: number;
  kvMs: number;
  /** The same checks, failures shrunk to their essential reads (what `raftsim check` does). */
  etcdExplainedMs: number;
  kvExplainedMs: number;
  perFile: Map<string, number>;
}

function round(): Round {
  const r: Round = { parseMs: 0, etcdMs: 0, kvMs: 0, etcdExplainedMs: 0, kvExplainedMs: 0, perFile: new Map() };
  for (const { name, format, text } of texts) {
    const t0 = performance.now();
    const history = parseHistory(format, text);
    const t1 = performance.now();
    // Verdict and longest prefix only, as Porcupine's figures are.
    checkHistory(history, { minimize: false });
    const t2 = performance.now();
    checkHistory(history);
    const t3 = performance.now();
    r.parseMs += t1 - t0;
    if (format === 'jepsen-etcd') {
      r.etcdMs += t2 - t1;
      r.etcdExplainedMs += t3 - t2;
    } else {
      r.kvMs += t2 - t1;
      r.kvExplainedMs += t3 - t2;
    }
    r.perFile.set(name, t2 - t1);
  }
  return r;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number): number => Math.round(x * 10) / 10;

const cold = round();
const warm: Round[] = [];
for (let i = 1; i < rounds; i++) warm.push(round());
const measured = warm.length > 0 ? warm : [cold];
const slowest = names
  .map((name) => ({ file: name, ms: ms(median(measured.map((r) => r.perFile.get(name)!))) }))
  .sort((a, b) => b.ms - a.ms)
  .slice(0, 5);

// A large simulator-like etcd history: 16 keys, 24 clients with overlapping calls, 5% indeterminate writes.
function largeHistory(count: number): Operation<EtcdInput, EtcdOutput>[] {
  let seed = 0x9e3779b9;
  const random = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const store = new Map<string, { value: string; index: number }>();
  let index = 0;
  const clientFree = new Array<number>(24).fill(0);
  const ops: Operation<EtcdInput, EtcdOutput>[] = [];
  for (let k = 0; k < count; k++) {
    const at = 10 * (k + 1);
    const key = `/k${random(16)}`;
    const node = store.get(key);
    const info = random(20) === 0;
    let input: EtcdInput;
    let output: EtcdOutput;
    if (random(2) === 0) {
      input = { f: 'get' };
      output = node ? { value: node.value, index: node.index } : { error: 100, index };
    } else {
      input = { f: 'set', value: `v${k}` };
      index++;
      store.set(key, { value: input.value, index });
      output = { index };
    }
    const call = at - random(60);
    let client = clientFree.findIndex((t) => t < call);
    if (client < 0) {
      client = clientFree.length;
      clientFree.push(0);
    }
    const ret = at + random(60);
    clientFree[client] = info ? Infinity : ret;
    const outcome = info && input.f === 'set' ? 'info' : 'ok';
    ops.push({ id: k, client, key, input, output: outcome === 'ok' ? output : null, outcome, call, ret });
  }
  return ops;
}

// Raft observations of a 5-node cluster: `entries` entries appended in batches of 10, a new leader every
// ENTRIES_PER_TERM entries (1,000 elections for 100,000 entries), every node sampled after every batch, every
// committed entry acknowledged.
const ENTRIES_PER_TERM = 100;
function raftRun(entries: number): RaftObservations {
  const nodes = 5;
  const samples: NodeSample[] = [];
  const acked: RaftObservations['acked'] = [];
  let time = 0;
  for (let first = 1, term = 1; first <= entries; first += 10) {
    if ((first - 1) % ENTRIES_PER_TERM === 0 && first > 1) term++;
    const leader = term % nodes;
    const batch: [number, string][] = [];
    for (let i = first; i < first + 10; i++) batch.push([term, `e${i}`]);
    const last = first + 9;
    for (let node = 0; node < nodes; node++) {
      time++;
      samples.push({ node, time, role: node === leader ? 'leader' : 'follower', term, commitIndex: last - 10, lastIndex: last, applied: last - 10, log: { from: first, entries: batch } });
    }
    for (let i = first; i < first + 10; i++) acked.push({ op: i, time, raftIndex: i - 10 > 0 ? i - 10 : i, raftTerm: 0, digest: '' });
  }
  // Acknowledge what is committed, with its real term and digest.
  for (const a of acked) {
    a.raftTerm = Math.floor((a.raftIndex - 1) / ENTRIES_PER_TERM) + 1;
    a.digest = `e${a.raftIndex}`;
  }
  return { samples, acked };
}

const raft = raftRun(largeOps);
const r0 = performance.now();
const raftResult = checkRaftSafety(raft);
const raftMs = performance.now() - r0;

const large = largeHistory(largeOps);
const t0 = performance.now();
const largeResult = checkLinearizability(etcdModel, large, { timeoutMs: 60_000 });
const largeMs = performance.now() - t0;

console.log(
  JSON.stringify({
    bench: 'check',
    rounds,
    etcdLogs: names.filter((n) => n.startsWith('etcd')).length,
    kvLogs: names.filter((n) => !n.startsWith('etcd')).length,
    etcdCheckMs: ms(median(measured.map((r) => r.etcdMs))),
    kvCheckMs: ms(median(measured.map((r) => r.kvMs))),
    parseMs: ms(median(measured.map((r) => r.parseMs))),
    etcdExplainedMs: ms(median(measured.map((r) => r.etcdExplainedMs))),
    kvExplainedMs: ms(median(measured.map((r) => r.kvExplainedMs))),
    coldEtcdCheckMs: ms(cold.etcdMs),
    coldKvCheckMs: ms(cold.kvMs),
    slowest,
    large: { ops: large.length, keys: largeResult.partitions.length, verdict: largeResult.verdict, checkMs: ms(largeMs), steps: largeResult.steps },
    raftSafety: { samples: raft.samples.length, acked: raft.acked.length, terms: Math.ceil(largeOps / ENTRIES_PER_TERM), ok: raftResult.ok, checkMs: ms(raftMs) },
    reference: { porcupineEtcdMs: 450, porcupineKvMs: 300 },
  }),
);
