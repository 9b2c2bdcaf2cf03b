// The trace file: one simulated run, enough to re-run it event for event and to draw it.
//
// A trace is a gzip-compressed stream of msgpack values (docs/TRACE.md):
//   1. the header: format name and version, the raftsim version that wrote it, seed, scenario, mutant, the full
//      run config with the fault schedule written out, and the scenario's expectation;
//   2. event chunks: per processed world event its virtual time, its one-line description and the run hash
//      after it (the running hash replay compares at every step);
//   3. the end record: event count, final hash, verdicts, summary, and what a viewer draws (per-node role/term/
//      commit changes, client operations, the linearizability failure).
// Nothing in it depends on the wall clock, so the same run writes the same bytes.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeMulti, encode } from '@msgpack/msgpack';
import { configFromTrace, configProblems, type PartialRunConfig, type RunConfig } from '../config.ts';
import type { EtcdInput, EtcdOutput, Operation } from '../check/history.ts';
import type { FailureEvidence } from '../check/linearizability.ts';
import type { RunNemesisEvent } from '../world/nemesis.ts';
import type { CheckerName, ScenarioExpectation } from '../../scenarios/types.ts';

export const TRACE_FORMAT = 'raftsim-trace';
export const TRACE_VERSION = 1;
/** Events per chunk: small enough to stream, large enough that chunk overhead is noise. */
export const EVENTS_PER_CHUNK = 4096;

export const RAFTSIM_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
})();

export class TraceError extends Error {
  override name = 'TraceError';
}

export interface TraceHeader {
  format: typeof TRACE_FORMAT;
  version: number;
  raftsim: string;
  scenario: string;
  seed: number;
  /** A named bug of the zoo (sim/mutants) the run was made with, or null for the real code. */
  mutant: string | null;
  /** Complete: every default filled in and the fault schedule written out (`nemesis.kind` is 'schedule'). */
  config: RunConfig;
  expect: ScenarioExpectation;
}

/** One processed world event. */
export interface TraceEvent {
  time: number;
  text: string;
  /** Run hash after the event, 16 hex digits. */
  hash: string;
}

/** A node's visible state from `time` on (the viewer's lanes). */
export interface NodeChange {
  node: number;
  time: number;
  role: string;
  term: number;
  commit: number;
  /** `crash` ends an incarnation; `restart` starts one; `removed`: the member left the cluster (its process stopped). */
  event?: 'crash' | 'restart' | 'removed';
}

export interface TraceVerdict {
  checker: string;
  ok: boolean;
  summary: string;
}

export interface TraceEnd {
  events: number;
  hash: string;
  simulatedMs: number;
  ok: boolean;
  asExpected: boolean;
  verdicts: TraceVerdict[];
  /** Every member in observation-index order (members added during the run come last). */
  nodes: string[];
  /** The faults as carried out: when each fired and the node ids it hit (role targets resolved). */
  faults: RunNemesisEvent[];
  changes: NodeChange[];
  operations: Array<Operation<EtcdInput, EtcdOutput>>;
  failure: FailureEvidence | null;
}

export interface Trace {
  header: TraceHeader;
  events: TraceEvent[];
  end: TraceEnd;
}

// ---- writing ----

function hashWords(events: readonly TraceEvent[]): Uint8Array {
  const out = new Uint8Array(events.length * 8);
  for (let i = 0; i < events.length; i++) {
    const h = events[i]!.hash;
    for (let b = 0; b < 8; b++) out[i * 8 + b] = parseInt(h.slice(b * 2, b * 2 + 2), 16);
  }
  return out;
}

function timeWords(events: readonly TraceEvent[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(events.length * 8));
  events.forEach((e, i) => view.setFloat64(i * 8, e.time, true));
  return new Uint8Array(view.buffer);
}

export function encodeTrace(trace: Trace): Uint8Array {
  const parts: Uint8Array[] = [encode({ type: 'header', ...trace.header }, { ignoreUndefined: true })];
  for (let from = 0; from < trace.events.length; from += EVENTS_PER_CHUNK) {
    const chunk = trace.events.slice(from, from + EVENTS_PER_CHUNK);
    parts.push(encode({ type: 'events', from, times: timeWords(chunk), hashes: hashWords(chunk), texts: chunk.map((e) => e.text) }));
  }
  parts.push(encode({ type: 'end', ...trace.end }, { ignoreUndefined: true }));
  // Fixed compression settings and no file name or time in the gzip header: the same trace, the same bytes.
  return gzipSync(Buffer.concat(parts), { level: 6 });
}

const GZIP_MAGIC = [0x1f, 0x8b];

function unzip(bytes: Uint8Array): Uint8Array {
  need(bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1], 'trace', 'not a raftsim trace (a trace is gzip-compressed msgpack; this file does not start with the gzip magic bytes)');
  try {
    return gunzipSync(bytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TraceError(`trace: ${code === 'Z_BUF_ERROR' ? 'truncated: the compressed data ends early (the file was cut short)' : `damaged compressed data (${(err as Error).message})`}`);
  }
}

// ---- reading ----

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function need(cond: boolean, where: string, what: string): asserts cond {
  if (!cond) throw new TraceError(`${where}: ${what}`);
}

function hexOf(bytes: Uint8Array, at: number): string {
  let s = '';
  for (let b = 0; b < 8; b++) s += bytes[at + b]!.toString(16).padStart(2, '0');
  return s;
}

/** Every checker a run's verdicts carry, in verdict order. */
export const CHECKERS: readonly CheckerName[] = ['linearizability', 'raft-safety', 'ttl', 'watch', 'store-agreement', 'queue-order', 'invariants', 'liveness'];

function checkHeader(v: unknown): TraceHeader {
  need(isObj(v) && v.type === 'header', 'header', 'the file does not start with a raftsim trace header (is it a trace?)');
  need(v.format === TRACE_FORMAT, 'header', `format is ${JSON.stringify(v.format)}, expected "${TRACE_FORMAT}"`);
  need(typeof v.version === 'number', 'header.version', 'missing');
  need(v.version === TRACE_VERSION, 'header.version', `this raftsim reads trace version ${TRACE_VERSION}, the file is version ${String(v.version)}`);
  need(typeof v.raftsim === 'string', 'header.raftsim', 'expected the raftsim version string');
  need(typeof v.scenario === 'string' && v.scenario.length > 0, 'header.scenario', 'expected a scenario name');
  need(typeof v.seed === 'number' && Number.isSafeInteger(v.seed) && v.seed >= 0 && v.seed <= 0xffffffff, 'header.seed', 'expected an integer in [0, 2^32)');
  need(v.mutant === null || typeof v.mutant === 'string', 'header.mutant', 'expected a bug name or null');
  need(isObj(v.config), 'header.config', 'expected the run config');
  let config: RunConfig | null = null;
  const problems = (() => {
    try {
      config = configFromTrace(v.config as PartialRunConfig);
      return configProblems(config);
    } catch (err) {
      return [`unreadable (${err instanceof Error ? err.message : String(err)})`];
    }
  })();
  need(problems.length === 0, 'header.config', problems[0] ?? '');
  const expect = v.expect;
  need(
    isObj(expect) && (expect.kind === 'pass' || (expect.kind === 'violation' && CHECKERS.includes(expect.checker as CheckerName))),
    'header.expect',
    'expected {kind: "pass"} or {kind: "violation", checker}',
  );
  const { type: _t, ...header } = v;
  return { ...header, config } as unknown as TraceHeader;
}

function checkChunk(v: Obj, expectedFrom: number, where: string): TraceEvent[] {
  need(v.from === expectedFrom, `${where}.from`, `expected event ${expectedFrom}, got ${String(v.from)} (events missing or out of order)`);
  const { times, hashes, texts } = v;
  need(Array.isArray(texts) && texts.every((t) => typeof t === 'string'), `${where}.texts`, 'expected a list of strings');
  const n = (texts as string[]).length;
  need(times instanceof Uint8Array && times.length === n * 8, `${where}.times`, `expected ${n * 8} bytes`);
  need(hashes instanceof Uint8Array && hashes.length === n * 8, `${where}.hashes`, `expected ${n * 8} bytes`);
  const view = new DataView(times.buffer, times.byteOffset, times.byteLength);
  const out: TraceEvent[] = [];
  for (let i = 0; i < n; i++) {
    const time = view.getFloat64(i * 8, true);
    need(Number.isFinite(time) && time >= 0, `${where}.times[${i}]`, 'expected a finite non-negative time');
    out.push({ time, text: (texts as string[])[i]!, hash: hexOf(hashes, i * 8) });
  }
  return out;
}

function checkEnd(v: Obj, events: number): TraceEnd {
  need(v.events === events, 'end.events', `the file holds ${events} events, its end record says ${String(v.events)}`);
  need(typeof v.hash === 'string' && /^[0-9a-f]{16}$/.test(v.hash), 'end.hash', 'expected 16 hex digits');
  need(typeof v.ok === 'boolean' && typeof v.asExpected === 'boolean', 'end', 'expected ok and asExpected');
  need(typeof v.simulatedMs === 'number', 'end.simulatedMs', 'expected a number');
  need(Array.isArray(v.verdicts) && v.verdicts.every((x) => isObj(x) && typeof x.checker === 'string' && typeof x.ok === 'boolean' && typeof x.summary === 'string'), 'end.verdicts', 'expected {checker, ok, summary} records');
  need(Array.isArray(v.nodes) && v.nodes.every((x) => typeof x === 'string'), 'end.nodes', 'expected node ids');
  need(Array.isArray(v.faults) && v.faults.every((x) => isObj(x) && typeof x.kind === 'string' && typeof x.atMs === 'number'), 'end.faults', 'expected the faults as carried out');
  need(Array.isArray(v.changes) && v.changes.every((x) => isObj(x) && typeof x.node === 'number' && typeof x.time === 'number' && typeof x.role === 'string'), 'end.changes', 'expected node state changes');
  need(Array.isArray(v.operations) && v.operations.every((x) => isObj(x) && typeof x.id === 'number' && typeof x.call === 'number'), 'end.operations', 'expected client operations');
  need(v.failure === null || isObj(v.failure), 'end.failure', 'expected null or the failure evidence');
  const { type: _t, ...end } = v;
  return end as unknown as TraceEnd;
}

/** Parses a whole trace; any damage is one TraceError naming where it is. */
export function decodeTrace(compressed: Uint8Array): Trace {
  need(compressed.length > 0, 'trace', 'the file is empty');
  const bytes = unzip(compressed);
  let header: TraceHeader | null = null;
  let end: TraceEnd | null = null;
  const events: TraceEvent[] = [];
  let value = 0;
  try {
    for (const v of decodeMulti(bytes)) {
      value++;
      if (header === null) {
        header = checkHeader(v);
        continue;
      }
      need(end === null, `value ${value}`, 'data after the end record');
      need(isObj(v) && (v.type === 'events' || v.type === 'end'), `value ${value}`, 'expected an event chunk or the end record');
      if (v.type === 'events') events.push(...checkChunk(v, events.length, `events chunk at event ${events.length}`));
      else end = checkEnd(v, events.length);
    }
  } catch (err) {
    if (err instanceof TraceError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new TraceError(`${header === null ? 'header' : `after event ${events.length}`}: not valid msgpack (${reason}); the file is damaged or not a raftsim trace`);
  }
  need(header !== null, 'trace', 'no header');
  need(end !== null, 'trace', `truncated: ${events.length} events and no end record (the run was cut off or the file was cut short)`);
  return { header, events, end };
}

export function readTraceFile(path: string): Trace {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TraceError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message}`);
  }
  try {
    return decodeTrace(bytes);
  } catch (err) {
    if (err instanceof TraceError) throw new TraceError(`${path}: ${err.message}`);
    throw err;
  }
}

/** Writes atomically (a temporary file renamed over the target), so a reader never sees half a trace. */
export function writeTraceFile(path: string, trace: Trace): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, encodeTrace(trace));
  renameSync(tmp, path);
}
