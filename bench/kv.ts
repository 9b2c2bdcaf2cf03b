// Benchmark of the etcd v2 store and API alone. Prints one JSON line:
// - writesPerSec: store commands per second when every command is a plain set of one of the 10 000 keys;
// - applyPerSec: store commands per second for a mixed workload (40% set, 25% get, 10% compare-and-swap,
//   10% set with a TTL, 5% create, 5% delete, 5% recursive get of a directory) over 10 000 keys in 100
//   directories, with 100 registered watches, an expiry tick every 500 simulated ms, 1 simulated ms per
//   command;
// - httpRoundTripsPerSec: parseKeysRequest -> apply -> renderKeysResponse for PUTs and GETs;
// - encodeMs / encodedBytes / cloneMs: checkpointing the final store.
// Every loop is bounded by its count and by TIME_CAP_MS.
//
// Run: npx tsx bench/kv.ts [--commands N]   (default 1000000)
import { parseKeysRequest, renderKeysResponse, replyOf } from '../core/api/index.ts';
import * as kv from '../core/kv/index.ts';
import type { KeysRequest, KvCommand } from '../core/kv/index.ts';

const TIME_CAP_MS = 20_000;
const KEYS = 10_000;
const DIRS = 100;
const T0 = Date.UTC(2026, 0, 1);

function parseCommands(argv: string[]): number {
  const i = argv.indexOf('--commands');
  if (i < 0) return 1_000_000;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench/kv: --commands must be a positive integer, got ${argv[i + 1] ?? 'nothing'}`);
    process.exit(2);
  }
  return n;
}

// A small deterministic PRNG (xorshift32), so runs are comparable.
let seed = 0x9e3779b9;
function rand(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

function request(method: KeysRequest['method'], path: string, fields: Partial<KeysRequest> = {}): KeysRequest {
  return {
    method, path, value: '', dir: false, prevValue: '', prevIndex: 0, prevExist: null, ttlSeconds: null, refresh: false,
    wait: false, waitIndex: 0, recursive: false, sorted: false, quorum: false, stream: false, noValueOnSuccess: false, ...fields,
  };
}

const keyPath = (i: number): string => `/d${i % DIRS}/k${i}`;

function nextCommand(step: number): KvCommand {
  const timeMs = T0 + step;
  if (step % 500 === 0) return { kind: 'expire', timeMs };
  const r = rand(100);
  const key = keyPath(rand(KEYS));
  let req: KeysRequest;
  if (r < 40) req = request('PUT', key, { value: `v${step}` });
  else if (r < 65) req = request('GET', key);
  else if (r < 75) req = request('PUT', key, { value: `c${step}`, prevValue: `v${step - 1 - rand(3)}` });
  else if (r < 85) req = request('PUT', key, { value: `t${step}`, ttlSeconds: 1 + rand(5) });
  else if (r < 90) req = request('PUT', key, { value: 'n', prevExist: false });
  else if (r < 95) req = request('DELETE', key);
  else req = request('GET', `/d${rand(DIRS)}`, { recursive: true, sorted: true });
  return { kind: 'request', request: req, timeMs };
}

function benchApply(commands: number): { applyPerSec: number; applied: number; store: kv.KvStore } {
  const store = kv.newStore();
  for (let i = 0; i < KEYS; i++) kv.applyCommand(store, { kind: 'request', request: request('PUT', keyPath(i), { value: 'init' }), timeMs: T0 });
  for (let i = 0; i < 100; i++) kv.watch(store, `/d${i % DIRS}`, true, true, 0);
  const cmds: KvCommand[] = [];
  for (let i = 0; i < Math.min(commands, 200_000); i++) cmds.push(nextCommand(i + 1));
  const started = performance.now();
  let applied = 0;
  while (applied < commands && performance.now() - started < TIME_CAP_MS) {
    const base = cmds[applied % cmds.length]!;
    // Re-used commands get fresh times so expiry keeps moving forward.
    kv.applyCommand(store, { ...base, timeMs: T0 + applied + 1 } as KvCommand);
    applied++;
  }
  const seconds = (performance.now() - started) / 1000;
  return { applyPerSec: Math.round(applied / seconds), applied, store };
}

function benchWrites(commands: number): number {
  const store = kv.newStore();
  const reqs = Array.from({ length: KEYS }, (_, i) => request('PUT', keyPath(i), { value: 'v' }));
  const started = performance.now();
  let applied = 0;
  while (applied < commands && performance.now() - started < TIME_CAP_MS) {
    kv.applyCommand(store, { kind: 'request', request: reqs[applied % KEYS]!, timeMs: T0 + applied });
    applied++;
  }
  return Math.round(applied / ((performance.now() - started) / 1000));
}

function benchHttp(rounds: number): number {
  const store = kv.newStore();
  const started = performance.now();
  let done = 0;
  while (done < rounds && performance.now() - started < TIME_CAP_MS) {
    const key = `/v2/keys/d${done % DIRS}/k${done % KEYS}`;
    const input =
      done % 2 === 0
        ? { method: 'PUT', path: key, query: 'ttl=30', body: `value=v${done}`, contentType: 'application/x-www-form-urlencoded' }
        : { method: 'GET', path: key, query: '', body: '', contentType: null };
    const parsed = parseKeysRequest(input);
    if (parsed.ok) {
      const out = kv.applyCommand(store, { kind: 'request', request: parsed.request, timeMs: T0 + done });
      renderKeysResponse(replyOf(parsed.request, out.result!));
    }
    done++;
  }
  return Math.round(done / ((performance.now() - started) / 1000));
}

const commands = parseCommands(process.argv.slice(2));
const writesPerSec = benchWrites(commands);
const { applyPerSec, applied, store } = benchApply(commands);
const httpRoundTripsPerSec = benchHttp(Math.min(commands, 300_000));
let t = performance.now();
const bytes = kv.encodeStore(store);
const encodeMs = Math.round(performance.now() - t);
t = performance.now();
kv.cloneStore(store);
const cloneMs = Math.round(performance.now() - t);
console.log(
  JSON.stringify({
    bench: 'kv',
    commands: applied,
    writesPerSec,
    applyPerSec,
    httpRoundTripsPerSec,
    storeIndex: store.index,
    encodedBytes: bytes.length,
    encodeMs,
    cloneMs,
  }),
);
