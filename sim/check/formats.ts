// Parsers from text to histories: Jepsen's etcd logs, Porcupine's kv logs (EDN maps), and raftsim's own JSON
// lines. Every rejection is a FormatError naming the line, so the CLI can print one line and exit 2.
// Jepsen and Porcupine logs carry no times: the line number is the time, which preserves real-time order.
import type {
  AckedWrite,
  CommittedEvent,
  History,
  KvInput,
  KvOutput,
  ModelName,
  Operation,
  NodeSample,
  Outcome,
  RaftObservations,
  RegisterInput,
  RegisterOutput,
  WatchRecord,
} from './history.ts';
import type { TtlOptions } from './ttl.ts';

export type FormatName = 'jepsen-etcd' | 'porcupine-kv' | 'raftsim';
export const FORMATS: readonly FormatName[] = ['jepsen-etcd', 'porcupine-kv', 'raftsim'];

export class FormatError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'FormatError';
  }
}

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Pairs invocations with completions per client, which every line-oriented format needs. */
class Pairing<I, O> {
  readonly ops: Operation<I, O>[] = [];
  private readonly pending = new Map<number, Operation<I, O>>();

  invoke(line: number, client: number, key: string, input: I): void {
    const open = this.pending.get(client);
    if (open) throw new FormatError(line, `process ${client} invokes while its operation from line ${open.call} is outstanding`);
    const op: Operation<I, O> = { id: this.ops.length, client, key, input, output: null, outcome: 'info', call: line, ret: line };
    this.ops.push(op);
    this.pending.set(client, op);
  }

  /** Returns the open operation so the caller can check it matches. */
  complete(line: number, client: number, outcome: Outcome, output: O | null): Operation<I, O> {
    const op = this.pending.get(client);
    if (!op) throw new FormatError(line, `process ${client} completes an operation it never invoked`);
    this.pending.delete(client);
    op.outcome = outcome;
    op.output = outcome === 'ok' ? output : null;
    op.ret = line;
    return op;
  }

  /** Operations never completed are indeterminate. */
  finish(lastLine: number): Operation<I, O>[] {
    for (const op of this.pending.values()) op.ret = lastLine + 1;
    return this.ops;
  }
}

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

// ---------------------------------------------------------------------------------------------------------------
// Jepsen etcd: `INFO  jepsen.util - <process> <type> <f> <value>`.

const JEPSEN_LINE = /^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(\S+)\s+:(\S+)\s+(.*?)\s*$/;

function jepsenValue(line: number, text: string): number | null | [number, number] | 'timed-out' {
  if (text === 'nil') return null;
  if (text === ':timed-out') return 'timed-out';
  if (/^-?\d+$/.test(text)) return Number(text);
  const pair = /^\[\s*(-?\d+)\s+(-?\d+)\s*\]$/.exec(text);
  if (pair) return [Number(pair[1]), Number(pair[2])];
  throw new FormatError(line, `unreadable value '${shorten(text)}' (expected nil, an integer, [from to] or :timed-out)`);
}

export function parseJepsenEtcd(text: string): History<RegisterInput, RegisterOutput> {
  const pairing = new Pairing<RegisterInput, RegisterOutput>();
  const all = lines(text);
  all.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const m = JEPSEN_LINE.exec(raw);
    if (!m) throw new FormatError(line, `not a Jepsen history line: '${shorten(raw)}'`);
    const client = Number(m[1]);
    const type = m[2]!;
    const f = m[3]!;
    const value = jepsenValue(line, m[4]!);
    if (f !== 'read' && f !== 'write' && f !== 'cas') throw new FormatError(line, `unknown operation ':${f}' (expected :read, :write or :cas)`);
    if (type === 'invoke') {
      let input: RegisterInput;
      if (f === 'read') input = { f: 'read' };
      else if (f === 'write') {
        if (typeof value !== 'number') throw new FormatError(line, `a write takes an integer, got '${m[4]}'`);
        input = { f: 'write', value };
      } else {
        if (!Array.isArray(value)) throw new FormatError(line, `a cas takes [from to], got '${m[4]}'`);
        input = { f: 'cas', from: value[0], to: value[1] };
      }
      pairing.invoke(line, client, '', input);
      return;
    }
    if (type !== 'ok' && type !== 'fail' && type !== 'info') throw new FormatError(line, `unknown type ':${type}' (expected :invoke, :ok, :fail or :info)`);
    let outcome: Outcome = type;
    let output: RegisterOutput | null = null;
    if (type === 'ok') {
      if (f === 'read') {
        if (value !== null && typeof value !== 'number') throw new FormatError(line, `a read returns nil or an integer, got '${m[4]}'`);
        output = value ?? 'nil';
      } else output = true;
    } else if (type === 'fail' && f === 'cas') {
      // Jepsen's etcd client reports a compare that did not match as a failed cas: it happened.
      outcome = 'ok';
      output = false;
    }
    const op = pairing.complete(line, client, outcome, output);
    if (op.input.f !== f) throw new FormatError(line, `process ${client} completes :${f} but invoked :${op.input.f} on line ${op.call}`);
  });
  return { model: 'register', ops: pairing.finish(all.length) };
}

// ---------------------------------------------------------------------------------------------------------------
// Porcupine kv: `{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}`.

type EdnValue = string | number | null | { keyword: string };

function parseEdnMap(line: number, raw: string): Map<string, EdnValue> {
  const text = raw.trim();
  if (!text.startsWith('{') || !text.endsWith('}')) throw new FormatError(line, `not an EDN map: '${shorten(raw)}'`);
  const map = new Map<string, EdnValue>();
  let i = 1;
  const end = text.length - 1;
  const skip = (): void => {
    while (i < end && (text[i] === ' ' || text[i] === ',' || text[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < end && !/[\s,}]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  for (;;) {
    skip();
    if (i >= end) break;
    if (text[i] !== ':') throw new FormatError(line, `expected a keyword at column ${i + 1}: '${shorten(raw)}'`);
    const name = token().slice(1);
    skip();
    let value: EdnValue;
    if (text[i] === '"') {
      let s = '';
      i++;
      while (i < end && text[i] !== '"') {
        if (text[i] === '\\') {
          i++;
          const c = text[i];
          s += c === 'n' ? '\n' : c === 't' ? '\t' : (c ?? '');
        } else s += text[i];
        i++;
      }
      if (text[i] !== '"') throw new FormatError(line, `unterminated string for :${name}`);
      i++;
      value = s;
    } else {
      const word = token();
      if (word === 'nil') value = null;
      else if (word.startsWith(':') && word.length > 1) value = { keyword: word.slice(1) };
      else if (/^-?\d+$/.test(word)) value = Number(word);
      else throw new FormatError(line, `unreadable value for :${name}: '${shorten(word)}'`);
    }
    map.set(name, value);
  }
  return map;
}

function keyword(line: number, map: Map<string, EdnValue>, name: string): string {
  const v = map.get(name);
  if (v === null || typeof v !== 'object') throw new FormatError(line, `:${name} must be a keyword`);
  return v.keyword;
}

export function parsePorcupineKv(text: string): History<KvInput, KvOutput> {
  const pairing = new Pairing<KvInput, KvOutput>();
  const all = lines(text);
  all.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const map = parseEdnMap(line, raw);
    const process = map.get('process');
    if (typeof process !== 'number') throw new FormatError(line, ':process must be an integer');
    const type = keyword(line, map, 'type');
    const f = keyword(line, map, 'f');
    if (f !== 'get' && f !== 'put' && f !== 'append') throw new FormatError(line, `unknown operation ':${f}' (expected :get, :put or :append)`);
    const key = map.get('key');
    if (typeof key !== 'string') throw new FormatError(line, ':key must be a string');
    const value = map.get('value');
    if (value !== null && value !== undefined && typeof value !== 'string') throw new FormatError(line, ':value must be a string or nil');
    if (type === 'invoke') {
      if (f !== 'get' && typeof value !== 'string') throw new FormatError(line, `:${f} needs a string :value`);
      const input: KvInput = f === 'get' ? { f } : { f, value: value as string };
      pairing.invoke(line, process, key, input);
      return;
    }
    if (type !== 'ok' && type !== 'fail' && type !== 'info') throw new FormatError(line, `unknown type ':${type}' (expected :invoke, :ok, :fail or :info)`);
    const output = f === 'get' ? (value ?? '') : null;
    const op = pairing.complete(line, process, type, output);
    if (op.input.f !== f || op.key !== key) {
      throw new FormatError(line, `process ${process} completes :${f} on ${JSON.stringify(key)} but invoked :${op.input.f} on ${JSON.stringify(op.key)} (line ${op.call})`);
    }
  });
  return { model: 'kv', ops: pairing.finish(all.length) };
}

// ---------------------------------------------------------------------------------------------------------------
// raftsim: JSON lines. The first non-empty line is the header
// `{"raftsim":"history","version":1,"model":"etcd", "ttl"?: {...}, "watchHistoryCapacity"?: N}`; every other line
// is an operation (an Operation object as is) or one observation wrapped in a one-field object:
// `{"sample": NodeSample}`, `{"acked": AckedWrite}`, `{"event": CommittedEvent}`, `{"watch": WatchRecord}`.

/** Everything a raftsim history file can carry: the history and what the other checkers judge. */
export interface RaftsimFile {
  history: History;
  raft: RaftObservations;
  events: CommittedEvent[];
  watches: WatchRecord[];
  /** TTL checking parameters; TTLs are judged only when the file states them. */
  ttl?: TtlOptions;
  watchHistoryCapacity?: number;
}

const ETCD_FS = new Set(['get', 'set', 'create', 'update', 'cas', 'delete', 'cad', 'expire']);
const ROLES = new Set(['follower', 'pre-candidate', 'candidate', 'leader']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function validInput(model: ModelName, input: unknown): string | undefined {
  if (!isObject(input) || typeof input.f !== 'string') return 'input must be an object with a string "f"';
  const f = input.f;
  const str = (k: string) => typeof input[k] === 'string';
  const optStr = (k: string) => input[k] === undefined || str(k);
  const optInt = (k: string) => input[k] === undefined || isInt(input[k]);
  switch (model) {
    case 'register':
      if (f === 'read') return undefined;
      if (f === 'write') return isInt(input.value) ? undefined : 'write needs an integer "value"';
      if (f === 'cas') return isInt(input.from) && isInt(input.to) ? undefined : 'cas needs integer "from" and "to"';
      return `unknown operation '${f}' for the register model`;
    case 'kv':
      if (f === 'get') return undefined;
      if (f === 'put' || f === 'append') return str('value') ? undefined : `${f} needs a string "value"`;
      return `unknown operation '${f}' for the kv model`;
    case 'etcd':
      if (!ETCD_FS.has(f)) return `unknown operation '${f}' for the etcd model`;
      if ((f === 'set' || f === 'create' || f === 'update' || f === 'cas') && !str('value')) return `${f} needs a string "value"`;
      if (!optStr('prevValue') || !optInt('prevIndex')) return '"prevValue" must be a string and "prevIndex" an integer';
      if (f === 'get' && input.quorum !== undefined && typeof input.quorum !== 'boolean') return '"quorum" must be a boolean';
      if (input.ttl !== undefined && (typeof input.ttl !== 'number' || !(input.ttl >= 0))) return '"ttl" must be a number of seconds >= 0';
      return undefined;
  }
}

function validOutput(model: ModelName, input: { f: string }, output: unknown): string | undefined {
  switch (model) {
    case 'register':
      if (input.f === 'read') return output === 'nil' || isInt(output) ? undefined : 'a read outputs an integer or "nil"';
      return typeof output === 'boolean' ? undefined : `${input.f} outputs a boolean`;
    case 'kv':
      return input.f !== 'get' || typeof output === 'string' ? undefined : 'a get outputs a string';
    case 'etcd': {
      if (!isObject(output)) return 'an etcd output is {"index":N} or {"error":CODE}';
      if (output.error !== undefined) return isInt(output.error) && (output.index === undefined || isInt(output.index)) ? undefined : '"error" and "index" must be integers';
      if (!isInt(output.index)) return 'a successful etcd output needs an integer "index"';
      if (input.f === 'get' && typeof output.value !== 'string') return 'a successful get needs a string "value"';
      return undefined;
    }
  }
}

function parseOperation(line: number, model: ModelName, value: Record<string, unknown>, ids: Set<number>): Operation {
  const { id, client, key, input, output, outcome, call, ret, meta } = value;
  if (!isInt(id) || ids.has(id)) throw new FormatError(line, '"id" must be a unique integer');
  if (!isInt(client)) throw new FormatError(line, '"client" must be an integer');
  if (typeof key !== 'string') throw new FormatError(line, '"key" must be a string');
  if (outcome !== 'ok' && outcome !== 'fail' && outcome !== 'info') throw new FormatError(line, '"outcome" must be ok, fail or info');
  if (!isTime(call) || !isTime(ret) || ret < call) throw new FormatError(line, '"call" and "ret" must be times with ret >= call');
  const inputProblem = validInput(model, input);
  if (inputProblem) throw new FormatError(line, inputProblem);
  if (outcome === 'ok') {
    const outputProblem = validOutput(model, input as { f: string }, output);
    if (outputProblem) throw new FormatError(line, outputProblem);
  }
  if (meta !== undefined && !isObject(meta)) throw new FormatError(line, '"meta" must be an object');
  const op: Operation = { id, client, key, input, output: outcome === 'ok' ? output : null, outcome, call, ret };
  if (meta !== undefined) op.meta = meta;
  ids.add(id);
  return op;
}

function checkSample(line: number, v: unknown): NodeSample {
  if (!isObject(v)) throw new FormatError(line, '"sample" must be an object');
  for (const k of ['node', 'term', 'commitIndex', 'lastIndex', 'applied']) if (!isInt(v[k])) throw new FormatError(line, `sample "${k}" must be an integer`);
  if (!isTime(v.time)) throw new FormatError(line, 'sample "time" must be a number');
  if (typeof v.role !== 'string' || !ROLES.has(v.role)) throw new FormatError(line, 'sample "role" must be follower, pre-candidate, candidate or leader');
  if (v.event !== undefined && v.event !== 'crash' && v.event !== 'restart') throw new FormatError(line, 'sample "event" must be crash or restart');
  if (v.persistedCommit !== undefined && !isInt(v.persistedCommit)) throw new FormatError(line, 'sample "persistedCommit" must be an integer');
  if (v.stateDigest !== undefined && typeof v.stateDigest !== 'string') throw new FormatError(line, 'sample "stateDigest" must be a string');
  if (v.snapshot !== undefined && !(isObject(v.snapshot) && isInt(v.snapshot.index) && isInt(v.snapshot.term))) {
    throw new FormatError(line, 'sample "snapshot" must be {"index": N, "term": N}');
  }
  if (v.log !== undefined) {
    const log = v.log;
    const entryOk = (e: unknown) => Array.isArray(e) && e.length === 2 && isInt(e[0]) && typeof e[1] === 'string';
    if (!isObject(log) || !isInt(log.from) || log.from < 1 || !Array.isArray(log.entries) || !log.entries.every(entryOk)) {
      throw new FormatError(line, 'sample "log" must be {"from": N >= 1, "entries": [[term, "digest"], ...]}');
    }
  }
  return v as unknown as NodeSample;
}

function checkAcked(line: number, v: unknown): AckedWrite {
  if (!isObject(v) || !isInt(v.op) || !isTime(v.time) || !isInt(v.raftIndex) || !isInt(v.raftTerm) || typeof v.digest !== 'string') {
    throw new FormatError(line, '"acked" must be {"op", "time", "raftIndex", "raftTerm", "digest"}');
  }
  return v as unknown as AckedWrite;
}

function isEvent(v: unknown): v is CommittedEvent {
  return isObject(v) && isInt(v.index) && typeof v.key === 'string' && typeof v.action === 'string' && (v.value === undefined || typeof v.value === 'string');
}

function checkWatch(line: number, v: unknown): WatchRecord {
  const bad = (what: string) => new FormatError(line, `watch ${what}`);
  if (!isObject(v)) throw bad('must be an object');
  if (!isInt(v.watcher) || typeof v.key !== 'string' || typeof v.recursive !== 'boolean' || !isInt(v.waitIndex) || typeof v.stream !== 'boolean') {
    throw bad('needs "watcher", "key", "recursive", "waitIndex" and "stream"');
  }
  if (!Array.isArray(v.received) || !v.received.every((e) => isEvent(e) && isTime((e as unknown as Record<string, unknown>).time))) {
    throw bad('"received" must be a list of events with times');
  }
  if (v.cleared !== undefined && !(isObject(v.cleared) && isTime(v.cleared.time) && isInt(v.cleared.index))) throw bad('"cleared" must be {"time", "index"}');
  if (v.drainedThrough !== undefined && !isInt(v.drainedThrough)) throw bad('"drainedThrough" must be an integer');
  return v as unknown as WatchRecord;
}

export function parseRaftsimFile(text: string): RaftsimFile {
  const all = lines(text);
  const headerLine = all.findIndex((l) => l.trim() !== '');
  if (headerLine < 0) throw new FormatError(1, 'empty file (expected a {"raftsim":"history",...} header line)');
  let header: unknown;
  try {
    header = JSON.parse(all[headerLine]!);
  } catch {
    throw new FormatError(headerLine + 1, 'the header is not JSON');
  }
  if (!isObject(header) || header.raftsim !== 'history' || header.version !== 1) {
    throw new FormatError(headerLine + 1, 'expected the header {"raftsim":"history","version":1,"model":...}');
  }
  const model = header.model;
  if (model !== 'register' && model !== 'kv' && model !== 'etcd') throw new FormatError(headerLine + 1, `unknown model '${String(model)}' (expected register, kv or etcd)`);
  const file: RaftsimFile = { history: { model, ops: [] }, raft: { samples: [], acked: [] }, events: [], watches: [] };
  if (header.ttl !== undefined) {
    const t = header.ttl;
    const periodOk = (p: unknown) => isObject(p) && isTime(p.from) && isTime(p.to) && p.to >= p.from;
    if (
      !isObject(t) || !isTime(t.expiryTickMs) || !isTime(t.clockErrorMs) || t.expiryTickMs < 0 || t.clockErrorMs < 0 ||
      (t.leaderless !== undefined && !(Array.isArray(t.leaderless) && t.leaderless.every(periodOk)))
    ) {
      throw new FormatError(headerLine + 1, 'header "ttl" must be {"expiryTickMs": N, "clockErrorMs": N, "leaderless"?: [{"from": T, "to": T}]}');
    }
    file.ttl = { expiryTickMs: t.expiryTickMs, clockErrorMs: t.clockErrorMs };
    if (t.leaderless !== undefined) file.ttl.leaderless = t.leaderless as { from: number; to: number }[];
  }
  if (header.watchHistoryCapacity !== undefined) {
    if (!isInt(header.watchHistoryCapacity) || header.watchHistoryCapacity < 1) throw new FormatError(headerLine + 1, 'header "watchHistoryCapacity" must be a positive integer');
    file.watchHistoryCapacity = header.watchHistoryCapacity;
  }
  const ids = new Set<number>();
  for (let i = headerLine + 1; i < all.length; i++) {
    const line = i + 1;
    if (all[i]!.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(all[i]!);
    } catch {
      throw new FormatError(line, `not JSON: '${shorten(all[i]!)}'`);
    }
    if (!isObject(value)) throw new FormatError(line, 'each line must be a JSON object');
    if ('sample' in value) file.raft.samples.push(checkSample(line, value.sample));
    else if ('acked' in value) file.raft.acked.push(checkAcked(line, value.acked));
    else if ('event' in value) {
      if (!isEvent(value.event)) throw new FormatError(line, '"event" must be {"index", "key", "action", "value"?}');
      file.events.push(value.event);
    } else if ('watch' in value) file.watches.push(checkWatch(line, value.watch));
    else file.history.ops.push(parseOperation(line, model, value, ids));
  }
  return file;
}

export function parseRaftsim(text: string): History {
  return parseRaftsimFile(text).history;
}

/** The serialized form parseRaftsimFile reads. */
export function serializeRaftsim(history: History, extra: Partial<Omit<RaftsimFile, 'history'>> = {}): string {
  const header: Record<string, unknown> = { raftsim: 'history', version: 1, model: history.model };
  if (extra.ttl) header.ttl = extra.ttl;
  if (extra.watchHistoryCapacity !== undefined) header.watchHistoryCapacity = extra.watchHistoryCapacity;
  const out = [JSON.stringify(header)];
  for (const op of history.ops) out.push(JSON.stringify(op));
  for (const sample of extra.raft?.samples ?? []) out.push(JSON.stringify({ sample }));
  for (const acked of extra.raft?.acked ?? []) out.push(JSON.stringify({ acked }));
  for (const event of extra.events ?? []) out.push(JSON.stringify({ event }));
  for (const watch of extra.watches ?? []) out.push(JSON.stringify({ watch }));
  return out.join('\n') + '\n';
}

export function parseHistory(format: FormatName, text: string): History {
  switch (format) {
    case 'jepsen-etcd':
      return parseJepsenEtcd(text) as History;
    case 'porcupine-kv':
      return parsePorcupineKv(text) as History;
    case 'raftsim':
      return parseRaftsim(text);
  }
}
