// An in-process cluster of Raft nodes for property tests, and the property suite built on it.
//
// The harness is the nastiest driver the persistence contract allows: messages wait in one pool and leave in
// any order, get dropped or duplicated, partitions cut links one way or both, each node has its own clock, and a
// crash keeps only what was synced (optionally a prefix of what was written but not yet synced, as a real disk
// may). It checks Raft's safety invariants after every step, so a failing schedule is reported at the first
// step that breaks one, and fast-check shrinks the schedule to a minimal one.
//
// It is parameterized by the core module, so the same suite runs against a mutated copy of the tree
// (test/core/raft/mutants.test.ts).
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import type {
  ConfChangeType,
  Entry,
  Message,
  NodeId,
  PersistedState,
  Persist,
  RaftInput,
  RaftOptions,
  RaftState,
  Ready,
  Role,
  Snapshot,
} from '../../../core/raft/types.ts';

/** The three functions of core/raft/index.ts the harness drives; a mutated copy provides the same shape. */
export interface RaftCore {
  createNode(options: RaftOptions, bootstrap: { voters: NodeId[]; learners?: NodeId[] }): RaftState;
  restartNode(options: RaftOptions, persisted: PersistedState): RaftState;
  step(state: RaftState, input: RaftInput): Ready;
}

export type InvariantName =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'commit-monotonic'
  | 'apply-after-durable'
  | 'sync-before-send'
  | 'acknowledged-writes-survive'
  | 'read-linearizable'
  | 'liveness'
  | 'deterministic-replay'
  | 'limits-respected';

/** Failures that are always reported, whatever invariants a property enables. */
export type AlwaysChecked = 'core-error' | 'persist-contract';

export const ALL_INVARIANTS: readonly InvariantName[] = [
  'election-safety',
  'log-matching',
  'leader-completeness',
  'state-machine-safety',
  'commit-monotonic',
  'apply-after-durable',
  'sync-before-send',
  'acknowledged-writes-survive',
  'read-linearizable',
  'liveness',
  'deterministic-replay',
  'limits-respected',
];

/** Thrown at the first broken invariant; `invariant` names it so the mutant suite can say what killed what. */
export class Violation extends Error {
  override name = 'Violation';
  constructor(
    readonly invariant: InvariantName | AlwaysChecked,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

// ------------------------------------------------------------------------------------------------ actions

/** One step of a fault-and-workload schedule. Node and message choices are small integers taken modulo what
 * exists, so any generated (or shrunk) schedule is valid for any cluster. */
export type Action =
  | { kind: 'tick'; node: number; ms: number }
  | { kind: 'clock-jump-back'; node: number; ms: number }
  | { kind: 'deliver'; pick: number }
  /** One pass over the messages in flight now: each is delivered once (or dropped by a partition). */
  | { kind: 'deliver-all' }
  /** Sync every node and deliver every message until the network is quiet, with no time passing. */
  | { kind: 'settle' }
  | { kind: 'drop'; pick: number }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'sync'; node: number }
  | { kind: 'crash'; node: number; keepUnsynced: number }
  /** Nemesis aimed at whoever leads now (the highest-term live leader), as Jepsen's nemeses do. */
  | { kind: 'crash-leader'; keepUnsynced: number }
  | { kind: 'isolate-leader'; oneWay: boolean }
  | { kind: 'restart'; node: number }
  | { kind: 'partition'; sideA: number; oneWay: boolean }
  | { kind: 'heal' }
  | { kind: 'campaign'; node: number }
  | { kind: 'propose'; node: number; count: number }
  | { kind: 'read'; node: number }
  /** A membership change sent to `node` (following a not-leader hint). The target is picked among the nodes the
   * change makes sense for in the current leader's membership (non-members to add, learners to promote,
   * members to remove), so most generated changes are valid; textbook schedules name the target exactly. */
  | { kind: 'conf'; node: number; change: ConfChangeType; target: number; exact?: boolean }
  | { kind: 'transfer'; node: number; target: number }
  /** `node` (or, with `everyone`, every live node) snapshots its application and compacts its log. */
  | { kind: 'compact'; node: number; everyone?: boolean }
  /** `rounds` rounds of: every node's clock advances by a jittered step and ticks, then writes are synced and
   * messages delivered in a shuffled order until the network is quiet. Below 100, `reliability` is the percent
   * chance that each message is delivered (else it stays in flight, delayed) and each node syncs, per pass:
   * acknowledgements race crashes and stale messages arrive late. */
  | { kind: 'run'; rounds: number; seed: number; reliability: number };

export interface ActionWeights {
  faults: number;
  proposals: number;
  reads: number;
  membership: number;
  transfers: number;
  compaction: number;
}

const DEFAULT_WEIGHTS: ActionWeights = { faults: 2, proposals: 6, reads: 0, membership: 0, transfers: 1, compaction: 1 };

export function actionArbitrary(weights: Partial<ActionWeights> = {}): fc.Arbitrary<Action> {
  const w = { ...DEFAULT_WEIGHTS, ...weights };
  const node = fc.nat({ max: 7 });
  const pick = fc.nat({ max: 63 });
  const choices: Array<{ weight: number; arbitrary: fc.Arbitrary<Action> }> = [
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('run' as const),
        rounds: fc.integer({ min: 1, max: 10 }),
        seed: fc.nat(),
        reliability: fc.constantFrom(100, 100, 60, 30),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), node, ms: fc.integer({ min: 1, max: 250 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('campaign' as const), node }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'deliver-all' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), node }) },
  ];
  if (w.faults > 0) {
    choices.push(
      { weight: w.faults, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick }) },
      { weight: w.faults, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick }) },
      { weight: w.faults, arbitrary: fc.record({ kind: fc.constant('crash' as const), node, keepUnsynced: fc.nat({ max: 3 }) }) },
      { weight: w.faults, arbitrary: fc.record({ kind: fc.constant('restart' as const), node }) },
      {
        weight: w.faults,
        arbitrary: fc.record({ kind: fc.constant('partition' as const), sideA: fc.nat({ max: 31 }), oneWay: fc.boolean() }),
      },
      { weight: w.faults, arbitrary: fc.constant({ kind: 'heal' as const }) },
      { weight: w.faults, arbitrary: fc.record({ kind: fc.constant('crash-leader' as const), keepUnsynced: fc.nat({ max: 3 }) }) },
      { weight: w.faults, arbitrary: fc.record({ kind: fc.constant('isolate-leader' as const), oneWay: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('clock-jump-back' as const), node, ms: fc.integer({ min: 1, max: 500 }) }) },
    );
  }
  if (w.proposals > 0) {
    choices.push({ weight: w.proposals, arbitrary: fc.record({ kind: fc.constant('propose' as const), node, count: fc.integer({ min: 1, max: 3 }) }) });
  }
  if (w.reads > 0) choices.push({ weight: w.reads, arbitrary: fc.record({ kind: fc.constant('read' as const), node }) });
  if (w.membership > 0) {
    choices.push({
      weight: w.membership,
      arbitrary: fc.record({
        kind: fc.constant('conf' as const),
        node,
        change: fc.constantFrom<ConfChangeType>('add-voter', 'add-learner', 'promote', 'remove'),
        target: node,
      }),
    });
  }
  if (w.transfers > 0) choices.push({ weight: w.transfers, arbitrary: fc.record({ kind: fc.constant('transfer' as const), node, target: node }) });
  if (w.compaction > 0) {
    choices.push({ weight: w.compaction, arbitrary: fc.record({ kind: fc.constant('compact' as const), node, everyone: fc.boolean() }) });
  }
  return fc.oneof(...choices);
}

export interface Scenario {
  /** Nodes that exist (n1..nSize); the first `voters` are bootstrapped as voters, the rest start empty and join
   * only through membership changes. */
  size: number;
  voters: number;
  seed: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** maxEntriesPerMessage: 1 makes a follower acknowledge an old-term entry without the entries after it. */
  maxEntries: number;
  /** After each `run` round, every node whose application is this many entries past its snapshot compacts
   * (as etcd snapshots every N entries); 0 never. Followers that fall behind then need InstallSnapshot. */
  compactEvery?: number;
  actions: Action[];
}

export interface ScenarioShape {
  sizes?: number[];
  /** Nodes beyond the bootstrapped voters (spares for membership changes). */
  spares?: number;
  maxActions?: number;
  weights?: Partial<ActionWeights>;
}

export function scenarioArbitrary(shape: ScenarioShape = {}): fc.Arbitrary<Scenario> {
  const sizes = shape.sizes ?? [3, 5];
  const spares = shape.spares ?? 0;
  return fc.record({
    voters: fc.constantFrom(...sizes),
    seed: fc.nat(),
    preVote: fc.boolean(),
    checkQuorum: fc.boolean(),
    maxEntries: fc.constantFrom(1, 3),
    compactEvery: fc.constantFrom(0, 0, 3),
    // 'medium' lets schedules reach their maximum length; fast-check's default favours very short arrays.
    actions: fc.array(actionArbitrary(shape.weights), { minLength: 1, maxLength: shape.maxActions ?? 30, size: 'medium' }),
  }).map((s) => ({ ...s, size: s.voters + spares }));
}

// ------------------------------------------------------------------------------------------------ cluster

/** The application: the payloads it applied, in log order. Its snapshot is this list as JSON. */
interface AppState {
  applied: number;
  writes: Array<[number, string]>;
}

interface SimNode {
  id: NodeId;
  options: RaftOptions;
  /** null while crashed. */
  state: RaftState | null;
  now: number;
  /** What the disk kept: survives crashes. */
  durable: PersistedState;
  /** Persists written but not yet synced, oldest first: lost on a crash (except a prefix, if the crash says so). */
  pending: Persist[];
  /** Messages waiting for the disk: each may leave once the first `barrier` pending persists are durable (its
   * own Ready's and every earlier one). */
  held: Array<{ message: Message; barrier: number }>;
  app: AppState;
  /** Soft state last reported, to see a node become leader. */
  role: Role | null;
  term: number;
  /** Highest commit index seen in this life (state, or hard state written): never goes down. */
  commitSeen: number;
}

interface CommittedRecord {
  term: number;
  fingerprint: string;
  /** The lowest term any node was in when it reported this entry committed: every leader of a later term must
   * hold the entry (leader completeness). */
  observedTerm: number;
}

export interface ClusterOptions {
  core: RaftCore;
  size: number;
  voters: number;
  seed: number;
  raft?: Partial<RaftOptions>;
  /** Invariants to enforce; core errors and persist-contract breaches are always enforced. */
  checks?: readonly InvariantName[];
  compactEvery?: number;
  /** Fold every Ready into `digest`. */
  digest?: boolean;
}

export interface ClusterStats {
  steps: number;
  delivered: number;
  leadersElected: number;
  committedEntries: number;
  acknowledged: number;
  readsServed: number;
  crashes: number;
  rejections: number;
  snapshotsApplied: number;
  confChangesCommitted: number;
}

/** Milliseconds a `run` round advances each clock by, on average; the election timeout is five of these. */
export const ROUND_MS = 10;
const POOL_LIMIT = 400;
const FLUSH_LIMIT = 30;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fingerprint(e: Entry): string {
  const conf = e.conf ? `${e.conf.type}:${e.conf.node}` : '';
  return `${e.term}/${e.kind}/${conf}/${decoder.decode(e.data)}`;
}

function durableLastIndex(d: PersistedState): number {
  if (d.entries.length > 0) return d.entries[d.entries.length - 1].index;
  return d.snapshot?.index ?? 0;
}

/** Term of the durable entry at `index`; undefined when absent, null when compacted into the snapshot. */
function durableTermAt(d: PersistedState, index: number): number | undefined | null {
  const snapIndex = d.snapshot?.index ?? 0;
  if (index === snapIndex) return d.snapshot?.term ?? 0;
  if (index < snapIndex) return null;
  const first = d.entries[0]?.index;
  if (first === undefined || index < first || index > first + d.entries.length - 1) return undefined;
  return d.entries[index - first].term;
}

/** Term of the in-memory entry at `index`; undefined when absent, null when compacted. */
function stateTermAt(s: RaftState, index: number): number | undefined | null {
  if (index === s.log.snapshotIndex) return s.log.snapshotTerm;
  if (index < s.log.snapshotIndex) return null;
  const e = s.log.entries[index - s.log.snapshotIndex - 1];
  return e?.term;
}

function decodeApp(snapshot: Snapshot | null): AppState {
  if (!snapshot || snapshot.data.length === 0) return { applied: snapshot?.index ?? 0, writes: [] };
  const writes = JSON.parse(decoder.decode(snapshot.data)) as Array<[number, string]>;
  return { applied: snapshot.index, writes };
}

function fnv1a(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function emptyDisk(): PersistedState {
  return { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
}

export class Cluster {
  readonly nodes: SimNode[] = [];
  readonly stats: ClusterStats = {
    steps: 0,
    delivered: 0,
    leadersElected: 0,
    committedEntries: 0,
    acknowledged: 0,
    readsServed: 0,
    crashes: 0,
    rejections: 0,
    snapshotsApplied: 0,
    confChangesCommitted: 0,
  };
  /** FNV-1a over every Ready in order (with `digest` on): two runs of one schedule must agree. */
  digest = 0x811c9dc5;
  private readonly digesting: boolean;
  private readonly compactEvery: number;
  private readonly core: RaftCore;
  private readonly checks: ReadonlySet<string>;
  /** Messages in flight, oldest first. */
  pool: Message[] = [];
  private partition: { sideA: Set<NodeId>; oneWay: boolean } | null = null;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly committed = new Map<number, CommittedRecord>();
  private maxCommittedObserved = 0;
  private nextPayload = 0;
  private nextRead = 0;
  /** Payload -> the node it was proposed at and where it landed. */
  private readonly proposals = new Map<string, { node: NodeId; index: number }>();
  /** Payload -> index, once applied at the node the client asked (the client got its reply). */
  readonly acknowledged = new Map<string, number>();
  /** Read context -> the highest index known committed anywhere when the read began. */
  private readonly reads = new Map<string, { node: NodeId; floor: number }>();

  constructor(options: ClusterOptions) {
    this.core = options.core;
    this.checks = new Set(options.checks ?? ALL_INVARIANTS);
    this.digesting = options.digest ?? false;
    this.compactEvery = options.compactEvery ?? 0;
    const voters = Array.from({ length: options.voters }, (_, i) => `n${i + 1}`);
    for (let i = 0; i < options.size; i++) {
      const id = `n${i + 1}`;
      const raftOptions: RaftOptions = {
        electionTimeoutMs: 5 * ROUND_MS,
        heartbeatIntervalMs: ROUND_MS,
        maxEntriesPerMessage: 3,
        maxInflightMessages: 3,
        ...options.raft,
        id,
        seed: options.seed + i,
      };
      const node: SimNode = {
        id,
        options: raftOptions,
        state: null,
        now: 0,
        durable: emptyDisk(),
        pending: [],
        held: [],
        app: { applied: 0, writes: [] },
        role: null,
        term: 0,
        commitSeen: 0,
      };
      this.nodes.push(node);
      node.state = this.guard(node, 'createNode', () =>
        this.core.createNode(raftOptions, { voters: i < options.voters ? voters : [] }),
      );
      // A bootstrapped node's first Ready writes its initial configuration; make it durable before anything
      // else happens, as a real deployment finishes bootstrapping before it takes traffic.
      this.step(node, { type: 'tick', now: node.now });
      this.sync(node);
    }
  }

  // ---------------------------------------------------------------------------------------- operations

  node(choice: number): SimNode {
    return this.nodes[choice % this.nodes.length];
  }

  apply(action: Action): void {
    switch (action.kind) {
      case 'tick':
        return this.tick(this.node(action.node), action.ms);
      case 'clock-jump-back':
        return this.tick(this.node(action.node), -action.ms);
      case 'deliver':
        if (this.pool.length > 0) this.deliver(this.pool.splice(action.pick % this.pool.length, 1)[0]);
        return;
      case 'deliver-all': {
        const batch = this.pool;
        this.pool = [];
        for (const m of batch) this.deliver(m);
        return;
      }
      case 'settle':
        return this.flush();
      case 'drop':
        if (this.pool.length > 0) this.pool.splice(action.pick % this.pool.length, 1);
        return;
      case 'duplicate':
        if (this.pool.length > 0) this.pool.push(this.pool[action.pick % this.pool.length]);
        return;
      case 'sync':
        return this.sync(this.node(action.node));
      case 'crash':
        return this.crash(this.node(action.node), action.keepUnsynced);
      case 'restart':
        return this.restart(this.node(action.node));
      case 'crash-leader': {
        const leader = this.currentLeader();
        if (leader) this.crash(leader, action.keepUnsynced);
        return;
      }
      case 'isolate-leader': {
        const leader = this.currentLeader();
        if (leader) this.partition = { sideA: new Set([leader.id]), oneWay: action.oneWay };
        return;
      }
      case 'partition': {
        const sideA = new Set(this.nodes.filter((_, i) => (action.sideA >> i) & 1).map((n) => n.id));
        this.partition = sideA.size === 0 || sideA.size === this.nodes.length ? null : { sideA, oneWay: action.oneWay };
        return;
      }
      case 'heal':
        this.partition = null;
        return;
      case 'campaign':
        return this.input(this.node(action.node), { type: 'campaign' });
      case 'propose':
        this.propose(this.node(action.node), action.count);
        return;
      case 'read':
        this.read(this.node(action.node));
        return;
      case 'conf':
        this.clientRequest(this.node(action.node), {
          type: 'propose-conf',
          change: { type: action.change, node: action.exact ? this.node(action.target).id : this.confTarget(action.change, action.target) },
        });
        return;
      case 'transfer':
        this.clientRequest(this.node(action.node), { type: 'transfer-leadership', to: this.node(action.target).id });
        return;
      case 'compact':
        if (action.everyone) for (const node of this.nodes) this.compact(node);
        else this.compact(this.node(action.node));
        return;
      case 'run':
        return this.run(action.rounds, action.seed, action.reliability);
    }
  }

  private confTarget(change: ConfChangeType, choice: number): NodeId {
    const membership = this.currentLeader()?.state?.membership;
    const all = this.nodes.map((n) => n.id);
    if (!membership) return all[choice % all.length]!;
    const members = [...membership.voters, ...membership.learners];
    const candidates =
      change === 'promote'
        ? membership.learners
        : change === 'remove'
          ? members
          : change === 'add-voter'
            ? all.filter((id) => !membership.voters.includes(id))
            : all.filter((id) => !members.includes(id));
    const pool = candidates.length > 0 ? candidates : all;
    return pool[choice % pool.length]!;
  }

  tick(node: SimNode, ms: number): void {
    node.now = Math.max(0, node.now + ms);
    this.input(node, { type: 'tick', now: node.now });
  }

  /** Proposes `count` fresh payloads at `node` (following a not-leader hint once, as a client would);
   * returns them (empty when the node is down). */
  propose(node: SimNode, count: number): string[] {
    if (!node.state) return [];
    const payloads = Array.from({ length: count }, () => `p${this.nextPayload++}`);
    const input: RaftInput = { type: 'propose', payloads: payloads.map((p) => encoder.encode(p)) };
    const [at, ready] = this.clientRequest(node, input);
    if (ready?.proposed) {
      payloads.forEach((p, i) => this.proposals.set(p, { node: at.id, index: ready.proposed!.firstIndex + i }));
    }
    return payloads;
  }

  /** Steps a client request; on a not-leader refusal with a hint, retries once at the hinted node. */
  private clientRequest(node: SimNode, input: RaftInput): [SimNode, Ready | null] {
    const ready = this.step(node, input);
    const hint = ready?.rejected.find((r) => r.reason === 'not-leader')?.leaderHint;
    const next = hint ? this.nodes.find((n) => n.id === hint && n.state) : undefined;
    if (!next || next === node) return [node, ready];
    return [next, this.step(next, input)];
  }

  read(node: SimNode): string | null {
    if (!node.state) return null;
    const context = `r${this.nextRead++}`;
    this.reads.set(context, { node: node.id, floor: this.maxCommittedObserved });
    this.input(node, { type: 'read-index', context });
    return context;
  }

  compact(node: SimNode): void {
    if (!node.state || node.app.applied <= node.state.log.snapshotIndex) return;
    const upTo = node.app.writes.filter(([index]) => index <= node.app.applied);
    this.input(node, { type: 'compact', index: node.app.applied, data: encoder.encode(JSON.stringify(upTo)) });
  }

  crash(node: SimNode, keepUnsynced: number): void {
    if (!node.state) return;
    this.stats.crashes++;
    // A crash may leave some written-but-unsynced writes on disk (the OS flushed them): Raft must cope with
    // either outcome, so the schedule chooses how many survive, in write order.
    const kept = node.pending.slice(0, keepUnsynced % (node.pending.length + 1));
    for (const persist of kept) this.writeDurably(node, persist);
    node.pending = [];
    node.held = [];
    node.state = null;
    node.role = null;
  }

  restart(node: SimNode): void {
    if (node.state) return;
    const disk = node.durable;
    const copy: PersistedState = { hardState: { ...disk.hardState }, snapshot: disk.snapshot, entries: disk.entries.slice() };
    node.state = this.guard(node, 'restartNode', () => this.core.restartNode(node.options, copy));
    node.app = decodeApp(disk.snapshot);
    node.term = node.state.term;
    if (node.state.commit < disk.hardState.commit) {
      this.fail('commit-monotonic', `${node.id} restarted with commit ${node.state.commit} below its durable commit ${disk.hardState.commit}`);
    }
    node.commitSeen = Math.max(node.state.commit, disk.hardState.commit);
    this.input(node, { type: 'tick', now: node.now });
  }

  /** Makes every pending persist durable, releases the messages that waited for it, and tells the node. */
  sync(node: SimNode): void {
    if (!node.state || node.pending.length === 0) return;
    // Persists become durable in order; each held message is checked against the disk as it was when its own
    // Ready's persist landed (a later persist in the same sync may legitimately overwrite what it acknowledged,
    // e.g. a newer leader truncating a suffix the message's stale leader asked for).
    const held = node.held;
    node.held = [];
    node.pending.forEach((persist, k) => {
      this.writeDurably(node, persist);
      for (const h of held) if (h.barrier === k + 1) this.checkSyncedBeforeSend(node, h.message, false);
    });
    node.pending = [];
    for (const h of held) this.enqueue(h.message);
    const index = durableLastIndex(node.durable);
    const term = durableTermAt(node.durable, index) ?? 0;
    this.input(node, { type: 'persisted', index, term });
  }

  private run(rounds: number, seed: number, reliability = 100): void {
    const rng = seedrandom(String(seed));
    for (let r = 0; r < rounds; r++) {
      // Each clock advances by its own jittered amount: per-node clock rates differ round to round.
      for (const node of this.nodes) this.tick(node, Math.max(1, Math.round(ROUND_MS * (0.5 + rng()))));
      this.flush(rng, reliability);
      if (this.compactEvery > 0) {
        for (const node of this.nodes) {
          if (node.state && node.app.applied - node.state.log.snapshotIndex >= this.compactEvery) this.compact(node);
        }
      }
    }
  }

  /** Syncs every node and delivers every message (shuffled when `rng` is given) until the network is quiet;
   * with `reliability` below 100, each sync and delivery happens only with that chance per pass. */
  flush(rng?: () => number, reliability = 100): void {
    const happens = (): boolean => reliability >= 100 || !rng || rng() * 100 < reliability;
    for (let i = 0; i < FLUSH_LIMIT; i++) {
      for (const node of this.nodes) if (happens()) this.sync(node);
      if (this.pool.length === 0) return;
      const batch = this.pool;
      this.pool = [];
      if (rng) {
        for (let j = batch.length - 1; j > 0; j--) {
          const k = Math.floor(rng() * (j + 1));
          [batch[j], batch[k]] = [batch[k], batch[j]];
        }
      }
      for (const m of batch) {
        if (happens()) this.deliver(m);
        else this.pool.push(m);
      }
      if (reliability < 100 && this.pool.length >= batch.length) return;
    }
  }

  /**
   * Heals the network, restarts every node, and runs fault-free rounds until a leader is elected and a fresh
   * proposal is applied at it. Returns the leader, or throws a liveness violation (when enforced) after
   * `maxRounds` rounds; returns null when liveness is not enforced and not reached.
   */
  stabilize(maxRounds = 400): SimNode | null {
    this.partition = null;
    for (const node of this.nodes) this.restart(node);
    let probe: { node: SimNode; payload: string; round: number } | null = null;
    for (let round = 0; round < maxRounds; round++) {
      for (const node of this.nodes) this.tick(node, ROUND_MS);
      this.flush();
      // Applied at the node that proposed it: that node has applied every earlier committed entry too.
      if (probe && this.acknowledged.has(probe.payload)) return probe.node;
      const leader = this.currentLeader();
      // A new probe whenever leadership moved, or when the last one may have been refused or overwritten.
      if (leader && (!probe || probe.node !== leader || round - probe.round >= 20)) {
        const [payload] = this.propose(leader, 1);
        probe = { node: leader, payload: payload!, round };
      }
    }
    if (this.checks.has('liveness')) {
      const roles = this.nodes.map((n) => `${n.id}:${n.role ?? 'down'}@${n.term}`).join(' ');
      this.fail('liveness', `no leader committed a proposal within ${maxRounds} healed rounds (${roles})`);
    }
    return null;
  }

  /** Fault-free rounds until some leader has committed in its term (at most `maxRounds`): schedules then start
   * from a working cluster instead of spending most of their length on the first election. */
  warmUp(seed: number, maxRounds = 40): void {
    const rng = seedrandom(`warm-up-${seed}`);
    for (let round = 0; round < maxRounds; round++) {
      const leader = this.currentLeader();
      if (leader?.state && leader.state.commit >= leader.state.leaderStartIndex && leader.state.leaderStartIndex > 0) return;
      for (const node of this.nodes) this.tick(node, Math.max(1, Math.round(ROUND_MS * (0.5 + rng()))));
      this.flush(rng);
    }
  }

  /** Replaces every live node's state by its msgpack round trip, as a trace checkpoint and fork would: the
   * state must be plain data, and the run must go on exactly as if nothing happened. */
  forkThroughMsgpack(): void {
    for (const node of this.nodes) {
      if (node.state) node.state = decode(encode(node.state)) as RaftState;
    }
  }

  /** The live leader with the highest term, if any. */
  currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes) {
      if (n.state && n.role === 'leader' && (!best || n.term > best.term)) best = n;
    }
    return best;
  }

  /** After `stabilize`: every acknowledged write is in the leader's applied state, at the index it was
   * acknowledged at. */
  checkAcknowledgedWrites(leader: SimNode): void {
    if (!this.checks.has('acknowledged-writes-survive')) return;
    const atIndex = new Map(leader.app.writes);
    for (const [payload, index] of this.acknowledged) {
      if (atIndex.get(index) !== payload) {
        this.fail(
          'acknowledged-writes-survive',
          `write ${payload} was acknowledged at index ${index} but leader ${leader.id} (term ${leader.term}) applied ${atIndex.get(index) ?? 'no write'} there`,
        );
      }
    }
  }

  /** Log matching across every pair of live nodes: same index and term imply identical prefixes. */
  checkLogMatching(): void {
    if (!this.checks.has('log-matching')) return;
    const live = this.nodes.filter((n) => n.state);
    for (let a = 0; a < live.length; a++) {
      for (let b = a + 1; b < live.length; b++) this.compareLogs(live[a], live[b]);
    }
  }

  private compareLogs(a: SimNode, b: SimNode): void {
    const la = a.state!.log;
    const lb = b.state!.log;
    const from = Math.max(la.snapshotIndex, lb.snapshotIndex) + 1;
    const to = Math.min(la.snapshotIndex + la.entries.length, lb.snapshotIndex + lb.entries.length);
    let firstDifference = 0;
    for (let i = to; i >= from; i--) {
      const ea = la.entries[i - la.snapshotIndex - 1];
      const eb = lb.entries[i - lb.snapshotIndex - 1];
      // Entries usually travel by reference in-process, so identity settles most comparisons cheaply.
      if (ea !== eb && fingerprint(ea) !== fingerprint(eb)) firstDifference = i;
    }
    // Any entry of equal term at or above the lowest difference means equal (index, term) with unequal prefixes.
    if (firstDifference === 0) return;
    for (let i = firstDifference; i <= to; i++) {
      const ea = la.entries[i - la.snapshotIndex - 1];
      const eb = lb.entries[i - lb.snapshotIndex - 1];
      if (ea.term === eb.term) {
        this.fail(
          'log-matching',
          `${a.id} and ${b.id} both hold an entry of term ${ea.term} at index ${i} but differ at index ${firstDifference} (${fingerprint(la.entries[firstDifference - la.snapshotIndex - 1])} vs ${fingerprint(lb.entries[firstDifference - lb.snapshotIndex - 1])})`,
        );
      }
    }
  }

  // ---------------------------------------------------------------------------------------- stepping

  private input(node: SimNode, input: RaftInput): void {
    this.step(node, input);
  }

  private deliver(m: Message): void {
    const to = this.nodes.find((n) => n.id === m.to);
    if (!to?.state) return;
    if (this.partition) {
      const fromA = this.partition.sideA.has(m.from);
      const toA = this.partition.sideA.has(m.to);
      if (fromA !== toA && (!this.partition.oneWay || fromA)) return;
    }
    this.stats.delivered++;
    this.step(to, { type: 'message', message: m });
  }

  /** A message leaving at once: what it vouches for must be durable now, matching the in-memory log. */
  private send(node: SimNode, m: Message): void {
    this.checkSyncedBeforeSend(node, m, true);
    this.enqueue(m);
  }

  private enqueue(m: Message): void {
    if (this.pool.length >= POOL_LIMIT) this.pool.shift();
    this.pool.push(m);
  }

  private guard<T>(node: SimNode, what: string, body: () => T): T {
    try {
      return body();
    } catch (err) {
      if (err instanceof Violation) throw err;
      const e = err as Error;
      throw new Violation('core-error', `${node.id} threw in ${what}: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`);
    }
  }

  private step(node: SimNode, input: RaftInput): Ready | null {
    const state = node.state;
    if (!state) return null;
    this.stats.steps++;
    const ready = this.guard(node, `step(${input.type})`, () => this.core.step(state, input));
    this.observe(node, state, ready);
    return ready;
  }

  private fail(invariant: InvariantName | AlwaysChecked, detail: string): void {
    if (invariant === 'core-error' || invariant === 'persist-contract' || this.checks.has(invariant)) {
      throw new Violation(invariant, detail);
    }
  }

  private observe(node: SimNode, state: RaftState, ready: Ready): void {
    if (this.digesting) this.digest = fnv1a(this.digest, `${node.id}:${JSON.stringify(ready)}`);
    const { soft } = ready;
    if (soft.role === 'leader') {
      const other = this.leaderOfTerm.get(soft.term);
      if (other !== undefined && other !== node.id) {
        this.fail('election-safety', `${other} and ${node.id} were both leader in term ${soft.term}`);
      }
      if (node.role !== 'leader' || node.term !== soft.term) {
        this.leaderOfTerm.set(soft.term, node.id);
        this.stats.leadersElected++;
        this.checkLeaderHoldsCommitted(node, state, soft.term);
      }
    }
    node.role = soft.role;
    node.term = soft.term;

    const commit = Math.max(state.commit, ready.persist?.hardState?.commit ?? 0);
    if (state.commit < node.commitSeen || (ready.persist?.hardState && ready.persist.hardState.commit < node.commitSeen)) {
      this.fail('commit-monotonic', `${node.id} commit went from ${node.commitSeen} down to ${Math.min(state.commit, ready.persist?.hardState?.commit ?? Infinity)}`);
    }
    node.commitSeen = Math.max(node.commitSeen, commit);

    if (ready.persist) {
      node.pending.push(ready.persist);
      if ((ready.persist.entries.length > 0 || ready.persist.snapshot) && this.checks.has('log-matching')) {
        for (const other of this.nodes) if (other !== node && other.state) this.compareLogs(node, other);
      }
    }

    if (ready.applySnapshot) {
      node.app = decodeApp(ready.applySnapshot);
      this.stats.snapshotsApplied++;
    }
    if (ready.committed.length > 0) {
      for (const entry of ready.committed) this.applyCommitted(node, state, entry);
    }

    for (const rs of ready.readStates) {
      this.stats.readsServed++;
      const read = this.reads.get(rs.context);
      if (read && rs.index < read.floor) {
        this.fail(
          'read-linearizable',
          `read ${rs.context} at ${read.node} was served at index ${rs.index} by ${node.id} (term ${soft.term}), but index ${read.floor} was already committed when it began`,
        );
      }
    }
    this.stats.rejections += ready.rejected.length;

    if (this.checks.has('limits-respected')) this.checkLimits(node, state, ready);
    for (const out of ready.messages) {
      if (out.afterPersist && node.pending.length > 0) node.held.push({ message: out.message, barrier: node.pending.length });
      else this.send(node, out.message);
    }

    if (ready.committed.length > 0 || ready.applySnapshot) {
      this.step(node, { type: 'applied', index: node.app.applied });
    }
  }

  /** Flow control is part of the contract: appends within maxEntriesPerMessage and maxBytesPerMessage (one
   * larger entry may go alone), at most maxInflightMessages unacknowledged appends per follower. */
  private checkLimits(node: SimNode, state: RaftState, ready: Ready): void {
    const { maxEntriesPerMessage, maxBytesPerMessage, maxInflightMessages } = state.options;
    for (const { message: m } of ready.messages) {
      if (m.type !== 'append') continue;
      let bytes = 0;
      for (const e of m.entries) bytes += e.data.length;
      if (m.entries.length > maxEntriesPerMessage || (m.entries.length > 1 && bytes > maxBytesPerMessage)) {
        this.fail(
          'limits-respected',
          `${node.id} sent ${m.entries.length} entries (${bytes} bytes) to ${m.to}; limits are ${maxEntriesPerMessage} entries, ${maxBytesPerMessage} bytes`,
        );
      }
    }
    if (state.role !== 'leader') return;
    for (const peer of Object.keys(state.progress)) {
      const inflight = state.progress[peer]!.inflight.length;
      if (inflight > maxInflightMessages) {
        this.fail('limits-respected', `${node.id} has ${inflight} appends in flight to ${peer}; the limit is ${maxInflightMessages}`);
      }
    }
  }

  private applyCommitted(node: SimNode, state: RaftState, entry: Entry): void {
    if (entry.index !== node.app.applied + 1) {
      this.fail('state-machine-safety', `${node.id} was handed entry ${entry.index} to apply after ${node.app.applied}`);
    }
    const durableTerm = durableTermAt(node.durable, entry.index);
    if (durableTerm !== null && durableTerm !== entry.term) {
      this.fail(
        'apply-after-durable',
        `${node.id} was handed entry ${entry.index} (term ${entry.term}) to apply, but its disk holds ${durableTerm === undefined ? 'nothing' : `term ${durableTerm}`} there`,
      );
    }
    const fp = fingerprint(entry);
    const known = this.committed.get(entry.index);
    if (known && known.fingerprint !== fp) {
      this.fail('state-machine-safety', `${node.id} applied ${fp} at index ${entry.index}, another node applied ${known.fingerprint}`);
    }
    const observedTerm = Math.min(known?.observedTerm ?? Infinity, state.term);
    this.committed.set(entry.index, { term: entry.term, fingerprint: fp, observedTerm });
    if (!known) {
      this.stats.committedEntries++;
      if (entry.kind === 'conf' && entry.term > 1) this.stats.confChangesCommitted++;
    }
    if (entry.index > this.maxCommittedObserved) this.maxCommittedObserved = entry.index;
    for (const leader of this.nodes) {
      if (leader.state && leader.role === 'leader' && leader.term > observedTerm) {
        this.checkLeaderHoldsEntry(leader, leader.state, entry.index, entry.term, observedTerm);
      }
    }
    node.app.applied = entry.index;
    if (entry.kind === 'normal') {
      const payload = decoder.decode(entry.data);
      node.app.writes.push([entry.index, payload]);
      const proposal = this.proposals.get(payload);
      if (proposal && proposal.node === node.id && proposal.index === entry.index && !this.acknowledged.has(payload)) {
        this.acknowledged.set(payload, entry.index);
        this.stats.acknowledged++;
      }
    }
  }

  private checkLeaderHoldsCommitted(node: SimNode, state: RaftState, term: number): void {
    if (!this.checks.has('leader-completeness')) return;
    for (const [index, record] of this.committed) {
      if (record.observedTerm < term) this.checkLeaderHoldsEntry(node, state, index, record.term, record.observedTerm);
    }
  }

  private checkLeaderHoldsEntry(node: SimNode, state: RaftState, index: number, term: number, committedBy: number): void {
    const held = stateTermAt(state, index);
    if (held === null || held === term) return;
    this.fail(
      'leader-completeness',
      `${node.id} leads term ${state.term} but holds ${held === undefined ? 'nothing' : `term ${held}`} at index ${index}, committed with term ${term} by term ${committedBy}`,
    );
  }

  private writeDurably(node: SimNode, persist: Persist): void {
    const disk = node.durable;
    if (persist.snapshot) {
      const snap = persist.snapshot;
      disk.snapshot = snap;
      disk.entries = persist.snapshotResetsLog ? [] : disk.entries.filter((e) => e.index > snap.index);
    }
    if (persist.entries.length > 0) {
      const first = persist.entries[0].index;
      const last = durableLastIndex(disk);
      if (first > last + 1) {
        this.fail('persist-contract', `${node.id} asked to write entries from ${first} after a log ending at ${last}`);
      }
      for (const e of persist.entries) {
        if (e.index > disk.hardState.commit) break;
        const old = durableTermAt(disk, e.index);
        if (old !== undefined && old !== null && old !== e.term) {
          this.fail(
            'state-machine-safety',
            `${node.id} overwrote committed entry ${e.index} (term ${old}, commit ${disk.hardState.commit}) with term ${e.term}`,
          );
        }
      }
      disk.entries = disk.entries.filter((e) => e.index < first).concat(persist.entries);
    }
    if (persist.hardState) disk.hardState = { ...persist.hardState };
  }

  /** What a message vouches for must already be on the sender's disk (or it could be forgotten by a crash). */
  private checkSyncedBeforeSend(node: SimNode, m: Message, leavingNow: boolean): void {
    if (!this.checks.has('sync-before-send')) return;
    const disk = node.durable;
    // Messages that vouch for the sender's term: a candidate's own vote, a leader's authority, a granted vote,
    // an acknowledgement. (A refusal may carry a newer, unsynced term: forgetting it endangers nothing.)
    const vouchesForTerm =
      (m.type === 'vote' && !m.preVote) ||
      (m.type === 'vote-response' && !m.preVote && m.granted) ||
      (m.type === 'append-response' && !m.reject) ||
      m.type === 'append' ||
      m.type === 'heartbeat' ||
      m.type === 'snapshot' ||
      m.type === 'timeout-now';
    if (vouchesForTerm && m.term > disk.hardState.term) {
      this.fail('sync-before-send', `${node.id} sent ${m.type} of term ${m.term} while its disk holds term ${disk.hardState.term}`);
    }
    if (m.type === 'vote-response' && !m.preVote && m.granted && disk.hardState.term === m.term && disk.hardState.vote !== m.to) {
      this.fail('sync-before-send', `${node.id} granted its term-${m.term} vote to ${m.to} while its disk records vote ${disk.hardState.vote}`);
    }
    if (m.type === 'append-response' && !m.reject) {
      const durable = durableTermAt(disk, m.index);
      const inMemory = leavingNow && node.state ? stateTermAt(node.state, m.index) : undefined;
      if (durable === undefined || (durable !== null && inMemory !== undefined && inMemory !== null && durable !== inMemory)) {
        this.fail('sync-before-send', `${node.id} acknowledged index ${m.index} to ${m.to} before it was on disk (disk ends at ${durableLastIndex(disk)})`);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------- properties

export interface RaftProperty {
  name: string;
  /** What the property claims, for test titles and reports. */
  claim: string;
  arbitrary: fc.Arbitrary<Scenario>;
  /** Hand-written schedules run before the generated ones: the textbook counterexamples (Figure 8, Ongaro's
   * membership bug...) that random schedules reach only rarely. */
  examples?: Scenario[];
  /** Runs one scenario against `core`; throws a Violation when the property fails. */
  run(core: RaftCore, scenario: Scenario): void;
}

/** Builds the scenario's cluster, warms it up, plays its actions, and (with `stabilize`) heals it and checks
 * liveness and acknowledged writes. Returns the cluster for its stats. */
export function runScenario(
  core: RaftCore,
  scenario: Scenario,
  checks: readonly InvariantName[],
  end: 'none' | 'stabilize',
  afterAction?: (cluster: Cluster, action: Action) => void,
): Cluster {
  const cluster = new Cluster({
    core,
    size: scenario.size,
    voters: scenario.voters,
    seed: scenario.seed,
    raft: { preVote: scenario.preVote, checkQuorum: scenario.checkQuorum, maxEntriesPerMessage: scenario.maxEntries },
    checks,
    compactEvery: scenario.compactEvery ?? 0,
  });
  cluster.warmUp(scenario.seed);
  for (const action of scenario.actions) {
    cluster.apply(action);
    if (action.kind === 'run') cluster.checkLogMatching();
    afterAction?.(cluster, action);
  }
  cluster.checkLogMatching();
  if (end === 'stabilize') {
    const leader = cluster.stabilize();
    cluster.checkLogMatching();
    if (leader) cluster.checkAcknowledgedWrites(leader);
  }
  return cluster;
}

// ---------------------------------------------------------------------------------- textbook schedules
// Node numbers are 0-based (0 is n1); a partition's `sideA` is a bit mask of nodes. Elections are forced with
// `campaign` and messages moved one pass at a time, so each schedule pins one known interleaving.

const step = {
  campaign: (node: number): Action => ({ kind: 'campaign', node }),
  sync: (...nodes: number[]): Action[] => nodes.map((node) => ({ kind: 'sync', node })),
  pass: { kind: 'deliver-all' } as Action,
  settle: { kind: 'settle' } as Action,
  crash: (node: number): Action => ({ kind: 'crash', node, keepUnsynced: 0 }),
  restart: (node: number): Action => ({ kind: 'restart', node }),
  cut: (sideA: number): Action => ({ kind: 'partition', sideA, oneWay: false }),
  cutOutgoing: (sideA: number): Action => ({ kind: 'partition', sideA, oneWay: true }),
  /** `node` campaigns; its vote requests go out, `voters` answer, the answers come back. */
  election: (node: number, voters: number[]): Action[] => [
    { kind: 'campaign', node },
    { kind: 'sync', node },
    { kind: 'deliver-all' },
    ...voters.map((v): Action => ({ kind: 'sync', node: v })),
    { kind: 'deliver-all' },
  ],
};

function textbook(voters: number, size: number, maxEntries: number, actions: Action[]): Scenario {
  return { voters, size, seed: 1, preVote: false, checkQuorum: false, maxEntries, actions };
}

/** Figure 8 of the Raft paper: n1 (term a) leaves X on n1,n2; n5 wins term b with n3,n4 and writes its own
 * entry at X's index, unreplicated; n1 comes back, wins a later term and copies X to n3, n4 one entry at a
 * time (maxEntriesPerMessage 1). A quorum now holds X, but X is of an old term: committing it by counting is
 * wrong, because n5 can still win (its last term b beats X's term a) and overwrite it. */
export const FIGURE_8: Scenario = textbook(5, 5, 1, [
  step.campaign(0),
  step.settle,
  step.cut(0b00011),
  { kind: 'propose', node: 0, count: 1 },
  step.settle,
  step.crash(0),
  ...step.election(4, [2, 3]),
  step.cut(0b10000),
  ...step.sync(4),
  step.pass,
  step.restart(0),
  ...step.election(0, [1, 2, 3]),
  ...step.election(0, [1, 2, 3]),
  ...step.sync(0),
  step.pass,
  ...step.sync(1, 2, 3),
  step.pass,
  step.pass,
  ...step.sync(1, 2, 3),
  step.pass,
  step.crash(0),
  step.cut(0b00001),
  step.pass,
  { kind: 'tick', node: 4, ms: ROUND_MS },
  step.pass,
  step.pass,
  ...step.election(4, [1, 2, 3]),
  step.settle,
]);

/** n1 leads; a new entry reaches n2's disk and n3's memory, n1 has not synced it. A leader that counted its
 * own unsynced log would commit it with n2 alone; n1 and n3 then crash and forget it, and n3 wins with n1. */
export const UNDURABLE_LEADER_COMMIT: Scenario = textbook(3, 3, 3, [
  step.campaign(0),
  step.settle,
  { kind: 'propose', node: 0, count: 1 },
  step.pass,
  ...step.sync(1),
  step.pass,
  step.pass,
  step.crash(0),
  step.crash(2),
  step.restart(0),
  step.restart(2),
  ...step.election(2, [0, 1]),
  step.settle,
]);

/** n1 commits an entry but its followers have not heard the new commit index (n1's outgoing messages are cut);
 * n2 wins the next term and is asked for a read before it has committed anything in its term: the commit index
 * it knows is stale, so serving the read at it would miss the entry. */
export const READ_BEFORE_LEADER_COMMITS: Scenario = textbook(3, 3, 3, [
  step.campaign(0),
  step.settle,
  { kind: 'propose', node: 0, count: 1 },
  step.pass,
  ...step.sync(1, 2, 0),
  step.cutOutgoing(0b001),
  step.pass,
  step.campaign(1),
  ...step.sync(1),
  step.pass,
  ...step.sync(0, 2),
  step.pass,
  { kind: 'read', node: 1 },
  ...step.sync(1),
  step.pass,
  step.pass,
]);

/** n1 (term a, cut off) appends X at index i; n2 wins term b and commits its no-op at i with n3; n3 wins term
 * c (no-op at i+1). Healed, n3 probes n1 at i+1, n1's hint sends it back to i: the append at prevIndex i
 * carries prevTerm b while n1 holds term a there, which the consistency check must refuse. */
export const CONFLICTING_SUFFIX: Scenario = textbook(3, 3, 3, [
  step.campaign(0),
  step.settle,
  step.cut(0b001),
  { kind: 'propose', node: 0, count: 1 },
  step.settle,
  step.campaign(1),
  step.settle,
  step.campaign(2),
  step.settle,
  { kind: 'heal' },
  { kind: 'tick', node: 2, ms: ROUND_MS },
  step.settle,
]);

/** n1 leads term a and sends an append; before it arrives n2 wins term b with n3's vote. The append reaches
 * n3 and then n2 late, carrying the dead term a: both must refuse it (n2 is leader of b by then). */
export const STALE_LEADER_APPEND: Scenario = textbook(3, 3, 3, [
  step.campaign(0),
  step.settle,
  { kind: 'propose', node: 0, count: 1 },
  step.campaign(1),
  ...step.sync(1),
  // Pool now: append n1>n2, append n1>n3, vote n2>n1, vote n2>n3.
  { kind: 'deliver', pick: 3 },
  ...step.sync(2),
  { kind: 'deliver', pick: 3 },
  { kind: 'deliver', pick: 1 },
  ...step.sync(2, 0),
  step.pass,
  step.settle,
]);

/** n1 leads voters n1..n3 and adds learners n4, n5; cut off with only the learners, it proposes X. Learners do
 * not vote, so X is not committed: n2 and n3 may elect a leader without it. */
export const LEARNER_ACKS_ONLY: Scenario = textbook(3, 5, 3, [
  step.campaign(0),
  step.settle,
  { kind: 'conf', node: 0, change: 'add-learner', target: 3, exact: true },
  step.settle,
  { kind: 'conf', node: 0, change: 'add-learner', target: 4, exact: true },
  step.settle,
  step.cut(0b11001),
  { kind: 'propose', node: 0, count: 1 },
  step.settle,
  step.crash(0),
  ...step.election(1, [2]),
  step.settle,
]);

/** Found by this suite (fixed in the core since): n1, the only voter, adds n3; n3 (empty membership, so not a
 * voter in its own view) hears n1 once and records it as leader. Check-quorum later deposes n1, which must
 * then win n3's vote; a non-voter whose election clock never ran kept its leader lease forever and dropped
 * every vote request. Kept verbatim as fast-check shrank it (seed 2, add-voter target picked as n3). */
export const NON_VOTER_LEASE: Scenario = {
  voters: 1,
  size: 3,
  seed: 2,
  preVote: false,
  checkQuorum: true,
  maxEntries: 1,
  compactEvery: 0,
  actions: [
    { kind: 'conf', node: 0, change: 'add-voter', target: 1 },
    { kind: 'tick', node: 0, ms: 40 },
  ],
};

/** Ongaro's single-server membership bug (raft-dev, 2015): n1 (of n1..n4) starts adding n5, which only n5
 * receives; n2 wins the next term with n3, n4 and at once removes n1, committing {n2,n3,n4} with n3 alone; n1
 * returns and wins a later term under its own {n1..n5} with n4 and n5, and overwrites the committed change.
 * A new leader must commit an entry of its own term before it changes the membership. */
export const CONCURRENT_MEMBERSHIP_CHANGES: Scenario = textbook(4, 5, 3, [
  step.campaign(0),
  step.settle,
  step.cut(0b10001),
  { kind: 'conf', node: 0, change: 'add-voter', target: 4, exact: true },
  step.settle,
  step.crash(0),
  ...step.election(1, [2, 3]),
  step.cut(0b11001),
  { kind: 'conf', node: 1, change: 'remove', target: 0, exact: true },
  step.settle,
  step.cut(0b00110),
  step.restart(0),
  ...step.election(0, [3, 4]),
  ...step.election(0, [3, 4]),
  step.settle,
]);

function safetyProperty(name: InvariantName, claim: string, shape: ScenarioShape = {}, examples?: Scenario[]): RaftProperty {
  return {
    name,
    claim,
    examples,
    arbitrary: scenarioArbitrary(shape),
    run: (core, scenario) => void runScenario(core, scenario, [name], 'none'),
  };
}

/** The suite: each property enforces one invariant over generated fault schedules. */
export const raftProperties: RaftProperty[] = [
  safetyProperty('election-safety', 'at most one leader per term', {}, [STALE_LEADER_APPEND]),
  safetyProperty('log-matching', 'two logs with an entry of the same index and term are identical up to it', {}, [
    CONFLICTING_SUFFIX,
  ]),
  safetyProperty('leader-completeness', 'a leader of a later term holds every committed entry', {}, [
    UNDURABLE_LEADER_COMMIT,
    FIGURE_8,
  ]),
  safetyProperty('state-machine-safety', 'no two nodes apply different entries at the same index'),
  safetyProperty('commit-monotonic', 'a node’s commit index never decreases, nor drops below its durable commit on restart'),
  safetyProperty('apply-after-durable', 'entries are handed to the application only once durable locally'),
  safetyProperty('sync-before-send', 'votes, term changes and acknowledgements leave only once durable'),
  safetyProperty(
    'limits-respected',
    'appends stay within maxEntriesPerMessage/maxBytesPerMessage and maxInflightMessages per follower',
    { weights: { proposals: 10 } },
  ),
  {
    name: 'acknowledged-writes-survive',
    claim: 'a write applied and replied to is in the log of every later leader, at its index',
    arbitrary: scenarioArbitrary({ maxActions: 40 }),
    examples: [FIGURE_8],
    run: (core, scenario) => void runScenario(core, scenario, ['acknowledged-writes-survive'], 'stabilize'),
  },
  {
    name: 'liveness',
    claim: 'once the network heals and every node is up, a leader is elected and a proposal commits in bounded time',
    arbitrary: scenarioArbitrary({ maxActions: 25 }),
    run: (core, scenario) => void runScenario(core, scenario, ['liveness'], 'stabilize'),
  },
  {
    name: 'read-linearizable',
    claim: 'a ReadIndex read is served at an index covering every write committed before it began',
    arbitrary: scenarioArbitrary({ weights: { reads: 8, proposals: 4 } }),
    examples: [READ_BEFORE_LEADER_COMMITS],
    run: (core, scenario) => void runScenario(core, scenario, ['read-linearizable'], 'none'),
  },
  {
    name: 'membership-safety',
    claim: 'election safety, log matching, leader completeness and state machine safety hold across add/remove/promote sequences',
    arbitrary: scenarioArbitrary({ sizes: [1, 3], spares: 2, maxActions: 40, weights: { membership: 10, compaction: 1 } }),
    examples: [CONCURRENT_MEMBERSHIP_CHANGES, LEARNER_ACKS_ONLY, NON_VOTER_LEASE],
    run: (core, scenario) =>
      void runScenario(
        core,
        scenario,
        ['election-safety', 'log-matching', 'leader-completeness', 'state-machine-safety', 'commit-monotonic', 'liveness'],
        'stabilize',
      ),
  },
];

/** Two runs of one schedule, the second with every node checkpointed through msgpack and forked at one action,
 * must produce identical Readys: `step` is a deterministic function of plain-data state and input. */
function replayProperty(): RaftProperty {
  const play = (core: RaftCore, scenario: Scenario, forkAt: number): Cluster => {
    const cluster = new Cluster({
      core,
      size: scenario.size,
      voters: scenario.voters,
      seed: scenario.seed,
      raft: { preVote: scenario.preVote, checkQuorum: scenario.checkQuorum, maxEntriesPerMessage: scenario.maxEntries },
      checks: [],
      digest: true,
      compactEvery: scenario.compactEvery ?? 0,
    });
    cluster.warmUp(scenario.seed);
    scenario.actions.forEach((action, i) => {
      if (i === forkAt) cluster.forkThroughMsgpack();
      cluster.apply(action);
    });
    return cluster;
  };
  return {
    name: 'deterministic-replay',
    claim: 'a schedule replays to identical outputs, also after a msgpack checkpoint and fork of every node midway',
    arbitrary: scenarioArbitrary({ maxActions: 25, weights: { reads: 2, membership: 2 } }),
    run: (core, scenario) => {
      const forkAt = scenario.seed % scenario.actions.length;
      const straight = play(core, scenario, -1);
      const forked = play(core, scenario, forkAt);
      if (straight.digest !== forked.digest || straight.stats.steps !== forked.stats.steps) {
        throw new Violation(
          'deterministic-replay',
          `forking at action ${forkAt} changed the run: ${straight.stats.steps} steps digest ${straight.digest.toString(16)} vs ${forked.stats.steps} steps digest ${forked.digest.toString(16)}`,
        );
      }
    },
  };
}

raftProperties.push(replayProperty());

export function propertyNamed(name: string): RaftProperty {
  const p = raftProperties.find((q) => q.name === name);
  if (!p) throw new Error(`no raft property named ${name}`);
  return p;
}

export interface PropertyOutcome {
  property: string;
  failed: boolean;
  /** The violation (or other error) of the shrunk counterexample. */
  error: string | null;
  /** What fast-check needs to replay the failure: `fc.assert(..., { seed, path })`. */
  seed: number;
  path: string | null;
  numRuns: number;
}

/** Runs one property without throwing, for the mutant suite (stops at the first failure, then shrinks). */
export function checkProperty(core: RaftCore, property: RaftProperty, numRuns: number, seed?: number): PropertyOutcome {
  const details = fc.check(
    fc.property(property.arbitrary, (s) => property.run(core, s)),
    { numRuns, examples: (property.examples ?? []).map((e) => [e]), ...(seed === undefined ? {} : { seed }) },
  );
  const error = details.errorInstance;
  return {
    property: property.name,
    failed: details.failed,
    error: details.failed ? (error instanceof Error ? error.message : String(error)) : null,
    seed: details.seed,
    path: details.counterexamplePath ?? null,
    numRuns: details.numRuns,
  };
}

/** Runs one property with fast-check's assert, whose failure message carries the seed, path and the shrunk
 * counterexample. To replay a reported failure: RAFT_PROPERTY_SEED=<seed> RAFT_PROPERTY_PATH=<path>
 * npx vitest run test/core/raft/properties-<file>.test.ts -t <property>. */
export function assertProperty(core: RaftCore, property: RaftProperty, numRuns: number): void {
  const seed = process.env.RAFT_PROPERTY_SEED;
  const path = process.env.RAFT_PROPERTY_PATH;
  fc.assert(
    fc.property(property.arbitrary, (s) => property.run(core, s)),
    {
      numRuns,
      examples: (property.examples ?? []).map((e) => [e]),
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(path === undefined ? {} : { path }),
    },
  );
}
