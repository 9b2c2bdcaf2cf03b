// The replica as a node program of the simulated world: it carries out what `stepReplica` returns, exactly as
// the persistence contract says (core/raft/types.ts):
// - each Ready's persist becomes one WAL record (whole or torn, never half-applied); a sync is issued when the
//   Ready must be durable, and messages marked afterPersist leave only when that sync (and every earlier one)
//   completes, through the world's `sendAfterSync`, so a crash in between drops them;
// - `persisted` is stepped only from `onSynced`, with the point of the last persist that sync covered;
// - a restart rebuilds the replica from the WAL alone. A torn tail is cut (it was never synced, so never
//   acknowledged); a record that fails its checksum or does not decode makes the member refuse to start: its
//   disk no longer holds what it promised its peers, and serving from it could mean serving wrong data.
//
// Besides replies, the program emits observations for the checkers through `ctx.output`: a sample whenever the
// member's Raft view changes (with log deltas taken from the persists), and the entries and store events each
// step applied.
import {
  createReplica,
  observeReplica,
  persistedPoint,
  replicaTickDeadline,
  restartReplica,
  stepReplica,
  type AppliedEntry,
  type MemberInfo,
  type PeerMessage,
  type ReplicaInput,
  type ReplicaOptions,
  type ReplicaReady,
  type ReplicaReply,
  type ReplicaState,
} from '../../core/replica/index.ts';
import { decodePeerMessage, encodePeerMessage } from '../../core/replica/index.ts';
import type { KeysRequest, StoreEvent } from '../../core/kv/index.ts';
import { lastLogIndex, type Entry, type Persist } from '../../core/raft/index.ts';
import type { EntryRef, Role } from '../check/history.ts';
import type { MessageCodec, NodeContext, NodeId, NodeProgram } from '../world/world.ts';
import type { RecordProblem } from '../world/disk.ts';
import { fnv1a32 } from '../world/run-hash.ts';
import { encodeBaseRecord, encodePersistRecord, foldRecords, PersistedMirror, WAL_FILE, WalFormatError } from './wal.ts';

/** A client's request reaching a member (`token` names it for the client), an operator's membership request, or the
 * client hanging up. */
export type DriverInput =
  | { kind: 'request'; token: number; request: KeysRequest }
  | { kind: 'member-add'; token: number; member: MemberInfo }
  | { kind: 'member-remove'; token: number; memberId: NodeId }
  | { kind: 'cancel'; token: number };

/** A member's Raft view, as the Raft-safety checker samples it (the run adds node and time). */
export interface DriverSample {
  role: Role;
  term: number;
  commitIndex: number;
  lastIndex: number;
  applied: number;
  stateDigest: string;
  persistedCommit: number;
  log?: { from: number; entries: EntryRef[] };
  event?: 'restart';
  /** The member's log now starts after this snapshot (installed from the leader, or restarted from it). */
  snapshot?: { index: number; term: number };
}

export type DriverOutput =
  /** `entry`: where the client's write landed in the log (for acknowledged-write durability), when it did. */
  | { kind: 'reply'; token: number; reply: ReplicaReply; entry: { index: number; term: number } | null }
  /** The member is not serving (it refused to start): the client sees its connection refused. */
  | { kind: 'refused'; token: number; reason: string }
  | { kind: 'boot'; incarnation: number; fresh: boolean; problem: RecordProblem | null; halted: string | null }
  | { kind: 'sample'; sample: DriverSample }
  | { kind: 'applied'; entries: AppliedEntry[]; events: StoreEvent[] };

export interface ReplicaProgramOptions {
  /** The bootstrap voters (every member of the initial cluster). */
  voters: readonly NodeId[];
  /** Replica options without the id (each member adds its own). */
  replica: Omit<ReplicaOptions, 'id'>;
  /** The tick period (local-clock ms): the member behaves as if ticked on this grid, see `step`. */
  tickMs: number;
  /** Emit samples and applied events for the checkers (default true). */
  observe?: boolean;
  /** Rewrite the WAL once it holds this many records since its last rewrite (default 4096). */
  maxWalRecords?: number;
}

export interface DriverState {
  /** Null when the member refused to start. */
  replica: ReplicaState | null;
  halted: string | null;
  mirror: PersistedMirror;
  walRecords: number;
  nextSeq: number;
  /** Request id -> client token, and back. */
  tokenOf: Map<number, number>;
  requestOf: Map<number, number>;
  /** Syncs in flight with the persisted point and commit each makes durable, oldest first. */
  syncing: Array<{ syncId: number; point: { index: number; term: number } | null; commit: number }>;
  lastSyncId: number;
  durableCommit: number;
  /** Last sample emitted, to emit only changes. */
  last: { role: string; term: number; commit: number; lastIndex: number; applied: number; persistedCommit: number };
  /** Store index up to which events were reported. */
  eventsThrough: number;
  /** The tick grid: local readings gridOriginMs + k * tickMs, from the boot's reading. */
  gridOriginMs: number;
  /** The grid reading of the last tick stepped. */
  lastTickMs: number;
  /** The armed tick timer and the grid reading it fires at (as armed; a clock jump moves the reading). */
  tickTimer: { id: number; atMs: number } | null;
}

export const peerCodec: MessageCodec<PeerMessage> = { encode: encodePeerMessage, decode: decodePeerMessage };

/** A stable digest of a log entry's content, for log matching across members. */
export function entryDigest(e: Entry): string {
  const body = fnv1a32(e.data).toString(36);
  return e.conf === null ? `${e.kind[0]}${body}` : `${e.kind[0]}${e.conf.type}:${e.conf.node}:${body}`;
}

function entryRefs(entries: readonly Entry[]): EntryRef[] {
  return entries.map((e) => [e.term, entryDigest(e)]);
}

type Ctx = NodeContext<PeerMessage, DriverOutput>;

export function replicaProgram(options: ReplicaProgramOptions): NodeProgram<DriverState, PeerMessage, DriverInput, DriverOutput> {
  const voters = [...options.voters];
  const observe = options.observe !== false;
  const maxWalRecords = options.maxWalRecords ?? 4096;
  const optionsOf = (id: NodeId): ReplicaOptions => ({ ...options.replica, id });

  function emitSample(ds: DriverState, ctx: Ctx, log?: DriverSample['log'], event?: 'restart', snapshot?: DriverSample['snapshot']): void {
    const r = ds.replica!;
    const raft = r.raft;
    const lastIndex = lastLogIndex(raft);
    const l = ds.last;
    // Most steps change none of these: compare before building anything.
    if (!log && !event && !snapshot && l.role === raft.role && l.term === raft.term && l.commit === raft.commit && l.lastIndex === lastIndex && l.applied === r.applied && l.persistedCommit === ds.durableCommit) return;
    ds.last = { role: raft.role, term: raft.term, commit: raft.commit, lastIndex, applied: r.applied, persistedCommit: ds.durableCommit };
    const o = observeReplica(r);
    const sample: DriverSample = {
      role: o.role,
      term: o.term,
      commitIndex: o.commit,
      lastIndex: o.lastIndex,
      applied: o.applied,
      stateDigest: o.digest,
      persistedCommit: ds.durableCommit,
    };
    if (log) sample.log = log;
    if (event) sample.event = event;
    if (snapshot) sample.snapshot = snapshot;
    ctx.output({ kind: 'sample', sample });
  }

  function logDelta(p: Persist): DriverSample['log'] | undefined {
    if (p.snapshot !== null && p.snapshotResetsLog) return { from: p.snapshot.index + 1, entries: entryRefs(p.entries) };
    if (p.entries.length > 0) return { from: p.entries[0]!.index, entries: entryRefs(p.entries) };
    return undefined;
  }

  function newEvents(ds: DriverState): StoreEvent[] {
    const h = ds.replica!.replicated.store.history;
    if (h.lastIndex <= ds.eventsThrough) return [];
    const out: StoreEvent[] = [];
    // Walk back from the newest event to the first unreported one; the ring holds the last `capacity`.
    for (let k = 0, i = (h.back - 1 + h.capacity) % h.capacity; k < h.size; k++, i = (i - 1 + h.capacity) % h.capacity) {
      const e = h.events[i]!;
      if (e.node.modifiedIndex <= ds.eventsThrough) break;
      out.push(e);
    }
    ds.eventsThrough = h.lastIndex;
    return out.reverse();
  }

  function handle(ds: DriverState, ready: ReplicaReady, ctx: Ctx): void {
    const p = ready.persist;
    let log: DriverSample['log'] | undefined;
    let snapshot: DriverSample['snapshot'] | undefined;
    let syncId = 0;
    if (p !== null) {
      ds.mirror.apply(p);
      if (p.snapshot !== null || ds.walRecords >= maxWalRecords) {
        ctx.disk.replace(WAL_FILE, [encodeBaseRecord(ds.mirror.state())]);
        ds.walRecords = 1;
      } else {
        ctx.disk.append(WAL_FILE, encodePersistRecord(p));
        ds.walRecords++;
      }
      const point = persistedPoint(p);
      const waits = ready.messages.some((m) => m.afterPersist);
      if (ready.mustSync || point !== null || waits) {
        syncId = ds.lastSyncId = ctx.disk.sync();
        ds.syncing.push({ syncId, point, commit: ds.mirror.hardState.commit });
      }
      if (observe) {
        log = logDelta(p);
        if (p.snapshot !== null && p.snapshotResetsLog) snapshot = { index: p.snapshot.index, term: p.snapshot.term };
      }
    }
    for (const { message, afterPersist } of ready.messages) {
      // With no persist of its own, an afterPersist message still waits for every earlier persist.
      const waitFor = syncId || (ds.syncing.length > 0 ? ds.lastSyncId : 0);
      if (afterPersist && waitFor > 0) ctx.sendAfterSync(waitFor, message.to, message);
      else ctx.send(message.to, message);
    }
    if (ready.replies.length > 0) {
      for (const { id, reply } of ready.replies) {
        const token = ds.tokenOf.get(id);
        if (token === undefined) continue;
        if (reply.final) {
          ds.tokenOf.delete(id);
          ds.requestOf.delete(token);
        }
        let entry: { index: number; term: number } | null = null;
        for (const a of ready.applied) {
          if (a.requestId === id && a.kind === 'client' && a.origin === ctx.id) entry = { index: a.index, term: a.term };
        }
        ctx.output({ kind: 'reply', token, reply, entry });
      }
    }
    if (observe) {
      if (ready.applied.length > 0 || ready.installedSnapshot !== null) {
        ctx.output({ kind: 'applied', entries: ready.applied, events: newEvents(ds) });
      }
      emitSample(ds, ctx, log, undefined, snapshot);
    }
  }

  // Ticks. The member behaves as if ticked at every point of a grid of its local clock (every tickMs from its
  // boot reading), but only the ticks that matter become events: the replica reports the reading from which a
  // tick makes it act (replicaTickDeadline), and a timer fires at the first grid point from there; every other
  // grid tick would only add elapsed time, which the next tick adds just the same. Before any input, the member
  // is ticked with the latest grid point passed, so the clock it reads when handling the input (and stamps into
  // proposals and request deadlines) is exactly as fresh as with a tick event at every grid point. An idle member
  // so wakes once per heartbeat or election timeout rather than every tickMs.
  function gridFloor(ds: DriverState, reading: number): number {
    return ds.gridOriginMs + Math.floor((reading - ds.gridOriginMs) / options.tickMs) * options.tickMs;
  }

  function tick(ds: DriverState, now: number, ctx: Ctx): void {
    ds.lastTickMs = now;
    handle(ds, stepReplica(ds.replica!, { type: 'tick', now }), ctx);
  }

  function step(ds: DriverState, input: ReplicaInput, ctx: Ctx): void {
    const grid = gridFloor(ds, ctx.now());
    if (grid !== ds.lastTickMs) tick(ds, grid, ctx);
    handle(ds, stepReplica(ds.replica!, input), ctx);
    armTick(ds, ctx);
  }

  function armTick(ds: DriverState, ctx: Ctx): void {
    const deadline = replicaTickDeadline(ds.replica!);
    if (deadline === null) return;
    const now = ctx.now();
    const next = gridFloor(ds, now) + options.tickMs;
    const atMs = deadline <= next ? next : next + Math.ceil((deadline - next) / options.tickMs) * options.tickMs;
    const armed = ds.tickTimer;
    if (armed !== null) {
      if (armed.atMs <= atMs) return;
      ctx.cancelTimer(armed.id);
    }
    ds.tickTimer = { id: ctx.setTimer(atMs - now, 'tick'), atMs };
  }

  function boot(ctx: Ctx): DriverState {
    const { records, problem } = ctx.disk.read(WAL_FILE);
    const ds: DriverState = {
      replica: null,
      halted: null,
      mirror: new PersistedMirror(),
      walRecords: records.length,
      nextSeq: 1,
      tokenOf: new Map(),
      requestOf: new Map(),
      syncing: [],
      lastSyncId: 0,
      durableCommit: 0,
      last: { role: '', term: -1, commit: -1, lastIndex: -1, applied: -1, persistedCommit: -1 },
      eventsThrough: 0,
      gridOriginMs: 0,
      lastTickMs: 0,
      tickTimer: null,
    };
    if (problem?.kind === 'corrupt') {
      ds.halted = `corrupt WAL record #${problem.recordIndex} at byte ${problem.offset}: ${problem.detail}`;
    } else {
      try {
        ds.mirror = foldRecords(records);
      } catch (err) {
        if (!(err instanceof WalFormatError)) throw err;
        ds.halted = `undecodable WAL: ${err.message}`;
      }
    }
    const fresh = records.length === 0 && ds.halted === null;
    ctx.output({ kind: 'boot', incarnation: ctx.incarnation, fresh, problem, halted: ds.halted });
    if (ds.halted !== null) return ds;
    // The torn tail was never synced, so never acknowledged: dropping it is what a crash before it would do.
    if (problem?.kind === 'torn') ctx.disk.replace(WAL_FILE, records);
    ds.durableCommit = ds.mirror.hardState.commit;
    // A member added later starts with no configuration and learns it from the leader.
    if (fresh) ds.replica = createReplica(optionsOf(ctx.id), { voters: voters.includes(ctx.id) ? voters : [] });
    else ds.replica = restartReplica(optionsOf(ctx.id), ds.mirror.state());
    ds.eventsThrough = ds.replica.replicated.store.index;
    // A member that crashed before its first sync boots fresh from an empty WAL, but it is a restart all the
    // same: what it held in memory (a term, a log) is gone, and the checkers must know the incarnation changed.
    if (observe && fresh && ctx.incarnation > 1) {
      // Its log is what a first boot creates (the bootstrap configuration), not the empty WAL's.
      emitSample(ds, ctx, { from: 1, entries: entryRefs(ds.replica.raft.log.entries) }, 'restart');
    } else if (observe && !fresh) {
      const snap = ds.mirror.snapshot;
      const base = snap?.index ?? 0;
      emitSample(ds, ctx, { from: base + 1, entries: entryRefs(ds.mirror.entries) }, 'restart', snap === null ? undefined : { index: snap.index, term: snap.term });
    }
    ds.gridOriginMs = ctx.now();
    tick(ds, ds.gridOriginMs, ctx);
    armTick(ds, ctx);
    return ds;
  }

  return {
    start: boot,
    onTimer(ds, _tag, ctx) {
      ds.tickTimer = null;
      if (ds.replica === null) return;
      tick(ds, gridFloor(ds, ctx.now()), ctx);
      armTick(ds, ctx);
    },
    onMessage(ds, _from, message, ctx) {
      if (ds.replica === null) return;
      step(ds, { type: 'message', message }, ctx);
    },
    onSynced(ds, syncId, ctx) {
      let point: { index: number; term: number } | null = null;
      while (ds.syncing.length > 0 && ds.syncing[0]!.syncId <= syncId) {
        const done = ds.syncing.shift()!;
        if (done.point !== null) point = done.point;
        ds.durableCommit = Math.max(ds.durableCommit, done.commit);
      }
      if (ds.replica === null) return;
      if (point !== null) step(ds, { type: 'persisted', index: point.index, term: point.term }, ctx);
      else if (observe) emitSample(ds, ctx);
    },
    onInput(ds, input, ctx) {
      if (ds.replica === null) {
        if (input.kind !== 'cancel') ctx.output({ kind: 'refused', token: input.token, reason: ds.halted ?? 'not running' });
        return;
      }
      if (input.kind === 'cancel') {
        const id = ds.requestOf.get(input.token);
        if (id === undefined) return;
        ds.requestOf.delete(input.token);
        ds.tokenOf.delete(id);
        step(ds, { type: 'cancel', id }, ctx);
        return;
      }
      // Request ids grow for the member's whole life: the boot number leads, as a real server's wall clock would.
      const id = ctx.incarnation * 2 ** 32 + ds.nextSeq++;
      ds.tokenOf.set(id, input.token);
      ds.requestOf.set(input.token, id);
      if (input.kind === 'request') step(ds, { type: 'request', id, request: input.request }, ctx);
      else if (input.kind === 'member-add') step(ds, { type: 'member-add', id, member: input.member }, ctx);
      else step(ds, { type: 'member-remove', id, memberId: input.memberId }, ctx);
    },
  };
}
