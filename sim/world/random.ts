// Independent seeded PRNG streams. Each concern (the network's links, each disk, the nemesis, the workload,
// each node) draws from its own stream, derived from the run seed and the stream's name, so turning one knob
// (say, the loss rate) changes only the decisions of the streams that knob consumes: the nemesis schedule and
// the disk latencies stay exactly as they were.
import seedrandom from 'seedrandom';

/** The saved state of one stream: plain JSON, so a trace can checkpoint it. */
export interface StreamState {
  name: string;
  alea: seedrandom.State.Alea;
}

/** Draw helpers over one seeded generator (Alea: fast, small state, restorable). */
export class RandomStream {
  readonly name: string;
  private prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>;

  /** Use `RandomStreams.stream(name)`; this is public for `restore`. */
  constructor(name: string, seedOrState: string | seedrandom.State.Alea) {
    this.name = name;
    this.prng =
      typeof seedOrState === 'string'
        ? seedrandom.alea(seedOrState, { state: true })
        : seedrandom.alea('', { state: seedOrState });
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng();
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.prng();
  }

  /** Uniform integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
      throw new RangeError(`random.int: need integers lo <= hi, got [${lo}, ${hi}]`);
    }
    return lo + Math.floor(this.prng() * (hi - lo + 1));
  }

  /** True with probability p (p <= 0 never, p >= 1 always, and neither draws, so a disabled fault costs nothing). */
  bernoulli(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.prng() < p;
  }

  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError(`random.pick: empty list (stream ${this.name})`);
    return items[Math.floor(this.prng() * items.length)]!;
  }

  /** A uniformly shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.prng() * (i + 1));
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }

  /** Exponential with the given mean (memoryless gaps, e.g. between nemesis faults). */
  exponential(mean: number): number {
    // 1 - u lies in (0, 1], so the log is finite.
    return -mean * Math.log(1 - this.prng());
  }

  /** Standard normal (Box-Muller; draws two uniforms every call so the stream's position stays predictable). */
  normal(): number {
    const u1 = 1 - this.prng();
    const u2 = this.prng();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Pareto with minimum `scale` and tail index `shape` (smaller shape = heavier tail). */
  pareto(scale: number, shape: number): number {
    return scale / Math.pow(1 - this.prng(), 1 / shape);
  }

  /** Log-normal with the given median and log-space standard deviation. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  save(): StreamState {
    return { name: this.name, alea: this.prng.state() };
  }

  /** Rewinds (or fast-forwards) this stream in place, so components holding it see the restored state. */
  load(state: StreamState): void {
    if (state.name !== this.name) throw new Error(`random: state of stream '${state.name}' loaded into '${this.name}'`);
    this.prng = seedrandom.alea('', { state: state.alea });
  }

  static restore(state: StreamState): RandomStream {
    return new RandomStream(state.name, state.alea);
  }
}

/** The family of streams of one run: `stream(name)` always returns the same stream for the same name. */
export class RandomStreams {
  readonly seed: string;
  private readonly streams = new Map<string, RandomStream>();

  constructor(seed: number | string) {
    this.seed = String(seed);
  }

  /** The stream for a concern, e.g. `nemesis`, `workload`, `disk/n1`, `node/n1`, `net/n1->n2`. */
  stream(name: string): RandomStream {
    let s = this.streams.get(name);
    if (!s) {
      // The separator cannot occur in a decimal seed, so ('1', '2/x') and ('12', '/x') never collide.
      s = new RandomStream(name, `${this.seed}\u0000${name}`);
      this.streams.set(name, s);
    }
    return s;
  }

  /** Every stream created so far, by name. */
  save(): StreamState[] {
    return [...this.streams.values()].map((s) => s.save());
  }

  /** Restores the named streams in place (others are untouched and are derived from the seed as usual). */
  restore(states: readonly StreamState[]): void {
    for (const state of states) {
      const existing = this.streams.get(state.name);
      if (existing) existing.load(state);
      else this.streams.set(state.name, RandomStream.restore(state));
    }
  }
}
