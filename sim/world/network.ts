// The simulated network's decisions: per-link latency, loss, duplication, reordering, and partitions of any
// shape. It decides *when* (if ever) each copy of a message arrives; the world schedules the deliveries. There
// is no bandwidth model.
//
// Every message draws the same three uniforms (loss, duplicate, reorder) before its latency, whatever the
// knobs say, so raising the loss rate drops some messages but leaves every other message's latency and
// ordering exactly where it was under the same seed.
import { sampleLatency, validateLatency, type LatencyModel } from './latency.ts';
import type { RandomStream, RandomStreams } from './random.ts';

export type NodeId = string;

export interface LinkConfig {
  latency: LatencyModel;
  /** Probability a message is lost. */
  loss: number;
  /** Probability a message is delivered twice; the copy gets its own latency. */
  duplicate: number;
  /**
   * Probability a message ignores its link's FIFO order. At 0 a link is FIFO (like one TCP stream): a message
   * never arrives before one sent earlier on the same link. A reordered message takes its raw sampled latency,
   * so with a variable latency it may overtake earlier messages or be overtaken by later ones.
   */
  reorder: number;
}

export const DEFAULT_LINK: LinkConfig = {
  latency: { kind: 'uniform', minMs: 1, maxMs: 5 },
  loss: 0,
  duplicate: 0,
  reorder: 0,
};

export interface LinkStats {
  /** Messages handed to the network (one per send, whatever became of it). */
  sent: number;
  /** Copies that reached a running (or paused, then resumed) node. */
  delivered: number;
  /** Messages lost by the loss knob. */
  lost: number;
  /** Copies dropped because the link was cut, at send time or while in flight. */
  blocked: number;
  /** Extra copies created by the duplicate knob. */
  duplicated: number;
  /** Copies that arrived at a crashed or removed node (or overflowed a paused node's inbox). */
  undeliverable: number;
  /** Encoded bytes sent. */
  bytes: number;
}

export interface NetworkOptions {
  /** Most nodes the world can ever hold; links are kept in dense per-pair arrays. */
  maxNodes?: number;
  defaultLink?: Partial<LinkConfig>;
}

export const DEFAULT_MAX_NODES = 16;

const emptyStats = (): LinkStats => ({
  sent: 0,
  delivered: 0,
  lost: 0,
  blocked: 0,
  duplicated: 0,
  undeliverable: 0,
  bytes: 0,
});

function validateLink(link: LinkConfig, where: string): void {
  validateLatency(link.latency, where);
  for (const knob of ['loss', 'duplicate', 'reorder'] as const) {
    const p = link[knob];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${where}: ${knob} must be a probability in [0, 1], got ${p}`);
  }
}

/** Problems with a partial link configuration (a nemesis `link` event), one line each; empty when valid. */
export function linkPatchProblems(patch: unknown, where: string): string[] {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return [`${where}: config must be an object`];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'latency') {
      try {
        if (typeof value !== 'object' || value === null) throw new RangeError(`${where}: latency must be an object`);
        validateLatency(value as LatencyModel, where);
      } catch (e) {
        problems.push((e as Error).message);
      }
    } else if (key === 'loss' || key === 'duplicate' || key === 'reorder') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        problems.push(`${where}: ${key} must be a probability in [0, 1], got ${JSON.stringify(value)}`);
      }
    } else {
      problems.push(`${where}: unknown link setting '${key}' (known: latency, loss, duplicate, reorder)`);
    }
  }
  return problems;
}

export class Network {
  readonly maxNodes: number;
  private readonly ids: NodeId[] = [];
  private readonly indexById = new Map<NodeId, number>();
  private readonly streams: RandomStreams;
  private defaultLink: LinkConfig;
  private readonly links: (LinkConfig | undefined)[];
  private readonly linkStreams: (RandomStream | undefined)[];
  private readonly stats: (LinkStats | undefined)[];
  /** blocked[from * maxNodes + to] = 1 when messages from -> to are cut. */
  private readonly blocked: Uint8Array;
  /** Latest delivery time handed to a FIFO message on each link. */
  private readonly lastFifoDelivery: Float64Array;

  constructor(streams: RandomStreams, options: NetworkOptions = {}) {
    this.streams = streams;
    this.maxNodes = options.maxNodes ?? DEFAULT_MAX_NODES;
    // Node indices are folded into the run hash as single bytes.
    if (!Number.isInteger(this.maxNodes) || this.maxNodes < 1 || this.maxNodes > 256) {
      throw new RangeError(`network: maxNodes must be an integer in [1, 256], got ${this.maxNodes}`);
    }
    this.defaultLink = { ...DEFAULT_LINK, ...options.defaultLink };
    validateLink(this.defaultLink, 'network default link');
    const pairs = this.maxNodes * this.maxNodes;
    this.links = new Array(pairs).fill(undefined);
    this.linkStreams = new Array(pairs).fill(undefined);
    this.stats = new Array(pairs).fill(undefined);
    this.blocked = new Uint8Array(pairs);
    this.lastFifoDelivery = new Float64Array(pairs);
  }

  /** Registers a node and returns its dense index (idempotent for a known id). */
  addNode(id: NodeId): number {
    const known = this.indexById.get(id);
    if (known !== undefined) return known;
    if (this.ids.length >= this.maxNodes) {
      throw new RangeError(`network: cannot add node '${id}': the world holds at most ${this.maxNodes} nodes (maxNodes)`);
    }
    const index = this.ids.length;
    this.ids.push(id);
    this.indexById.set(id, index);
    return index;
  }

  get nodes(): readonly NodeId[] {
    return this.ids;
  }

  /** The dense index of a node; throws a one-line error for an unknown id. */
  index(id: NodeId): number {
    const i = this.indexById.get(id);
    if (i === undefined) throw new RangeError(`network: unknown node '${id}' (known: ${this.ids.join(', ') || 'none'})`);
    return i;
  }

  has(id: NodeId): boolean {
    return this.indexById.has(id);
  }

  idOf(index: number): NodeId {
    return this.ids[index]!;
  }

  /**
   * Changes the knobs of one directed link; `'*'` for `from` or `to` means every node (present and future
   * links keep their own patches; `'*','*'` changes the default too).
   */
  configureLink(from: NodeId | '*', to: NodeId | '*', patch: Partial<LinkConfig>): void {
    if (from === '*' && to === '*') {
      const next = { ...this.defaultLink, ...patch };
      validateLink(next, 'network default link');
      this.defaultLink = next;
    }
    const froms = from === '*' ? this.ids.map((_, i) => i) : [this.index(from)];
    const tos = to === '*' ? this.ids.map((_, i) => i) : [this.index(to)];
    for (const f of froms) {
      for (const t of tos) {
        const link = f * this.maxNodes + t;
        const next = { ...(this.links[link] ?? this.defaultLink), ...patch };
        validateLink(next, `network link ${this.ids[f]}->${this.ids[t]}`);
        this.links[link] = next;
      }
    }
  }

  /** Drops per-link overrides so the matching links follow the default again (`'*'` as in configureLink). */
  resetLink(from: NodeId | '*', to: NodeId | '*'): void {
    const froms = from === '*' ? this.ids.map((_, i) => i) : [this.index(from)];
    const tos = to === '*' ? this.ids.map((_, i) => i) : [this.index(to)];
    for (const f of froms) for (const t of tos) this.links[f * this.maxNodes + t] = undefined;
  }

  linkConfig(from: NodeId, to: NodeId): LinkConfig {
    return this.links[this.index(from) * this.maxNodes + this.index(to)] ?? this.defaultLink;
  }

  // ---- partitions: each shape adds cuts; heal() removes them all ----

  /** Cuts messages from -> to only (a one-way partition). */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.blocked[this.index(from) * this.maxNodes + this.index(to)] = 1;
  }

  /** Cuts both directions between a and b. */
  cut(a: NodeId, b: NodeId): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  /** Restores both directions between a and b. */
  connect(a: NodeId, b: NodeId): void {
    const i = this.index(a);
    const j = this.index(b);
    this.blocked[i * this.maxNodes + j] = 0;
    this.blocked[j * this.maxNodes + i] = 0;
  }

  /** Cuts a node off from every other node, both ways. */
  isolate(id: NodeId): void {
    for (const other of this.ids) if (other !== id) this.cut(id, other);
  }

  /**
   * Cuts every link between nodes of different groups. A node in no group keeps all its links, so it sees
   * every side (that is how a bridge is made).
   */
  split(groups: readonly (readonly NodeId[])[]): void {
    const seen = new Set<NodeId>();
    for (const group of groups) {
      for (const id of group) {
        this.index(id);
        if (seen.has(id)) throw new RangeError(`network: node '${id}' is in two groups of a split`);
        seen.add(id);
      }
    }
    for (let g = 0; g < groups.length; g++) {
      for (let h = 0; h < groups.length; h++) {
        if (g === h) continue;
        for (const a of groups[g]!) for (const b of groups[h]!) this.cutOneWay(a, b);
      }
    }
  }

  /** Splits `left` from `right`; `via` stays connected to both sides (a bridge). */
  bridge(left: readonly NodeId[], right: readonly NodeId[], via: NodeId): void {
    if (left.includes(via) || right.includes(via)) throw new RangeError(`network: bridge node '${via}' must be on neither side`);
    this.split([left, right]);
  }

  /** Removes every cut. */
  heal(): void {
    this.blocked.fill(0);
  }

  /** Whether a message from -> to would currently get through the partition. */
  connected(from: NodeId, to: NodeId): boolean {
    return this.blocked[this.index(from) * this.maxNodes + this.index(to)] === 0;
  }

  /** The current cuts as `a->b` pairs, for summaries and traces. */
  cuts(): string[] {
    const out: string[] = [];
    for (let f = 0; f < this.ids.length; f++) {
      for (let t = 0; t < this.ids.length; t++) {
        if (this.blocked[f * this.maxNodes + t]) out.push(`${this.ids[f]}->${this.ids[t]}`);
      }
    }
    return out;
  }

  // ---- the hot path: by dense index ----

  isBlocked(from: number, to: number): boolean {
    return this.blocked[from * this.maxNodes + to] === 1;
  }

  /**
   * Decides the fate of one message sent at `now`: writes the delivery time of each copy into `out` and returns
   * how many copies there are (0 lost or cut, 1, or 2 duplicated).
   */
  planSend(from: number, to: number, byteLength: number, now: number, out: number[]): number {
    const link = from * this.maxNodes + to;
    const stats = this.stats[link] ?? (this.stats[link] = emptyStats());
    stats.sent++;
    stats.bytes += byteLength;
    const config = this.links[link] ?? this.defaultLink;
    const rng = this.linkStreams[link] ?? (this.linkStreams[link] = this.streams.stream(`net/${this.ids[from]}->${this.ids[to]}`));
    const uLoss = rng.next();
    const uDuplicate = rng.next();
    const uReorder = rng.next();
    const latency = sampleLatency(config.latency, rng);
    if (this.blocked[link] === 1) {
      stats.blocked++;
      return 0;
    }
    if (uLoss < config.loss) {
      stats.lost++;
      return 0;
    }
    let at = now + latency;
    if (uReorder >= config.reorder) {
      // FIFO: never before the previous in-order message on this link (equal times keep send order by seq).
      if (at < this.lastFifoDelivery[link]!) at = this.lastFifoDelivery[link]!;
      this.lastFifoDelivery[link] = at;
    }
    out[0] = at;
    if (uDuplicate < config.duplicate) {
      stats.duplicated++;
      out[1] = now + sampleLatency(config.latency, rng);
      return 2;
    }
    return 1;
  }

  /** Called by the world when a copy arrives: reports whether the link is still up (cut links drop in flight). */
  arrive(from: number, to: number): boolean {
    const link = from * this.maxNodes + to;
    const stats = this.stats[link]!;
    if (this.blocked[link] === 1) {
      stats.blocked++;
      return false;
    }
    return true;
  }

  countDelivered(from: number, to: number): void {
    this.stats[from * this.maxNodes + to]!.delivered++;
  }

  countUndeliverable(from: number, to: number): void {
    this.stats[from * this.maxNodes + to]!.undeliverable++;
  }

  /** Per-link counters for every link that carried at least one message, in node order. */
  linkStats(): Array<{ from: NodeId; to: NodeId } & LinkStats> {
    const out: Array<{ from: NodeId; to: NodeId } & LinkStats> = [];
    for (let f = 0; f < this.ids.length; f++) {
      for (let t = 0; t < this.ids.length; t++) {
        const s = this.stats[f * this.maxNodes + t];
        if (s) out.push({ from: this.ids[f]!, to: this.ids[t]!, ...s });
      }
    }
    return out;
  }

  /** Counters summed over all links. */
  totals(): LinkStats {
    const total = emptyStats();
    for (const s of this.stats) {
      if (!s) continue;
      for (const k of Object.keys(total) as (keyof LinkStats)[]) total[k] += s[k];
    }
    return total;
  }
}
