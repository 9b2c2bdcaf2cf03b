// The simulated world: N processes running one generic node program over a simulated network, disks and
// clocks, driven by one event queue in virtual time, broken on purpose by a nemesis schedule.
//
// The world is generic over what runs on the nodes. A program sees only its context: its own clock reading,
// its own PRNG stream, its own disk, and send/timer/sync primitives. That is the shape a driver around a pure
// `step(state, input) -> Ready` needs: append the Ready's entries, issue a sync, hand the messages that must
// wait for durability to `sendAfterSync`, send the others at once, and step `persisted` from `onSynced`.
//
// Every event the world processes is folded into a 64-bit run hash (and optionally a trail of one-line
// descriptions), so two runs with the same seed can be shown identical event for event, and the first
// diverging event named when they are not.
import { LocalClock, type ClockOptions } from './clock.ts';
import { SimDisk, type DiskOptions, type DiskStats, type ReadResult } from './disk.ts';
import { describeNemesis, validateNemesis, type NemesisAction, type NemesisEvent } from './nemesis.ts';
import { Network, type LinkConfig, type LinkStats, type NodeId } from './network.ts';
import { RandomStreams, type RandomStream } from './random.ts';
import { fnv1a32, RunHash } from './run-hash.ts';
import { Scheduler } from './scheduler.ts';

export type { NodeId } from './network.ts';

export type TimerTag = string | number;

/** Encodes messages to bytes on send and decodes them on delivery, so size and encoding bugs are exercised. */
export interface MessageCodec<M> {
  encode(message: M): Uint8Array;
  decode(bytes: Uint8Array): M;
}

/** A node's disk as the node sees it. */
export interface NodeDisk {
  append(file: string, payload: Uint8Array): void;
  /** Atomic rewrite of a whole file (a snapshot); atomic once a sync covers it. */
  replace(file: string, records: readonly Uint8Array[]): void;
  /** Durable content plus this process's own unsynced writes; reports the first torn/corrupt record. */
  read(file: string): ReadResult;
  files(): string[];
  /** Issues a sync covering every write so far; `onSynced(state, id)` follows when it completes. */
  sync(): number;
}

export interface NodeContext<M, O = never> {
  readonly id: NodeId;
  /**
   * Which boot of this node the process is: 1, 2, ... growing across crashes (what a real server would keep in a
   * file or take from its wall clock; e.g. for request ids that must grow for the node's whole life).
   */
  readonly incarnation: number;
  /** The node's own local clock reading in ms (offset, drift and jumps applied); never virtual time. */
  now(): number;
  /** The node's own PRNG stream (`node/<id>`); it survives restarts, like a hardware entropy source. */
  readonly random: RandomStream;
  readonly disk: NodeDisk;
  /** Every node in the world, crashed ones included, removed ones not (the world's membership, not a protocol's configuration). */
  nodes(): readonly NodeId[];
  /** Encodes and sends now. */
  send(to: NodeId, message: M): void;
  /**
   * Encodes now, sends when sync `syncId` completes (at once if it already has). Dropped if the process
   * crashes first: this is "persist before send".
   */
  sendAfterSync(syncId: number, to: NodeId, message: M): void;
  /** Fires `onTimer(state, tag)` after `localDelayMs` of this node's clock (drift applies; jumps do not). */
  setTimer(localDelayMs: number, tag: TimerTag): number;
  cancelTimer(timerId: number): void;
  /** Hands a value to the world's observer (client replies, observations for checkers). */
  output(value: O): void;
}

export type MembershipChange = { kind: 'added' | 'removed'; node: NodeId };

/** What a node is, from the world's point of view. `S` is the process's volatile state, lost on crash. */
export interface NodeProgram<S, M, I = never, O = never> {
  /** Boots a process from what its disk kept (first boot: an empty disk). */
  start(ctx: NodeContext<M, O>): S;
  onMessage(state: S, from: NodeId, message: M, ctx: NodeContext<M, O>): void;
  onTimer(state: S, tag: TimerTag, ctx: NodeContext<M, O>): void;
  /** Sync `syncId` completed: everything written before it was issued is durable. */
  onSynced?(state: S, syncId: number, ctx: NodeContext<M, O>): void;
  /** An input from outside (a client request), injected with `world.input`. */
  onInput?(state: S, input: I, ctx: NodeContext<M, O>): void;
  /** The world's membership changed (a node process was added or removed). */
  onMembership?(state: S, change: MembershipChange, ctx: NodeContext<M, O>): void;
}

export interface WorldOptions<M, I = never, O = never> {
  seed: number | string;
  nodes: readonly NodeId[];
  codec: MessageCodec<M>;
  /** Pending-event bound of the scheduler (default 1,000,000). */
  maxQueueSize?: number;
  /** Most nodes the world can ever hold, counting added ones (default 16). */
  maxNodes?: number;
  /** Events a paused process may accumulate; past it, arriving messages are dropped as undeliverable. */
  maxParkedPerNode?: number;
  network?: { defaultLink?: Partial<LinkConfig>; links?: Array<{ from: NodeId | '*'; to: NodeId | '*'; config: Partial<LinkConfig> }> };
  disk?: DiskOptions;
  /** Per-node disk options, merged over `disk`. */
  disks?: Record<NodeId, DiskOptions>;
  clocks?: Record<NodeId, ClockOptions>;
  /**
   * Draws each node's clock offset in [-maxOffsetMs, maxOffsetMs] and drift in [-maxDriftPpm, maxDriftPpm] from
   * its `clock/<id>` stream; an entry in `clocks` wins over the draw.
   */
  randomClocks?: { maxOffsetMs: number; maxDriftPpm: number };
  /** Timed faults, applied in order of time. */
  nemesis?: readonly NemesisEvent[];
  /** Keep a one-line description of every processed event (for `firstDivergence`); costs memory. */
  trail?: boolean;
  /** Called after every processed event with its description and the run hash so far (for traces). */
  onEvent?: (entry: TrailEntry) => void;
  onOutput?: (node: NodeId, value: O, virtualMs: number) => void;
  /** An input reached a node that was down: it was not processed (the client sees a refused connection). */
  onInputDropped?: (node: NodeId, input: I, virtualMs: number) => void;
  onMembership?: (change: MembershipChange, virtualMs: number) => void;
  /**
   * A process changed status (booted, crashed, paused, resumed, removed), e.g. for clients whose connections
   * drop with a crash. Called before the booted process's `start` runs.
   */
  onStatus?: (node: NodeId, status: ProcessStatus, virtualMs: number) => void;
}

/** 'crashed' also covers a process added but not yet booted (its boot event is queued at the time it was added). */
export type ProcessStatus = 'running' | 'paused' | 'crashed' | 'removed';

export interface TrailEntry {
  /** Index of the event in processing order. */
  index: number;
  /** Virtual time of the event (ms). */
  time: number;
  /** Run hash after folding this event. */
  hash: string;
  text: string;
}

export interface RunLimits {
  /** Process events with time <= untilMs, then set the clock to untilMs. */
  untilMs?: number;
  /** Process at most this many events in this call (default DEFAULT_MAX_EVENTS: a program with periodic timers never runs dry). */
  maxEvents?: number;
}

export const DEFAULT_MAX_EVENTS = 50_000_000;

export interface RunResult {
  stoppedBy: 'empty' | 'time' | 'events' | 'stop';
  events: number;
  nowMs: number;
  hash: string;
}

export interface WorldSummary {
  seed: string;
  nowMs: number;
  events: number;
  hash: string;
  network: LinkStats & { cuts: string[] };
  links: Array<{ from: NodeId; to: NodeId } & LinkStats>;
  nodes: Array<{ id: NodeId; status: ProcessStatus; boots: number; crashes: number; pauses: number; disk: DiskStats }>;
  nemesis: { applied: number };
}

/** Thrown when a node program (or its codec) throws: names the node, the time and the event. */
export class NodeProgramError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'NodeProgramError';
  }
}

// ---- events ----

type WorldEvent =
  | { kind: 'boot'; node: number; epoch: number }
  /**
   * `sent`: when it left its sender (described for the trace viewer's arrows, not hashed). `arrived`: it reached
   * a paused host and waited there; a partition made later cannot take it back.
   */
  | { kind: 'deliver'; from: number; to: number; bytes: Uint8Array; fingerprint: number; sent: number; arrived?: boolean }
  | { kind: 'timer'; node: number; epoch: number; timerId: number; tag: TimerTag }
  | { kind: 'synced'; node: number; epoch: number; syncId: number }
  | { kind: 'input'; node: number; input: unknown }
  | { kind: 'nemesis'; action: NemesisAction }
  | { kind: 'call'; label: string; fn: () => void };

// Small integers folded into the hash for each kind and outcome.
const KIND_CODE = { boot: 1, deliver: 2, timer: 3, synced: 4, input: 5, nemesis: 6, call: 7 } as const;
const OUTCOME = { handled: 0, parked: 1, down: 2, stale: 3, cut: 4 } as const;
type Outcome = keyof typeof OUTCOME;

interface Process<S> {
  id: NodeId;
  index: number;
  status: ProcessStatus;
  /** Bumped on every crash: events of an older incarnation are stale. */
  epoch: number;
  state: S | undefined;
  clock: LocalClock;
  disk: SimDisk;
  random: RandomStream;
  liveTimers: Set<number>;
  /** Messages waiting for a sync id to complete. */
  held: Map<number, Array<{ to: number; bytes: Uint8Array; fingerprint: number }>>;
  /** Highest sync id whose completion this incarnation has processed. */
  lastSynced: number;
  /** Sync ids up to this one were issued by earlier incarnations and will never complete for this one. */
  syncFloor: number;
  /** Events that arrived while paused, in arrival order. */
  parked: WorldEvent[];
  boots: number;
  crashes: number;
  pauses: number;
}

const DEFAULT_MAX_PARKED = 100_000;

export class World<S, M, I = never, O = never> {
  readonly streams: RandomStreams;
  readonly network: Network;
  private readonly scheduler: Scheduler<WorldEvent>;
  private readonly program: NodeProgram<S, M, I, O>;
  private readonly options: WorldOptions<M, I, O>;
  private readonly processes: Process<S>[] = [];
  private readonly contexts: NodeContext<M, O>[] = [];
  private readonly hash = new RunHash();
  private readonly maxParked: number;
  private processed = 0;
  private stopRequested = false;
  private nemesisApplied = 0;
  private nextTimerId = 1;
  private readonly planned: number[] = [0, 0];
  private lastEvent: WorldEvent | undefined;
  private lastOutcome: Outcome = 'handled';
  /** Ids of every process not removed, recomputed on membership changes (programs ask on every broadcast). */
  private members: readonly NodeId[] = [];
  readonly trail: TrailEntry[] | undefined;

  constructor(program: NodeProgram<S, M, I, O>, options: WorldOptions<M, I, O>) {
    this.program = program;
    this.options = options;
    if (options.nodes.length === 0) throw new RangeError('world: no nodes');
    for (const id of options.nodes) {
      if (typeof id !== 'string' || id.length === 0) throw new RangeError(`world: node ids must be non-empty strings, got ${JSON.stringify(id)}`);
    }
    if (new Set(options.nodes).size !== options.nodes.length) throw new RangeError(`world: duplicate node ids in ${options.nodes.join(', ')}`);
    this.streams = new RandomStreams(options.seed);
    this.scheduler = new Scheduler<WorldEvent>({ maxQueueSize: options.maxQueueSize });
    this.network = new Network(this.streams, { maxNodes: options.maxNodes, defaultLink: options.network?.defaultLink });
    this.maxParked = options.maxParkedPerNode ?? DEFAULT_MAX_PARKED;
    if (!Number.isInteger(this.maxParked) || this.maxParked < 0) {
      throw new RangeError(`world: maxParkedPerNode must be an integer >= 0, got ${this.maxParked}`);
    }
    this.trail = options.trail ? [] : undefined;
    for (const id of options.nodes) this.createProcess(id);
    for (const link of options.network?.links ?? []) this.network.configureLink(link.from, link.to, link.config);
    if (options.nemesis) this.schedule(options.nemesis);
  }

  // ---- running ----

  get now(): number {
    return this.scheduler.now;
  }

  /** Events processed so far. */
  get events(): number {
    return this.processed;
  }

  /** Time of the next queued event (Infinity when none). */
  nextEventTime(): number {
    return this.scheduler.peekTime();
  }

  /** Events waiting in the queue. */
  get pending(): number {
    return this.scheduler.size;
  }

  /** The run hash so far (16 hex digits). */
  runHash(): string {
    return this.hash.hex();
  }

  /** Processes events in order until the queue empties, a limit is reached, or `stop()` is called. */
  run(limits: RunLimits = {}): RunResult {
    const until = limits.untilMs ?? Infinity;
    const budget = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    let done = 0;
    this.stopRequested = false;
    let stoppedBy: RunResult['stoppedBy'] = 'empty';
    for (;;) {
      if (this.stopRequested) {
        stoppedBy = 'stop';
        break;
      }
      if (done >= budget) {
        stoppedBy = 'events';
        break;
      }
      const next = this.scheduler.peekTime();
      if (next === Infinity) break;
      if (next > until) {
        stoppedBy = 'time';
        break;
      }
      this.step();
      done++;
    }
    if (until !== Infinity && stoppedBy !== 'stop' && stoppedBy !== 'events') this.scheduler.advanceTo(until);
    return { stoppedBy, events: done, nowMs: this.now, hash: this.hash.hex() };
  }

  /** Processes one event; false when the queue is empty. */
  step(): boolean {
    const event = this.scheduler.pop();
    if (event === undefined) return false;
    this.processed++;
    const outcome = this.dispatch(event);
    this.fold(event, outcome);
    this.lastEvent = event;
    this.lastOutcome = outcome;
    return true;
  }

  /** Makes `run` return after the current event (for a driver or checker that has seen enough). */
  stop(): void {
    this.stopRequested = true;
  }

  /** Runs `fn` at virtual time `atMs` (a past time means now) as an event of its own, hashed by `label`. */
  at(atMs: number, label: string, fn: () => void): void {
    this.scheduler.schedule(Math.max(atMs, this.now), { kind: 'call', label, fn });
  }

  /** Delivers an input (a client request) to a node's `onInput` at `atMs` (default now). */
  input(node: NodeId, input: I, atMs = this.now): void {
    this.scheduler.schedule(Math.max(atMs, this.now), { kind: 'input', node: this.network.index(node), input });
  }

  /**
   * Schedules nemesis events (validated first: a bad schedule is a one-line error, not a crash mid-run). Events
   * dated in the past happen now.
   */
  schedule(events: readonly NemesisEvent[]): void {
    const problems = validateNemesis(events, this.network.nodes);
    if (problems.length > 0) throw new RangeError(problems[0]!);
    for (const e of events) {
      const { atMs, ...action } = e;
      this.scheduler.schedule(Math.max(atMs, this.now), { kind: 'nemesis', action: action as NemesisAction });
    }
  }

  // ---- faults, callable directly as well as from the nemesis ----

  /** The process dies: volatile state, timers, parked events and held messages are lost; unsynced writes too. */
  crash(node: NodeId, restartAfterMs?: number): void {
    const p = this.process(node);
    if (p.status === 'crashed' || p.status === 'removed') return;
    p.status = 'crashed';
    p.epoch++;
    p.crashes++;
    p.state = undefined;
    p.liveTimers.clear();
    p.held.clear();
    p.parked = [];
    p.disk.crash();
    // Observers hear of it only once the crash is complete: they may call back into the world.
    this.options.onStatus?.(p.id, 'crashed', this.now);
    if (restartAfterMs !== undefined) this.restartLater(p, restartAfterMs);
  }

  /** Boots a crashed process from its disk now (a running or paused process is left alone). */
  restart(node: NodeId): void {
    const p = this.process(node);
    if (p.status !== 'crashed') return;
    this.restartLater(p, 0);
  }

  /** Stalls a process: nothing is processed, its clock keeps running, arrivals wait until `resume`. */
  pause(node: NodeId): void {
    const p = this.process(node);
    if (p.status !== 'running') return;
    this.setStatus(p, 'paused');
    p.pauses++;
  }

  /** Resumes a paused process: what arrived meanwhile is handled now, in arrival order. */
  resume(node: NodeId): void {
    const p = this.process(node);
    if (p.status !== 'paused') return;
    this.setStatus(p, 'running');
    const parked = p.parked;
    p.parked = [];
    for (const e of parked) this.scheduler.schedule(this.now, e);
  }

  /** Adds a node process with an empty disk; it boots now. Every running program hears `onMembership`. */
  addNode(id: NodeId): void {
    if (this.network.has(id)) throw new RangeError(`world: node '${id}' already exists`);
    this.createProcess(id);
    this.announce({ kind: 'added', node: id });
  }

  /** Removes a node process for good (its disk is kept for inspection). */
  removeNode(id: NodeId): void {
    const p = this.process(id);
    if (p.status === 'removed') return;
    this.crash(id);
    this.setStatus(p, 'removed');
    this.members = this.members.filter((m) => m !== id);
    this.announce({ kind: 'removed', node: id });
  }

  clock(node: NodeId): LocalClock {
    return this.process(node).clock;
  }

  disk(node: NodeId): SimDisk {
    return this.process(node).disk;
  }

  // ---- observing ----

  status(node: NodeId): ProcessStatus {
    return this.process(node).status;
  }

  /** Boots, crashes and pauses of a process so far: unchanged between two instants means it ran throughout. */
  interruptions(node: NodeId): number {
    const p = this.process(node);
    return p.boots + p.crashes + p.pauses;
  }

  /** The live state of a running or paused process (undefined when crashed): for observers, not for programs. */
  state(node: NodeId): S | undefined {
    return this.process(node).state;
  }

  /** Every node ever added, removed ones included, in the order they were added. */
  nodes(): readonly NodeId[] {
    return this.network.nodes;
  }

  /** One line describing the last processed event, e.g. `t=5000 call probe -> handled` (described on demand). */
  describeLastEvent(): string | undefined {
    return this.lastEvent && `t=${this.now} ${this.describe(this.lastEvent)} -> ${this.lastOutcome}`;
  }

  summary(): WorldSummary {
    return {
      seed: this.streams.seed,
      nowMs: this.now,
      events: this.processed,
      hash: this.hash.hex(),
      network: { ...this.network.totals(), cuts: this.network.cuts() },
      links: this.network.linkStats(),
      nodes: this.processes.map((p) => ({
        id: p.id,
        status: p.status,
        boots: p.boots,
        crashes: p.crashes,
        pauses: p.pauses,
        disk: { ...p.disk.stats },
      })),
      nemesis: { applied: this.nemesisApplied },
    };
  }

  // ---- internals ----

  private setStatus(p: Process<S>, status: ProcessStatus): void {
    p.status = status;
    this.options.onStatus?.(p.id, status, this.now);
  }

  private process(id: NodeId): Process<S> {
    return this.processes[this.network.index(id)]!;
  }

  private createProcess(id: NodeId): void {
    const index = this.network.addNode(id);
    const diskOptions = { ...this.options.disk, ...this.options.disks?.[id] };
    const p: Process<S> = {
      id,
      index,
      status: 'crashed',
      epoch: 0,
      state: undefined,
      clock: new LocalClock(this.options.clocks?.[id] ?? this.drawClock(id)),
      disk: new SimDisk(id, this.streams.stream(`disk/${id}`), diskOptions),
      random: this.streams.stream(`node/${id}`),
      liveTimers: new Set(),
      held: new Map(),
      lastSynced: 0,
      syncFloor: 0,
      parked: [],
      boots: 0,
      crashes: 0,
      pauses: 0,
    };
    this.processes.push(p);
    this.contexts.push(this.makeContext(p));
    this.members = [...this.members, id];
    this.restartLater(p, 0);
  }

  /** Boots this incarnation later; a crash in between makes the boot stale (it belonged to an earlier crash). */
  private drawClock(id: NodeId): ClockOptions | undefined {
    const spread = this.options.randomClocks;
    if (!spread) return undefined;
    const rng = this.streams.stream(`clock/${id}`);
    return {
      offsetMs: Math.round(rng.uniform(-spread.maxOffsetMs, spread.maxOffsetMs)),
      driftPpm: Math.round(rng.uniform(-spread.maxDriftPpm, spread.maxDriftPpm)),
    };
  }

  private restartLater(p: Process<S>, delayMs: number): void {
    this.scheduler.schedule(this.now + delayMs, { kind: 'boot', node: p.index, epoch: p.epoch });
  }

  private announce(change: MembershipChange): void {
    this.options.onMembership?.(change, this.now);
    if (!this.program.onMembership) return;
    for (const p of this.processes) {
      if (p.status !== 'running' || p.id === change.node) continue;
      this.guard(p, `onMembership(${change.kind} ${change.node})`, () =>
        this.program.onMembership!(p.state as S, change, this.contexts[p.index]!),
      );
    }
  }

  private guard(p: Process<S>, what: string, body: () => void): void {
    try {
      body();
    } catch (e) {
      if (e instanceof NodeProgramError) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new NodeProgramError(`node ${p.id} at t=${this.now}ms in ${what}: ${why}`, e);
    }
  }

  /** Transmits encoded bytes: the network decides the fate of each copy. */
  private transmit(from: number, to: number, bytes: Uint8Array, fingerprint: number): void {
    const copies = this.network.planSend(from, to, bytes.length, this.now, this.planned);
    for (let i = 0; i < copies; i++) {
      // A duplicate gets its own bytes: a decoder may hand out views into them, and two deliveries must not alias.
      const copy = i === 0 ? bytes : bytes.slice();
      this.scheduler.schedule(this.planned[i]!, { kind: 'deliver', from, to, bytes: copy, fingerprint, sent: this.now });
    }
  }

  private makeContext(p: Process<S>): NodeContext<M, O> {
    const codec = this.options.codec;
    const world = this;
    const encode = (message: M): { bytes: Uint8Array; fingerprint: number } => {
      const bytes = codec.encode(message);
      return { bytes, fingerprint: fnv1a32(bytes) };
    };
    // A crashed process must not act through a context it kept.
    const live = (what: string): void => {
      if (p.status === 'crashed' || p.status === 'removed') {
        throw new Error(`${what} by ${p.id} while it is ${p.status}`);
      }
    };
    const disk: NodeDisk = {
      append: (file, payload) => {
        live('disk append');
        p.disk.append(file, payload);
      },
      replace: (file, records) => {
        live('disk replace');
        p.disk.replace(file, records);
      },
      read: (file) => p.disk.read(file),
      files: () => p.disk.files(),
      sync: () => {
        live('disk sync');
        const { id, completesAt } = p.disk.beginSync(world.now);
        world.scheduler.schedule(completesAt, { kind: 'synced', node: p.index, epoch: p.epoch, syncId: id });
        return id;
      },
    };
    return {
      id: p.id,
      get incarnation() {
        return p.boots;
      },
      now: () => p.clock.read(world.now),
      random: p.random,
      disk,
      nodes: () => world.members,
      send: (to, message) => {
        live('send');
        const { bytes, fingerprint } = encode(message);
        world.transmit(p.index, world.network.index(to), bytes, fingerprint);
      },
      sendAfterSync: (syncId, to, message) => {
        live('sendAfterSync');
        const target = world.network.index(to);
        if (!Number.isInteger(syncId) || syncId <= p.syncFloor || syncId > p.disk.lastSyncId) {
          throw new RangeError(`sendAfterSync: ${syncId} is not a sync this incarnation issued`);
        }
        const { bytes, fingerprint } = encode(message);
        if (syncId <= p.lastSynced) {
          world.transmit(p.index, target, bytes, fingerprint);
          return;
        }
        let waiting = p.held.get(syncId);
        if (!waiting) p.held.set(syncId, (waiting = []));
        waiting.push({ to: target, bytes, fingerprint });
      },
      setTimer: (localDelayMs, tag) => {
        live('setTimer');
        if (!(localDelayMs >= 0) || !Number.isFinite(localDelayMs)) {
          throw new RangeError(`setTimer: delay must be a finite number >= 0, got ${localDelayMs}`);
        }
        const timerId = world.nextTimerId++;
        p.liveTimers.add(timerId);
        world.scheduler.schedule(world.now + p.clock.virtualDelay(localDelayMs), {
          kind: 'timer',
          node: p.index,
          epoch: p.epoch,
          timerId,
          tag,
        });
        return timerId;
      },
      cancelTimer: (timerId) => {
        p.liveTimers.delete(timerId);
      },
      output: (value) => {
        world.options.onOutput?.(p.id, value, world.now);
      },
    };
  }

  /** Parks an event for a paused process; messages past the bound are dropped as undeliverable. */
  private park(p: Process<S>, event: WorldEvent): Outcome {
    if (p.parked.length >= this.maxParked) {
      if (event.kind === 'deliver') {
        this.network.countUndeliverable(event.from, event.to);
        return 'down';
      }
      throw new RangeError(`world: ${p.id} paused with ${this.maxParked} events parked (maxParkedPerNode)`);
    }
    if (event.kind === 'deliver') event.arrived = true;
    p.parked.push(event);
    return 'parked';
  }

  private dispatch(event: WorldEvent): Outcome {
    switch (event.kind) {
      case 'deliver': {
        const p = this.processes[event.to]!;
        if (!event.arrived && !this.network.arrive(event.from, event.to)) return 'cut';
        if (p.status === 'paused') return this.park(p, event);
        if (p.status !== 'running') {
          this.network.countUndeliverable(event.from, event.to);
          return 'down';
        }
        this.network.countDelivered(event.from, event.to);
        const from = this.network.idOf(event.from);
        const ctx = this.contexts[p.index]!;
        this.guard(p, `onMessage from ${from}`, () => {
          this.program.onMessage(p.state as S, from, this.options.codec.decode(event.bytes), ctx);
        });
        return 'handled';
      }
      case 'timer': {
        const p = this.processes[event.node]!;
        if (event.epoch !== p.epoch || !p.liveTimers.has(event.timerId)) return 'stale';
        if (p.status === 'paused') return this.park(p, event);
        p.liveTimers.delete(event.timerId);
        this.guard(p, `onTimer(${event.tag})`, () => this.program.onTimer(p.state as S, event.tag, this.contexts[p.index]!));
        return 'handled';
      }
      case 'synced': {
        const p = this.processes[event.node]!;
        if (event.epoch !== p.epoch) return 'stale';
        // The kernel finishes the write even while the process is stalled; only the notification waits.
        p.disk.completeSync(event.syncId);
        if (p.status === 'paused') return this.park(p, event);
        return this.notifySynced(p, event.syncId);
      }
      case 'input': {
        const p = this.processes[event.node]!;
        if (p.status === 'paused') return this.park(p, event);
        if (p.status !== 'running' || !this.program.onInput) {
          this.options.onInputDropped?.(p.id, event.input as I, this.now);
          return 'down';
        }
        this.guard(p, 'onInput', () => this.program.onInput!(p.state as S, event.input as I, this.contexts[p.index]!));
        return 'handled';
      }
      case 'boot': {
        const p = this.processes[event.node]!;
        if (p.status !== 'crashed' || event.epoch !== p.epoch) return 'stale';
        p.boots++;
        this.setStatus(p, 'running');
        p.syncFloor = p.lastSynced = p.disk.lastSyncId;
        this.guard(p, 'start', () => {
          p.state = this.program.start(this.contexts[p.index]!);
        });
        return 'handled';
      }
      case 'nemesis':
        this.nemesisApplied++;
        this.apply(event.action);
        return 'handled';
      case 'call':
        event.fn();
        return 'handled';
    }
  }

  private notifySynced(p: Process<S>, syncId: number): Outcome {
    // A parked completion is re-queued on resume; by then the sync may belong to an older incarnation.
    p.lastSynced = Math.max(p.lastSynced, syncId);
    const waiting = p.held.get(syncId);
    if (waiting) {
      p.held.delete(syncId);
      for (const m of waiting) this.transmit(p.index, m.to, m.bytes, m.fingerprint);
    }
    if (this.program.onSynced) {
      this.guard(p, `onSynced(${syncId})`, () => this.program.onSynced!(p.state as S, syncId, this.contexts[p.index]!));
    }
    return 'handled';
  }

  private apply(a: NemesisAction): void {
    const net = this.network;
    switch (a.kind) {
      case 'isolate':
        return net.isolate(a.node);
      case 'split':
        return net.split(a.groups);
      case 'bridge':
        return net.bridge(a.left, a.right, a.via);
      case 'one-way':
        return net.cutOneWay(a.from, a.to);
      case 'heal':
        return net.heal();
      case 'crash':
        return this.crash(a.node, a.restartAfterMs);
      case 'restart':
        return this.restart(a.node);
      case 'pause':
        return this.pause(a.node);
      case 'resume':
        return this.resume(a.node);
      case 'clock-jump':
        return this.process(a.node).clock.jump(a.deltaMs, this.now);
      case 'clock-drift':
        return this.process(a.node).clock.setDrift(a.ppm, this.now);
      case 'disk-slow':
        return this.process(a.node).disk.setSlow(a.factor);
      case 'disk-faults':
        return this.process(a.node).disk.setFaults(a.on);
      case 'disk-corrupt':
        return void this.process(a.node).disk.corruptRandomRecord();
      case 'link':
        return net.configureLink(a.from, a.to, a.config);
      case 'link-reset':
        return net.resetLink(a.from, a.to);
    }
  }

  /** Folds one processed event into the run hash (and the trail): kind, time, outcome and its particulars. */
  private fold(event: WorldEvent, outcome: Outcome): void {
    const h = this.hash;
    h.byte(KIND_CODE[event.kind]);
    h.byte(OUTCOME[outcome]);
    h.number(this.now);
    switch (event.kind) {
      case 'deliver':
        h.byte(event.from);
        h.byte(event.to);
        h.word(event.fingerprint);
        break;
      case 'timer':
        h.byte(event.node);
        h.word(event.timerId);
        if (typeof event.tag === 'number') h.number(event.tag);
        else h.string(event.tag);
        break;
      case 'synced':
        h.byte(event.node);
        h.word(event.syncId);
        break;
      case 'input':
      case 'boot':
        h.byte(event.node);
        break;
      case 'nemesis':
        h.string(event.action.kind);
        break;
      case 'call':
        h.string(event.label);
        break;
    }
    if (this.trail || this.options.onEvent) {
      const entry = { index: this.processed - 1, time: this.now, hash: h.hex(), text: `t=${this.now} ${this.describe(event)} -> ${outcome}` };
      this.trail?.push(entry);
      this.options.onEvent?.(entry);
    }
  }

  private describe(event: WorldEvent): string {
    const id = (i: number): string => this.network.idOf(i);
    switch (event.kind) {
      case 'deliver':
        return `deliver ${id(event.from)}->${id(event.to)} ${event.bytes.length}B #${event.fingerprint.toString(16)} sent=${event.sent}`;
      case 'timer':
        return `timer ${id(event.node)} ${String(event.tag)} (id ${event.timerId})`;
      case 'synced':
        return `synced ${id(event.node)} sync ${event.syncId}`;
      case 'input':
        return `input ${id(event.node)}`;
      case 'boot':
        return `boot ${id(event.node)}`;
      case 'nemesis':
        return `nemesis ${describeNemesis(event.action)}`;
      case 'call':
        return `call ${event.label}`;
    }
  }
}

/** The first event where two trails differ, or null when they are identical (lengths included). */
export function firstDivergence(
  a: readonly TrailEntry[],
  b: readonly TrailEntry[],
): { index: number; a: string | undefined; b: string | undefined } | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i]?.hash !== b[i]?.hash) return { index: i, a: a[i]?.text, b: b[i]?.text };
  }
  return null;
}

/** The part of a World that `compareRuns` drives (any World, whatever its type parameters). */
export type SteppableWorld = Pick<World<unknown, unknown>, 'pending' | 'nextEventTime' | 'step' | 'runHash' | 'events' | 'describeLastEvent'>;

export interface Divergence {
  /** Index of the first event (in processing order) after which the two run hashes differ. */
  index: number;
  a: string | undefined;
  b: string | undefined;
}

/**
 * Steps two worlds in lockstep and names the first event where their run hashes part, without keeping a trail:
 * cheap enough for a replay of millions of events. Null when they agree to the end (or to the limits).
 */
export function compareRuns(a: SteppableWorld, b: SteppableWorld, limits: RunLimits = {}): Divergence | null {
  const until = limits.untilMs ?? Infinity;
  const budget = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
  for (let n = 0; n < budget; n++) {
    const aNext = a.pending > 0 && a.nextEventTime() <= until;
    const bNext = b.pending > 0 && b.nextEventTime() <= until;
    if (!aNext && !bNext) return null;
    if (aNext) a.step();
    if (bNext) b.step();
    if (aNext !== bNext || a.runHash() !== b.runHash()) {
      return {
        index: Math.max(a.events, b.events) - 1,
        a: aNext ? a.describeLastEvent() : undefined,
        b: bNext ? b.describeLastEvent() : undefined,
      };
    }
  }
  return null;
}
