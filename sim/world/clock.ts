// A node's local clock, derived from virtual time. It has an offset, a drift (parts per million: at +100 ppm
// the clock gains 0.1 ms every virtual second) and can jump forward or back, as NTP steps do. The node sees only
// this reading, never virtual time. Timers are a different matter: like an OS monotonic timer, they run at the
// drifted rate but ignore jumps (see `virtualDelay`).

export interface ClockOptions {
  /** Local reading at virtual time 0, in ms. */
  offsetMs?: number;
  driftPpm?: number;
}

export class LocalClock {
  /** Local reading at `anchor` virtual time. */
  private base: number;
  private anchor = 0;
  private drift: number;
  /** Every (anchor, base, drift) the clock has had, oldest first: its whole history, for `skewRange`. */
  private readonly segments: Array<{ anchor: number; base: number; drift: number }> = [];

  constructor(options: ClockOptions = {}) {
    this.base = options.offsetMs ?? 0;
    this.drift = options.driftPpm ?? 0;
    LocalClock.checkDrift(this.drift);
    if (!Number.isFinite(this.base)) throw new RangeError(`clock: offsetMs must be finite, got ${this.base}`);
    this.record();
  }

  /**
   * The lowest and highest skew (exact reading minus virtual time) the clock has had over virtual [0, untilMs].
   * Skew is linear between jumps and drift changes, so the extremes are at their instants and at the ends.
   */
  skewRange(untilMs: number): { min: number; max: number } {
    let min = Infinity;
    let max = -Infinity;
    this.segments.forEach((seg, i) => {
      if (seg.anchor > untilMs) return;
      const end = Math.min(this.segments[i + 1]?.anchor ?? untilMs, untilMs);
      for (const t of [seg.anchor, end]) {
        const skew = seg.base - seg.anchor + ((t - seg.anchor) * seg.drift) / 1e6;
        min = Math.min(min, skew);
        max = Math.max(max, skew);
      }
    });
    return { min, max };
  }

  /** The local reading at virtual time `now`, in whole ms (floored, as a millisecond clock reads). */
  read(now: number): number {
    return Math.floor(this.exact(now));
  }

  get driftPpm(): number {
    return this.drift;
  }

  /** Steps the reading by `deltaMs` (negative = backward) at virtual time `now`. */
  jump(deltaMs: number, now: number): void {
    if (!Number.isFinite(deltaMs)) throw new RangeError(`clock: jump must be finite, got ${deltaMs}`);
    this.reanchor(now);
    this.base += deltaMs;
    this.record();
  }

  /** Changes the drift from virtual time `now` on; the reading does not jump. */
  setDrift(ppm: number, now: number): void {
    LocalClock.checkDrift(ppm);
    this.reanchor(now);
    this.drift = ppm;
    this.record();
  }

  /** Virtual ms until `localDelayMs` of local time has passed at the current drift. */
  virtualDelay(localDelayMs: number): number {
    return localDelayMs / (1 + this.drift * 1e-6);
  }

  // elapsed + elapsed * ppm / 1e6 rather than elapsed * (1 + ppm * 1e-6): the latter rounds 10 s at +1000 ppm
  // to 10009.999... ms, and the floored reading would lose a millisecond the drift really gained.
  private exact(now: number): number {
    const elapsed = now - this.anchor;
    return this.base + elapsed + (elapsed * this.drift) / 1e6;
  }

  private record(): void {
    this.segments.push({ anchor: this.anchor, base: this.base, drift: this.drift });
  }

  private reanchor(now: number): void {
    this.base = this.exact(now);
    this.anchor = now;
  }

  private static checkDrift(ppm: number): void {
    // Beyond ±50% the clock would be broken rather than drifting; -1e6 would stop time altogether.
    if (!(Number.isFinite(ppm) && Math.abs(ppm) <= 500_000)) {
      throw new RangeError(`clock: drift must be within ±500000 ppm, got ${ppm}`);
    }
  }
}
