// Closed-loop clients: each worker has at most one request outstanding, sent to one member through the
// replica's request interface (`world.input`), with its own timeout and retries. Every request of the key
// model becomes an operation of the history (invoke at send, completion at the reply or when the client gives
// up) with what the simulator knows about it: the member contacted, the etcd index, and the log entry a write
// landed in.
//
// Outcomes: the replica's reply outcome is the operation's (ok / failed / unknown -> ok / fail / info). A
// client-side timeout makes a write indeterminate (`info`: it may still apply) and a read `fail` (a read has
// no effect). A request that reached a member that was down, or that refused to start, surely did nothing.
import type { AckedWrite, EtcdInput, EtcdOutput, History, OpMeta } from '../check/history.ts';
import { HistoryRecorder } from '../check/history.ts';
import type { DriverInput } from '../driver/replica-program.ts';
import type { ReplicaReply } from '../../core/replica/index.ts';
import type { RandomStreams } from '../world/random.ts';
import type { NodeId } from '../world/network.ts';
import type { RunConfig } from '../config.ts';
import {
  discoveryReader,
  discoveryWorker,
  multiKeyWorker,
  pinnedRegisterReader,
  queueConsumer,
  queueProducer,
  registerWorker,
  watchWorker,
  SERVICES_DIR,
  KV_PREFIX,
  QUEUE_DIR,
  type KnownQueueKeys,
  type OpResult,
  type PlannedOp,
  type QueueListing,
  type WatchLog,
  type Worker,
} from './workloads.ts';

/** The part of the world clients use. */
export interface ClientWorld {
  readonly now: number;
  input(node: NodeId, input: DriverInput, atMs?: number): void;
  at(atMs: number, label: string, fn: () => void): void;
}

/**
 * What the simulator can see inside a member and a client cannot: how often its process was interrupted (boots,
 * crashes, pauses) and the store index it has applied. A watch that met no interruption had every event the
 * member applied delivered to it at once (replies are outputs of the same step), so a watch that gives up
 * unanswered tells the watch checker which events it surely should have had. Null when the member is not running.
 */
export type MemberProbe = (node: NodeId) => { interruptions: number; appliedIndex: number } | null;

export interface ClientStats {
  /** Requests sent to members: every operation, retry, watch and listing. */
  requests: number;
  ok: number;
  fail: number;
  info: number;
  /** Requests that were retries of a surely-failed one. */
  retries: number;
  timeouts: number;
  /** Requests that met a member that was down or refused to start. */
  refused: number;
  /** Watch events delivered to watchers. */
  watchEvents: number;
}

interface Attempt {
  token: number;
  worker: number;
  /** The worker's life it belongs to: a reply to an earlier life is recorded but starts nothing new. */
  life: number;
  op: PlannedOp;
  member: number;
  call: number;
  /** Retries so far of this planned operation. */
  retry: number;
  historyId: number | null;
  /** For watches, when the simulator can look inside the member: its interruption count at the request. */
  interruptionsAtCall?: number;
  /** When the client gives up on it. */
  deadline: number;
}

interface WorkerSlot {
  worker: Worker;
  member: number;
  rng: ReturnType<RandomStreams['stream']>;
  /** Operations started (retries not counted), for `workload.maxOpsPerClient`. */
  started: number;
  /** Bumped when the client process dies and when it starts again. */
  life: number;
  down: boolean;
  /** The worker's outstanding requests: at most one per life (an instance restarted while its last request
   * is still out has two). */
  outstanding: Attempt[];
  /** When the worker's timeout check is scheduled, if it is. */
  checkAt: number | null;
}

/** Builds the workers a workload asks for: `mixed` runs every kind side by side. */
function buildWorkers(config: RunConfig, streams: RandomStreams, members: number, watchLogs: WatchLog[], listings: QueueListing[], knownQueueKeys: KnownQueueKeys): Worker[] {
  const w = config.workload;
  const workers: Worker[] = [];
  const rng = (name: string) => streams.stream(`client/${name}`);
  const kinds: Array<'register' | 'multi-key' | 'queue'> =
    w.kind === 'register' ? ['register'] : w.kind === 'multi-key' ? ['multi-key'] : w.kind === 'queue' ? ['queue'] : w.kind === 'mixed' ? ['register', 'multi-key', 'queue'] : [];
  for (let c = 0; c < w.clients && kinds.length > 0; c++) {
    const kind = kinds[c % kinds.length]!;
    if (kind === 'register') workers.push(registerWorker(rng(`${c}`), w));
    else if (kind === 'multi-key') workers.push(multiKeyWorker(rng(`${c}`), w, c));
    else workers.push(c % 2 === 0 ? queueProducer(rng(`${c}`), w, c, knownQueueKeys) : queueConsumer(rng(`${c}`), w, listings));
  }
  if ((w.kind === 'discovery' || w.kind === 'mixed') && w.instances > 0) {
    for (let i = 0; i < w.instances; i++) workers.push(discoveryWorker(rng(`instance-${i}`), w, i));
    for (let i = 0; i < Math.max(1, w.watchers); i++) workers.push(discoveryReader(rng(`reader-${i}`), w));
  }
  if (w.kind !== 'register' && w.kind !== 'queue') {
    for (let i = 0; i < w.watchers; i++) {
      // Mixed runs watch both the registrations (TTL expirations) and the busy multi-key prefix.
      const prefix = w.kind === 'multi-key' || (w.kind === 'mixed' && i % 2 === 1) ? KV_PREFIX : SERVICES_DIR;
      workers.push(watchWorker(w, i, prefix, watchLogs));
    }
  }
  for (let m = 0; m < members * w.pinnedReaders; m++) workers.push(pinnedRegisterReader(rng(`pinned-reader-${m}`), w, m % members));
  return workers;
}

export function outcomeOf(reply: ReplicaReply): { result: Omit<OpResult, 'timedOut'>; output: EtcdOutput | null } {
  const outcome = reply.outcome === 'ok' ? 'ok' : reply.outcome === 'failed' ? 'fail' : 'info';
  const body = reply.body;
  if (body.type === 'event' || body.type === 'watch') {
    const node = body.event.node;
    const output: EtcdOutput = body.event.action === 'get' && node.value !== null ? { value: node.value, index: node.modifiedIndex } : { index: node.modifiedIndex };
    return { result: { outcome, output, event: body.event, errorCode: null, etcdIndex: reply.etcdIndex }, output };
  }
  if (body.type === 'error') {
    const output: EtcdOutput = { error: body.error.errorCode, index: body.error.index };
    return { result: { outcome, output, event: null, errorCode: body.error.errorCode, etcdIndex: body.error.index || reply.etcdIndex }, output };
  }
  return { result: { outcome, output: null, event: null, errorCode: null, etcdIndex: reply.etcdIndex }, output: null };
}

export class ClientPool {
  readonly recorder = new HistoryRecorder<EtcdInput, EtcdOutput>('etcd');
  readonly watchLogs: WatchLog[] = [];
  readonly listings: QueueListing[] = [];
  private readonly knownQueueKeys: KnownQueueKeys = new Set();
  /** Acknowledged writes; the run fills in each entry's digest from the member's log when the ack arrives. */
  readonly acked: Array<AckedWrite & { member: number }> = [];
  readonly stats: ClientStats = { requests: 0, ok: 0, fail: 0, info: 0, retries: 0, timeouts: 0, refused: 0, watchEvents: 0 };
  private readonly slots: WorkerSlot[];
  private readonly pending = new Map<number, Attempt>();
  private nextToken = 1;

  constructor(
    private readonly world: ClientWorld,
    private readonly members: readonly NodeId[],
    private readonly config: RunConfig,
    streams: RandomStreams,
    /** Workers start nothing new at or after this virtual time. */
    private stopAtMs: number,
    private readonly probe: MemberProbe | null = null,
  ) {
    const workers = buildWorkers(config, streams, members.length, this.watchLogs, this.listings, this.knownQueueKeys);
    this.slots = workers.map((worker, i) => ({ worker, member: worker.pinnedMember ?? i % members.length, rng: streams.stream(`client/${i}/member`), life: 0, down: false, outstanding: [], checkAt: null, started: 0 }));
  }

  /** Workers start nothing new from `ms` on (a real-time run stopped early). */
  stopAt(ms: number): void {
    this.stopAtMs = Math.min(this.stopAtMs, ms);
  }

  /** The history so far; operations on queue keys whose creation it does not hold are left out (KnownQueueKeys). */
  history(now: number): History<EtcdInput, EtcdOutput> {
    const h = this.recorder.history(now);
    return { ...h, ops: h.ops.filter((op) => !op.key.startsWith(`${QUEUE_DIR}/`) || this.knownQueueKeys.has(op.key)) };
  }

  get workers(): number {
    return this.slots.length;
  }

  start(): void {
    this.slots.forEach((slot, i) => {
      // Spread the first requests over a few ms so clients do not all arrive in one instant.
      this.world.at(this.world.now + slot.rng.uniform(0, 20), `client ${i} start`, () => this.issue(i, null, 0));
    });
  }

  /**
   * Service-discovery instance `instance` dies: once the request it has in flight (if any) ends, it sends
   * nothing more, so its registration is left to expire; `restartAfterMs` later it starts again and registers
   * afresh. False when there is no such instance.
   */
  crashInstance(instance: number, restartAfterMs?: number): boolean {
    const worker = this.slots.map((s, i) => [s, i] as const).filter(([s]) => s.worker.kind === 'discovery')[instance]?.[1];
    if (worker === undefined) return false;
    const slot = this.slots[worker]!;
    slot.life++;
    slot.down = true;
    if (restartAfterMs !== undefined) {
      this.world.at(this.world.now + restartAfterMs, `instance ${instance} restart`, () => {
        slot.life++;
        slot.down = false;
        slot.worker.restart?.();
        this.issue(worker, null, 0);
      });
    }
    return true;
  }

  private issue(worker: number, retryOf: PlannedOp | null, retry: number, life = this.slots[worker]!.life): void {
    const now = this.world.now;
    if (now >= this.stopAtMs) return;
    const slot = this.slots[worker]!;
    if (slot.down || life !== slot.life) return;
    let op: PlannedOp;
    if (retryOf !== null) op = retryOf;
    else {
      if (slot.started >= (this.config.workload.maxOpsPerClient ?? Infinity)) return;
      const planned = slot.worker.next(now);
      if (planned === null) return;
      if ('waitMs' in planned) {
        this.world.at(now + planned.waitMs, `client ${worker} wait`, () => this.issue(worker, null, 0));
        return;
      }
      op = planned;
      slot.started++;
    }
    const token = this.nextToken++;
    let historyId: number | null = null;
    if (op.history !== null && op.history.key !== null) {
      historyId = this.recorder.invoke(worker, op.history.key, op.history.input, now, { member: slot.member });
    }
    const deadline = now + (op.timeoutMs ?? this.config.workload.timeoutMs);
    const attempt: Attempt = { token, worker, life, op, member: slot.member, call: now, retry, historyId, deadline };
    if (op.request.wait && this.probe !== null) {
      const seen = this.probe(this.members[slot.member]!);
      if (seen !== null) attempt.interruptionsAtCall = seen.interruptions;
    }
    this.pending.set(token, attempt);
    slot.outstanding.push(attempt);
    this.stats.requests++;
    if (retry > 0) this.stats.retries++;
    this.world.input(this.members[slot.member]!, { kind: 'request', token, request: op.request });
    this.checkTimeoutAt(worker, deadline);
  }

  // A worker's requests mostly end long before they time out, so rather than an event per request the worker
  // keeps one timeout check scheduled: at its request's deadline, or earlier, in which case the check moves on
  // to the deadline of the request then outstanding. A request still times out exactly at its deadline.
  private checkTimeoutAt(worker: number, at: number): void {
    const slot = this.slots[worker]!;
    if (slot.checkAt !== null && slot.checkAt <= at) return;
    slot.checkAt = at;
    this.world.at(at, `client ${worker} timeout`, () => {
      if (slot.checkAt !== at) return;
      slot.checkAt = null;
      for (const a of slot.outstanding.filter((x) => this.world.now >= x.deadline)) this.timeout(a);
      if (slot.outstanding.length > 0) this.checkTimeoutAt(worker, Math.min(...slot.outstanding.map((x) => x.deadline)));
    });
  }

  private timeout(a: Attempt): void {
    this.stats.timeouts++;
    // Hanging up lets the member drop the request (and its watch) instead of holding it.
    this.world.input(this.members[a.member]!, { kind: 'cancel', token: a.token });
    const outcome = a.op.write ? 'info' : 'fail';
    const result: OpResult = { outcome, output: null, event: null, errorCode: null, etcdIndex: 0, timedOut: true };
    if (a.interruptionsAtCall !== undefined) {
      const seen = this.probe!(this.members[a.member]!);
      if (seen !== null && seen.interruptions === a.interruptionsAtCall) result.drainedThrough = seen.appliedIndex;
    }
    this.finish(a, result, {}, true);
  }

  /** A member answered; returns the acknowledged write it completed, if any (its digest is for the caller). */
  onReply(token: number, reply: ReplicaReply, entry: { index: number; term: number } | null): (AckedWrite & { member: number }) | null {
    const a = this.pending.get(token);
    if (a === undefined) return null;
    const { result } = outcomeOf(reply);
    const meta: OpMeta = { etcdIndex: result.etcdIndex };
    if (entry !== null) {
      meta.raftIndex = entry.index;
      meta.raftTerm = entry.term;
    }
    const historyId = this.finish(a, { ...result, timedOut: false }, meta, false);
    if (historyId !== null && entry !== null && result.outcome === 'ok' && a.op.write) {
      const write = { op: historyId, time: this.world.now, raftIndex: entry.index, raftTerm: entry.term, digest: '', member: a.member };
      this.acked.push(write);
      return write;
    }
    return null;
  }

  /** The request never reached a running member (it was down, or refused to start). */
  onRefused(token: number): void {
    const a = this.pending.get(token);
    if (a === undefined) return;
    this.stats.refused++;
    this.finish(a, { outcome: 'fail', output: null, event: null, errorCode: null, etcdIndex: 0, timedOut: false }, {}, true);
  }

  private finish(a: Attempt, result: OpResult, meta: OpMeta, moveOn: boolean): number | null {
    this.pending.delete(a.token);
    const now = this.world.now;
    const slot = this.slots[a.worker]!;
    const at = slot.outstanding.indexOf(a);
    if (at >= 0) slot.outstanding.splice(at, 1);
    let historyId = a.historyId;
    if (a.op.history !== null) {
      if (historyId === null && result.outcome !== 'fail') {
        // A POST: its key is known from the reply; an indeterminate one gets a key of its own, touching nothing.
        const key = result.event?.node.key ?? `${a.op.request.path}/?${a.token}`;
        historyId = this.recorder.invoke(a.worker, key, a.op.history.input, a.call, { member: a.member });
      }
      if (historyId !== null) this.recorder.complete(historyId, result.outcome, result.outcome === 'ok' ? result.output : null, now, meta);
      this.stats[result.outcome]++;
    }
    if (result.event !== null && a.op.history === null && a.op.request.wait) this.stats.watchEvents++;
    const moveMember = (moveOn || result.outcome !== 'ok') && slot.worker.pinnedMember === undefined;
    if (moveMember && this.members.length > 1) slot.member = (slot.member + 1 + slot.rng.int(0, this.members.length - 2)) % this.members.length;
    if (result.outcome === 'fail' && !result.timedOut && a.retry < this.config.workload.retries) {
      this.world.at(now + 20 * (a.retry + 1), `client ${a.worker} retry`, () => this.issue(a.worker, a.op, a.retry + 1, a.life));
      return historyId;
    }
    const waitMs = slot.worker.settle(a.op, result, now);
    this.world.at(now + waitMs, `client ${a.worker} next`, () => this.issue(a.worker, null, 0, a.life));
    return historyId;
  }
}
