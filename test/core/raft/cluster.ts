// A small deterministic cluster for the unit and interaction tests: nodes of the core, a disk per node that
// follows the persistence contract, and a network the test moves by hand (deliver, drop, partition).
// (The property suites have their own randomized harness in harness.ts.)
import * as realCore from '../../../core/raft/index.ts';
import type {
  Entry,
  Message,
  NodeId,
  PersistedState,
  RaftInput,
  RaftOptions,
  RaftState,
  ReadState,
  Ready,
  Rejection,
  SoftState,
  Snapshot,
} from '../../../core/raft/index.ts';

export interface Disk {
  /** What survives a crash. */
  durable: PersistedState;
  /** Readys whose persist is written but not synced (manual sync mode), with the messages waiting on them. */
  unsynced: Array<{ ready: Ready; held: Message[] }>;
}

export interface TestNode {
  id: NodeId;
  options: RaftOptions;
  state: RaftState;
  disk: Disk;
  clock: number;
  applied: Entry[];
  appliedIndex: number;
  readStates: ReadState[];
  rejected: Rejection[];
  snapshots: Snapshot[];
  soft: SoftState;
  crashed: boolean;
}

export interface ClusterOptions {
  voters: NodeId[];
  learners?: NodeId[];
  /** Extra nodes that exist but are not in the bootstrap membership (to be added later). */
  joiners?: NodeId[];
  raft?: Omit<RaftOptions, 'id'>;
  /** When false, persists stay unsynced until `sync(id)`; messages waiting on them are held. Default true. */
  autoSync?: boolean;
  /** The core to drive (a mutated copy in mutant tests); the real one by default. */
  core?: RaftCore;
}

export interface RaftCore {
  createNode: typeof realCore.createNode;
  restartNode: typeof realCore.restartNode;
  step: typeof realCore.step;
}

/** One line per observable effect of a step; the interaction tests print these. */
export type Effect = string;

export function applyPersist(disk: PersistedState, persist: NonNullable<Ready['persist']>): void {
  if (persist.snapshot !== null) {
    disk.snapshot = persist.snapshot;
    disk.entries = persist.snapshotResetsLog ? [] : disk.entries.filter((e) => e.index > persist.snapshot!.index);
  }
  if (persist.entries.length > 0) {
    const from = persist.entries[0]!.index;
    disk.entries = disk.entries.filter((e) => e.index < from).concat(persist.entries);
  }
  if (persist.hardState !== null) disk.hardState = { ...persist.hardState };
}

/** The (index, term) a persist made durable: its last entry, else its snapshot; null when it wrote no log. */
export function persistedPoint(persist: NonNullable<Ready['persist']>): { index: number; term: number } | null {
  const last = persist.entries[persist.entries.length - 1];
  if (last !== undefined) return { index: last.index, term: last.term };
  if (persist.snapshot !== null) return { index: persist.snapshot.index, term: persist.snapshot.term };
  return null;
}

export class Cluster {
  nodes: Record<NodeId, TestNode> = {};
  ids: NodeId[] = [];
  /** Messages on the wire, in send order. */
  network: Message[] = [];
  /** Links that drop everything: "from->to". */
  cut = new Set<string>();
  autoSync: boolean;
  effects: Effect[] = [];
  /** Every message ever delivered, for assertions. */
  delivered: Message[] = [];
  /** Nesting of effects: what a delivered message causes is printed under it. */
  private depth = 0;

  readonly core: RaftCore;

  constructor(options: ClusterOptions) {
    this.autoSync = options.autoSync ?? true;
    this.core = options.core ?? realCore;
    const all = [...options.voters, ...(options.learners ?? []), ...(options.joiners ?? [])];
    for (const id of all) {
      const raftOptions: RaftOptions = { seed: 1, ...options.raft, id };
      const joining = options.joiners?.includes(id) ?? false;
      const state = this.core.createNode(raftOptions, joining ? { voters: [] } : { voters: options.voters, learners: options.learners ?? [] });
      this.nodes[id] = {
        id,
        options: raftOptions,
        state,
        disk: { durable: { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] }, unsynced: [] },
        clock: 0,
        applied: [],
        appliedIndex: 0,
        readStates: [],
        rejected: [],
        snapshots: [],
        soft: { role: state.role, leader: state.leader, term: state.term },
        crashed: false,
      };
      this.ids.push(id);
    }
    // The first step persists the bootstrap and sets the clock baseline.
    for (const id of this.ids) {
      this.step(id, { type: 'tick', now: 0 });
      this.sync(id);
    }
    this.effects = [];
  }

  effect(line: string): void {
    this.effects.push(`${'  '.repeat(this.depth)}${line}`);
  }

  node(id: NodeId): TestNode {
    const node = this.nodes[id];
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Steps a node and carries out its Ready: persist (and sync in auto mode), send, apply. */
  step(id: NodeId, input: RaftInput): Ready {
    const node = this.node(id);
    if (node.crashed) throw new Error(`node ${id} is down`);
    const ready = this.core.step(node.state, input);
    this.handleReady(node, ready);
    return ready;
  }

  private handleReady(node: TestNode, ready: Ready): void {
    const soft = ready.soft;
    if (soft.role !== node.soft.role || soft.term !== node.soft.term || soft.leader !== node.soft.leader) {
      this.effect(`${node.id}: ${soft.role} term=${soft.term} leader=${soft.leader ?? '-'}`);
      node.soft = soft;
    }
    if (ready.applySnapshot !== null) {
      node.snapshots.push(ready.applySnapshot);
      node.appliedIndex = ready.applySnapshot.index;
      this.effect(`${node.id}: restore snapshot ${ready.applySnapshot.index}@${ready.applySnapshot.term}`);
    }
    if (ready.persist !== null) node.disk.unsynced.push({ ready, held: [] });
    // In-order rule: a message waiting on persistence waits for this persist and every earlier one.
    const newest = node.disk.unsynced[node.disk.unsynced.length - 1];
    for (const out of ready.messages) {
      if (out.afterPersist && newest !== undefined) {
        newest.held.push(out.message);
        if (!this.autoSync) this.effect(`hold ${formatMessage(out.message)} (until ${node.id} syncs)`);
      } else {
        this.send(out.message);
      }
    }
    if (ready.committed.length > 0) {
      this.effect(`${node.id}: apply ${ready.committed.map(formatEntry).join(', ')}`);
      for (const entry of ready.committed) {
        if (entry.index !== node.appliedIndex + 1) throw new Error(`${node.id}: applying ${entry.index} after ${node.appliedIndex}`);
        node.applied.push(entry);
        node.appliedIndex = entry.index;
      }
      const last = node.appliedIndex;
      const applied = this.core.step(node.state, { type: 'applied', index: last });
      if (applied.messages.length > 0 || applied.persist !== null) throw new Error('applied produced output');
    }
    for (const read of ready.readStates) {
      node.readStates.push(read);
      this.effect(`${node.id}: read ${read.context} at ${read.index}`);
    }
    for (const rejection of ready.rejected) {
      node.rejected.push(rejection);
      const hint = rejection.leaderHint === null ? '' : ` (leader ${rejection.leaderHint})`;
      this.effect(`${node.id}: rejected ${rejection.input}${rejection.context === null ? '' : ` ${rejection.context}`}: ${rejection.reason}${hint}`);
    }
    if (ready.persist !== null && this.autoSync) this.sync(node.id);
  }

  /** Makes every written persist of `id` durable, releases the messages held on it, reports `persisted`. */
  sync(id: NodeId): void {
    const node = this.node(id);
    const pending = node.disk.unsynced;
    node.disk.unsynced = [];
    let point: { index: number; term: number } | null = null;
    for (const { ready, held } of pending) {
      applyPersist(node.disk.durable, ready.persist!);
      point = persistedPoint(ready.persist!) ?? point;
      for (const m of held) this.send(m);
    }
    if (point !== null) this.step(id, { type: 'persisted', index: point.index, term: point.term });
  }

  private send(m: Message): void {
    this.effect(`send ${formatMessage(m)}`);
    this.network.push(m);
  }

  /** Delivers messages (matching `filter`) until none are left, at most `limit` deliveries. */
  deliver(filter: (m: Message) => boolean = () => true, limit = 10_000): number {
    let count = 0;
    for (;;) {
      const index = this.network.findIndex(filter);
      if (index < 0) return count;
      if (++count > limit) throw new Error(`deliver: more than ${limit} messages, the cluster does not settle`);
      const [m] = this.network.splice(index, 1) as [Message];
      this.deliverOne(m);
    }
  }

  /** Delivers only the messages on the wire now, not the ones they cause. */
  deliverOnce(filter: (m: Message) => boolean = () => true): number {
    const batch = this.network.filter(filter);
    this.network = this.network.filter((m) => !filter(m));
    for (const m of batch) this.deliverOne(m);
    return batch.length;
  }

  private deliverOne(m: Message): void {
    const target = this.nodes[m.to];
    if (target === undefined || target.crashed || this.cut.has(`${m.from}->${m.to}`)) {
      this.effect(`${formatMessage(m)} (dropped)`);
      return;
    }
    this.delivered.push(m);
    this.effect(formatMessage(m));
    this.depth++;
    try {
      this.step(m.to, { type: 'message', message: m });
    } finally {
      this.depth--;
    }
  }

  drop(filter: (m: Message) => boolean): number {
    const before = this.network.length;
    this.network = this.network.filter((m) => !filter(m));
    return before - this.network.length;
  }

  /** Cuts every link between the groups (both directions). */
  partition(...groups: NodeId[][]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cut.add(`${x}->${y}`);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Advances one node's clock by `ms` in steps of at most `stepMs`. */
  tick(id: NodeId, ms: number, stepMs = ms): void {
    const node = this.node(id);
    let left = ms;
    while (left > 0) {
      const d = Math.min(stepMs, left);
      node.clock += d;
      left -= d;
      this.step(id, { type: 'tick', now: node.clock });
    }
  }

  /** Advances every live node's clock by `ms`, `stepMs` at a time, delivering messages after each round. */
  run(ms: number, stepMs = 10): void {
    for (let t = 0; t < ms; t += stepMs) {
      for (const id of this.ids) if (!this.nodes[id]!.crashed) this.tick(id, stepMs);
      this.deliver();
    }
  }

  /** Drops what was not synced, and everything in memory. */
  crash(id: NodeId): void {
    const node = this.node(id);
    node.crashed = true;
    node.disk.unsynced = [];
    this.effect(`${id}: crashed`);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    const durable = structuredClone(node.disk.durable);
    node.state = this.core.restartNode(node.options, durable);
    node.crashed = false;
    node.applied = [];
    node.appliedIndex = durable.snapshot?.index ?? 0;
    node.soft = { role: node.state.role, leader: node.state.leader, term: node.state.term };
    this.effect(`${id}: restarted term=${node.state.term} commit=${node.state.commit} last=${node.state.log.snapshotIndex + node.state.log.entries.length}`);
    this.step(id, { type: 'tick', now: node.clock });
  }

  leader(): NodeId | null {
    const leaders = this.ids.filter((id) => !this.nodes[id]!.crashed && this.nodes[id]!.state.role === 'leader');
    if (leaders.length === 0) return null;
    return leaders.sort((a, b) => this.nodes[b]!.state.term - this.nodes[a]!.state.term)[0]!;
  }

  /** Elects `id` by campaigning and delivering everything. */
  elect(id: NodeId): void {
    this.step(id, { type: 'campaign' });
    this.deliver();
  }

  propose(id: NodeId, ...payloads: string[]): Ready {
    return this.step(id, { type: 'propose', payloads: payloads.map((p) => new TextEncoder().encode(p)) });
  }

  takeEffects(): Effect[] {
    const out = this.effects;
    this.effects = [];
    return out;
  }
}

const decoder = new TextDecoder();

export function formatEntry(e: Entry): string {
  if (e.kind === 'noop') return `${e.index}@${e.term} noop`;
  if (e.kind === 'conf') return `${e.index}@${e.term} ${e.conf!.type} ${e.conf!.node}`;
  return `${e.index}@${e.term} ${JSON.stringify(decoder.decode(e.data))}`;
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'vote':
      return `${head}${m.preVote ? ' pre' : ''}${m.transfer ? ' transfer' : ''} last=${m.lastIndex}@${m.lastTerm}`;
    case 'vote-response':
      return `${head}${m.preVote ? ' pre' : ''} ${m.granted ? 'granted' : 'refused'}`;
    case 'append':
      return `${head} prev=${m.prevIndex}@${m.prevTerm} commit=${m.commit} [${m.entries.map(formatEntry).join(', ')}]`;
    case 'append-response':
      return m.reject ? `${head} reject index=${m.index} hint=${m.hintIndex}@${m.hintTerm}` : `${head} index=${m.index}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context === null ? '' : ` ctx=${m.context}`}`;
    case 'heartbeat-response':
      return `${head}${m.context === null ? '' : ` ctx=${m.context}`}`;
    case 'snapshot':
      return `${head} snapshot=${m.snapshot.index}@${m.snapshot.term} voters=${m.snapshot.membership.voters.join(',')}${m.snapshot.membership.learners.length > 0 ? ` learners=${m.snapshot.membership.learners.join(',')}` : ''}`;
    case 'timeout-now':
      return head;
    case 'read-index':
      return `${head} ctx=${m.context}`;
    case 'read-index-response':
      return m.reject === null ? `${head} ctx=${m.context} index=${m.index}` : `${head} ctx=${m.context} reject=${m.reject}`;
  }
}
