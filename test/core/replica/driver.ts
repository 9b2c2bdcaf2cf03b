// A small in-test driver for replicas: disks, a message pool the test delivers in FIFO or random order with drops
// and duplicates, partitions, crashes that keep only the disk, and per-member clock offsets. Replies and applied
// entries are recorded per member. Disks are synchronous by default (each Ready's persist is written and
// reported `persisted` before its messages leave); with `asyncDisk` a persist stays unsynced until the test syncs
// it, messages marked afterPersist wait for it, and a crash loses it.
import { applyPersist } from '../raft/cluster.ts';
import * as realReplica from '../../../core/replica/index.ts';
import type { AppliedEntry, PeerMessage, ReplicaInput, ReplicaOptions, ReplicaReady, ReplicaReply, ReplicaState } from '../../../core/replica/index.ts';
import type { PersistedState } from '../../../core/raft/index.ts';
import type { KeysRequest } from '../../../core/kv/index.ts';

export type ReplicaModule = typeof realReplica;

export interface Member {
  id: string;
  state: ReplicaState;
  disk: PersistedState;
  up: boolean;
  /** Added to the cluster's time to give this member's local clock. */
  clockOffsetMs: number;
  replies: Array<{ id: number; reply: ReplicaReply }>;
  applied: AppliedEntry[];
  /** Snapshot indexes this member installed from a leader. */
  installs: number[];
}

export interface DriverOptions {
  replica?: Partial<ReplicaOptions>;
  module?: ReplicaModule;
  /** Simulated wall clock at start. */
  startMs?: number;
  clockOffsets?: Record<string, number>;
  asyncDisk?: boolean;
}

/** An unsynced persist and the messages that may leave only once it (and every earlier one) is durable. */
interface PendingPersist {
  persist: ReplicaReady['persist'];
  gated: PeerMessage[];
}

export const BASE_OPTIONS: Partial<ReplicaOptions> = {
  raft: { electionTimeoutMs: 300, heartbeatIntervalMs: 50, seed: 7 },
  requestTimeoutMs: 2000,
  forwardRetryMs: 200,
};

export class ReplicaCluster {
  readonly members = new Map<string, Member>();
  readonly module: ReplicaModule;
  inflight: PeerMessage[] = [];
  nowMs: number;
  /** Members cut off from everyone (messages to or from them are dropped). */
  readonly isolated = new Set<string>();
  private readonly options: (id: string) => ReplicaOptions;
  private readonly asyncDisk: boolean;
  private readonly unsynced = new Map<string, PendingPersist[]>();
  private nextRequestId = 1;

  constructor(ids: string[], opts: DriverOptions = {}) {
    this.module = opts.module ?? realReplica;
    this.asyncDisk = opts.asyncDisk ?? false;
    // etcd ignores expiry times before 2000, so the default clock starts in 2027.
    this.nowMs = opts.startMs ?? 1_800_000_000_000;
    this.options = (id) => ({ ...BASE_OPTIONS, ...opts.replica, id, raft: { ...BASE_OPTIONS.raft, ...opts.replica?.raft } });
    for (const id of ids) {
      const member: Member = {
        id,
        state: this.module.createReplica(this.options(id), { voters: ids }),
        disk: { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
        up: true,
        clockOffsetMs: opts.clockOffsets?.[id] ?? 0,
        replies: [],
        applied: [],
        installs: [],
      };
      this.members.set(id, member);
    }
  }

  /** A brand-new member that joins through a membership change: it starts empty and learns from the leader. */
  addMember(id: string): Member {
    const member: Member = {
      id,
      state: this.module.createReplica(this.options(id), { voters: [] }),
      disk: { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
      up: true,
      clockOffsetMs: 0,
      replies: [],
      applied: [],
      installs: [],
    };
    this.members.set(id, member);
    return member;
  }

  member(id: string): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  /** Steps a member and carries out its Ready (persist, persisted report, sends, replies). */
  step(id: string, input: ReplicaInput): ReplicaReady {
    const member = this.member(id);
    if (!member.up) throw new Error(`${id} is down`);
    const ready = this.module.stepReplica(member.state, input);
    this.carryOut(member, ready);
    return ready;
  }

  private carryOut(member: Member, ready: ReplicaReady): void {
    member.replies.push(...ready.replies);
    member.applied.push(...ready.applied);
    if (ready.installedSnapshot !== null) member.installs.push(ready.installedSnapshot);
    if (this.asyncDisk) {
      const queue = this.unsynced.get(member.id) ?? [];
      this.unsynced.set(member.id, queue);
      const gated: PeerMessage[] = [];
      for (const out of ready.messages) {
        if (out.afterPersist && (ready.persist !== null || queue.length > 0)) gated.push(out.message);
        else this.send(out.message);
      }
      if (ready.persist !== null || gated.length > 0) queue.push({ persist: ready.persist, gated });
      return;
    }
    if (ready.persist !== null) applyPersist(member.disk, ready.persist);
    for (const out of ready.messages) this.send(out.message);
    this.reportPersisted(member, ready.persist);
  }

  private reportPersisted(member: Member, persist: ReplicaReady['persist']): void {
    const point = persist === null ? null : this.module.persistedPoint(persist);
    if (point !== null) this.step(member.id, { type: 'persisted', index: point.index, term: point.term });
  }

  /** Async disks: makes the oldest unsynced persist of a member durable; false when there was none. */
  syncOne(id: string): boolean {
    const member = this.member(id);
    const next = this.unsynced.get(id)?.shift();
    if (next === undefined || !member.up) return false;
    if (next.persist !== null) applyPersist(member.disk, next.persist);
    for (const message of next.gated) this.send(message);
    this.reportPersisted(member, next.persist);
    return true;
  }

  syncAll(): void {
    for (let progress = true; progress; ) {
      progress = false;
      for (const id of this.members.keys()) while (this.syncOne(id)) progress = true;
    }
  }

  private send(message: PeerMessage): void {
    if (this.isolated.has(message.from) || this.isolated.has(message.to)) return;
    this.inflight.push(message);
  }

  /** Delivers one message; false when none was deliverable. */
  deliverOne(index = 0): boolean {
    const message = this.inflight.splice(index, 1)[0];
    if (message === undefined) return false;
    const to = this.members.get(message.to);
    if (to === undefined || !to.up || this.isolated.has(message.to) || this.isolated.has(message.from)) return true;
    this.step(message.to, { type: 'message', message });
    return true;
  }

  /** Delivers messages in FIFO order until none is left (bounded). */
  deliverAll(limit = 100_000): void {
    for (let i = 0; i < limit && this.inflight.length > 0; i++) this.deliverOne(0);
  }

  /** Advances time by `ms`, ticking every up member with its local clock. */
  tick(ms: number): void {
    this.nowMs += ms;
    for (const member of this.members.values()) {
      if (member.up) this.step(member.id, { type: 'tick', now: this.nowMs + member.clockOffsetMs });
    }
  }

  /** Time passes in `stepMs` rounds, delivering everything after each tick. */
  run(ms: number, stepMs = 10): void {
    for (let t = 0; t < ms; t += stepMs) {
      this.tick(stepMs);
      this.syncAll();
      this.deliverAll();
    }
  }

  leader(): string | null {
    for (const member of this.members.values()) {
      if (member.up && member.state.raft.role === 'leader') return member.id;
    }
    return null;
  }

  /** Runs until some member leads and every up member knows it (bounded). */
  elect(preferred?: string): string {
    if (preferred !== undefined) {
      this.step(preferred, { type: 'campaign' });
      this.deliverAll();
    }
    for (let i = 0; i < 1000; i++) {
      const leader = this.leader();
      if (leader !== null && [...this.members.values()].every((m) => !m.up || this.isolated.has(m.id) || m.state.raft.leader === leader)) return leader;
      this.run(10);
    }
    throw new Error('no leader elected');
  }

  /** A fresh request id, above every earlier one on every member. */
  nextId(): number {
    return this.nextRequestId++;
  }

  request(memberId: string, request: KeysRequest): number {
    const id = this.nextRequestId++;
    this.step(memberId, { type: 'request', id, request });
    return id;
  }

  /** Requests that arrive together, stepped as one `requests` batch; their ids in order. */
  requests(memberId: string, requests: KeysRequest[]): number[] {
    const batch = requests.map((request) => ({ id: this.nextRequestId++, request }));
    this.step(memberId, { type: 'requests', requests: batch });
    return batch.map((r) => r.id);
  }

  replyTo(memberId: string, requestId: number): ReplicaReply | undefined {
    return this.member(memberId).replies.find((r) => r.id === requestId)?.reply;
  }

  /** Runs until `requestId` on `memberId` has a reply (bounded by `maxMs`). */
  await(memberId: string, requestId: number, maxMs = 5000): ReplicaReply {
    this.deliverAll();
    for (let t = 0; t <= maxMs; t += 10) {
      const r = this.replyTo(memberId, requestId);
      if (r !== undefined) return r;
      this.run(10);
    }
    throw new Error(`no reply to request ${requestId} on ${memberId} within ${maxMs} ms`);
  }

  crash(id: string): void {
    const member = this.member(id);
    member.up = false;
    this.unsynced.delete(id);
    this.inflight = this.inflight.filter((m) => m.to !== id);
  }

  restart(id: string): void {
    const member = this.member(id);
    const disk = structuredClone(member.disk);
    member.state = this.module.restartReplica(this.options(id), disk);
    member.up = true;
  }

  isolate(id: string): void {
    this.isolated.add(id);
    this.inflight = this.inflight.filter((m) => m.to !== id && m.from !== id);
  }

  heal(): void {
    this.isolated.clear();
  }
}
