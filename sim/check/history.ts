// History and observation types: the only thing the checkers depend on. The simulator records into these; the
// parsers in formats.ts turn Jepsen's and Porcupine's logs into them. Everything is plain data (JSON-safe except
// `Infinity`, which the serializer never emits), so a history can be written to a trace and read back.

/**
 * How an operation ended, as Jepsen records it.
 * - `ok`: the client received a definite answer (which may be an etcd error such as 101 compare failed: the
 *   operation happened and observed something).
 * - `fail`: the operation surely did not take effect and observed nothing (e.g. refused before it was sent).
 * - `info`: indeterminate (timed out, connection lost): it may take effect at any time after its invocation, or
 *   never, and its output is unknown.
 */
export type Outcome = 'ok' | 'fail' | 'info';

/** What the simulator knows about an operation beyond what the client saw. All optional. */
export interface OpMeta {
  /** Node the client contacted. */
  member?: number;
  /** The etcd index the reply carried (X-Etcd-Index, or the error body's `index`). */
  etcdIndex?: number;
  /** Raft log index at which the operation's entry was committed, when it went through the log. */
  raftIndex?: number;
  /** Raft term of that entry. */
  raftTerm?: number;
}

/**
 * One operation: its invocation and its completion merged into one record (10^5 of these must stay cheap).
 * `call`/`ret` are virtual times in milliseconds. For `info` operations `ret` is when the client gave up (or the
 * end of the history); the checkers treat it as infinitely late.
 */
export interface Operation<I = unknown, O = unknown> {
  /** Unique within the history (the recorder uses the position in `History.ops`). */
  id: number;
  /** Client / process that issued it; a client has at most one operation outstanding. */
  client: number;
  /** Partition key for P-compositional checking: operations on different keys are checked independently. */
  key: string;
  input: I;
  /** Definite output for `ok`; null for `fail` and `info`. */
  output: O | null;
  outcome: Outcome;
  call: number;
  ret: number;
  meta?: OpMeta;
}

/** Which model interprets the inputs and outputs. */
export type ModelName = 'register' | 'kv' | 'etcd';

export interface History<I = unknown, O = unknown> {
  model: ModelName;
  ops: Operation<I, O>[];
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs and outputs of the three models.

/** Jepsen's single register (etcd logs). A cas output of `false` means it happened and saw another value. */
export type RegisterInput = { f: 'read' } | { f: 'write'; value: number } | { f: 'cas'; from: number; to: number };
/** read: the value, or 'nil' when absent; write: true; cas: whether the compare matched. */
export type RegisterOutput = number | 'nil' | boolean;

/** Porcupine's multi-key store. A missing key reads as "". */
export type KvInput = { f: 'get' } | { f: 'put'; value: string } | { f: 'append'; value: string };
export type KvOutput = string | null;

/**
 * The etcd v2 key model, one key per operation (the key is `Operation.key`). Directories and recursive
 * operations are outside this model. `ttl` is in seconds, as in etcd's API; the linearizability model ignores
 * it (a key's expiry enters the history as an `expire` operation) and the TTL checker (ttl.ts) judges it. `quorum: false` gets are not linearizable in etcd v2 and are left out of the
 * linearizability check (they are for showing stale reads).
 */
export type EtcdInput =
  | { f: 'get'; quorum?: boolean }
  | { f: 'set'; value: string; ttl?: number }
  | { f: 'create'; value: string; ttl?: number }
  | { f: 'update'; value: string; ttl?: number }
  | { f: 'cas'; value: string; prevValue?: string; prevIndex?: number; ttl?: number }
  | { f: 'delete' }
  | { f: 'cad'; prevValue?: string; prevIndex?: number }
  /**
   * Not a client request: the store expiring the key (a TTL ran out), which the simulator knows from the
   * committed history. Record it with outcome `ok`, output `{index}` (the expire event's index) and the interval
   * from the expiry tick's proposal to its application, so keys with TTLs can be checked for linearizability.
   */
  | { f: 'expire' };

/** etcd error codes the key model understands. */
export const ETCD_KEY_NOT_FOUND = 100;
export const ETCD_COMPARE_FAILED = 101;
export const ETCD_NODE_EXISTS = 105;

/**
 * Success: `index` is the node's modifiedIndex after the operation (for get: of the node read; for delete/cad:
 * of the deletion), `value` the value read (get only). Error: etcd's errorCode, and the etcd index it carried.
 */
export type EtcdOutput = { value?: string; index: number } | { error: number; index?: number };

// ---------------------------------------------------------------------------------------------------------------
// Per-node observations for Raft safety.

/** The Raft core's roles (core/raft); only `leader` matters to the checkers. */
export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** A log entry as the checkers see it: its term and a digest of its command (any stable string). */
export type EntryRef = [term: number, digest: string];

/**
 * A sample of one node's state at a virtual time. Logs travel as deltas: `log` replaces the node's log from
 * index `from` on (the log is truncated to `from - 1`, then `entries` appended), so a sample after an append
 * costs only the new entries. A node's first sample (and its first after a restart) should carry its whole log
 * (`from: 1`) or rely on the checker's memory of what it had (logs survive restarts on disk; see `event`).
 */
export interface NodeSample {
  node: number;
  time: number;
  role: Role;
  term: number;
  commitIndex: number;
  lastIndex: number;
  /** Log change since this node's previous sample; absent when the log did not change. */
  log?: { from: number; entries: EntryRef[] };
  /** Highest index applied to the state machine, and a digest of the state after applying it. */
  applied: number;
  stateDigest?: string;
  /** Commit index in the node's last synced hard state: after a restart the commit index is never below it. */
  persistedCommit?: number;
  /** Markers: `crash` ends an incarnation (the sample is the last thing known); `restart` begins one. */
  event?: 'crash' | 'restart';
  /**
   * The node installed a snapshot covering entries 1..index (last entry's term `term`): those entries are now
   * unknown to the checker. Entries after `index` are kept unless `log` in the same sample replaces them.
   */
  snapshot?: { index: number; term: number };
}

/** A write the client saw acknowledged, with where the simulator knows it landed. */
export interface AckedWrite {
  op: number;
  time: number;
  raftIndex: number;
  raftTerm: number;
  digest: string;
}

export interface RaftObservations {
  /** Samples in time order (ties in any order). */
  samples: NodeSample[];
  acked: AckedWrite[];
}

// ---------------------------------------------------------------------------------------------------------------
// Watches: the committed event history and what each watcher received (judged by watch.ts).

/** One entry of the committed event history: every etcd index is one event. */
export interface CommittedEvent {
  index: number;
  key: string;
  /** etcd's action: set, create, update, compareAndSwap, delete, compareAndDelete, expire. */
  action: string;
  /** Value after the event; absent for deletions and expirations. */
  value?: string;
  /** The event's node is (for a delete or expire: was) a directory; removing one ends the watches below it. */
  dir?: boolean;
  /** A TTL refresh: kept in etcd's history but never delivered to watchers. */
  refresh?: boolean;
}

export interface ReceivedEvent extends CommittedEvent {
  time: number;
}

export interface WatchRecord {
  watcher: number;
  key: string;
  recursive: boolean;
  /** First index the watcher asked for (a watch without waitIndex: the store index when it registered + 1). */
  waitIndex: number;
  /** A streaming watch receives every event; a one-shot watch only the first. */
  stream: boolean;
  received: ReceivedEvent[];
  /** The reply was 401 "event index cleared"; `index` is the etcd index the error carried. */
  cleared?: { time: number; index: number };
  /** The simulator let the watch drain: every matching event up to this index must have arrived. */
  drainedThrough?: number;
  /** When the watch request was sent (virtual ms), when known: not judged, it places the watch in the run. */
  sent?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Verdicts shared by every checker.

export interface Violation {
  /** Stable name of the broken property, e.g. `election-safety`. */
  property: string;
  /** One or two sentences naming the evidence (nodes, terms, indexes, operation ids, times). */
  explanation: string;
  /** Operation ids or sample positions involved, for reports. */
  evidence?: number[];
}

export interface CheckResult {
  checker: string;
  ok: boolean;
  violations: Violation[];
  /** One line: what held, or the first violation. */
  summary: string;
}

export function resultOf(checker: string, violations: Violation[], whatHeld: string): CheckResult {
  return {
    checker,
    ok: violations.length === 0,
    violations,
    summary:
      violations.length === 0
        ? `${checker}: ok (${whatHeld})`
        : `${checker}: ${violations.length} violation(s); first: ${violations[0]!.property}: ${violations[0]!.explanation}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Recording.

/**
 * Builds a history as a simulator runs: `invoke` when a client sends, `complete` when it learns the outcome.
 * Operations still pending when the history is taken become `info` (they may have happened).
 */
export class HistoryRecorder<I = unknown, O = unknown> {
  private readonly ops: Operation<I, O>[] = [];
  private readonly pending = new Map<number, number>();

  constructor(private readonly model: ModelName) {}

  invoke(client: number, key: string, input: I, time: number, meta?: OpMeta): number {
    if (this.pending.has(client)) throw new Error(`client ${client} invoked while operation ${this.pending.get(client)} is outstanding`);
    const id = this.ops.length;
    const op: Operation<I, O> = { id, client, key, input, output: null, outcome: 'info', call: time, ret: time };
    if (meta) op.meta = { ...meta };
    this.ops.push(op);
    this.pending.set(client, id);
    return id;
  }

  complete(id: number, outcome: Outcome, output: O | null, time: number, meta?: OpMeta): void {
    const op = this.ops[id];
    if (!op || this.pending.get(op.client) !== id) throw new Error(`operation ${id} is not outstanding`);
    if (time < op.call) throw new Error(`operation ${id} completes at ${time}, before its invocation at ${op.call}`);
    this.pending.delete(op.client);
    op.outcome = outcome;
    op.output = outcome === 'ok' ? output : null;
    op.ret = time;
    if (meta) op.meta = { ...op.meta, ...meta };
  }

  /** The history so far; outstanding operations appear as `info` ending at `now`. */
  history(now: number): History<I, O> {
    const ops = this.ops.map((op) => (this.pending.get(op.client) === op.id ? { ...op, ret: Math.max(now, op.call) } : op));
    return { model: this.model, ops };
  }
}

/** A virtual time for a one-line explanation: whole milliseconds as they are, others to a tenth. */
export function formatMs(t: number): string {
  return Number.isInteger(t) ? String(t) : t.toFixed(1);
}
