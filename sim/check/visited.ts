// The search's memory: visited (linearized set, model state) configurations, with dominance over
// indeterminate operations. Struct-of-arrays with open addressing, so V8 allocates nothing per entry but the
// state itself.

const NO_INFO_SETS: number[] = [];

/**
 * Visited (linearized set, model state) pairs. A set is stored exactly, as the definite words between the first
 * non-full one (`lowWord`; all below are full) and the last non-zero one, plus every indeterminate word; the two
 * Zobrist hashes (of the definite part only) make lookups fast.
 *
 * A lookup also succeeds when a visited configuration has the same definite operations and state but used a
 * subset of the current indeterminate ones: every completion open to the current configuration is open to that
 * one (indeterminate operations are optional and block nothing), and that one has failed or is still being
 * explored further up the stack.
 */
export class VisitedSet<S> {
  /** Open addressing over groups: one group per (definite set, state). */
  private table: Int32Array = new Int32Array(1 << 12).fill(-1);
  private groups = 0;
  /** Configurations remembered: the search's memory, bounded by the budget. */
  get size(): number {
    return this.groups;
  }
  private hash1: Int32Array = new Int32Array(1 << 11);
  private hash2: Int32Array = new Int32Array(1 << 11);
  private stateHash: Int32Array = new Int32Array(1 << 11);
  private low: Int32Array = new Int32Array(1 << 11);
  private offset: Int32Array = new Int32Array(1 << 11);
  private length: Int32Array = new Int32Array(1 << 11);
  private readonly states: S[] = [];
  /** Per group, pool offsets of the indeterminate sets visited with it: an antichain under inclusion. */
  private readonly infoSets: number[][] = [];
  private pool: Uint32Array = new Uint32Array(1 << 12);
  private poolUsed = 0;

  constructor(
    private readonly equal: (a: S, b: S) => boolean,
    private readonly defWords: number,
    private readonly infoWords: number,
  ) {}

  private slot(h1: number, sh: number): number {
    let h = Math.imul(h1 ^ Math.imul(sh, 0x27d4eb2d), 0x9e3779b1);
    h ^= h >>> 15;
    return h & (this.table.length - 1);
  }

  private store(bits: Uint32Array, from: number, count: number): number {
    if (this.poolUsed + count > this.pool.length) {
      const bigger = new Uint32Array(Math.max(this.pool.length * 2, this.poolUsed + count));
      bigger.set(this.pool);
      this.pool = bigger;
    }
    const off = this.poolUsed;
    for (let k = 0; k < count; k++) this.pool[off + k] = bits[from + k]!;
    this.poolUsed += count;
    return off;
  }

  /** Records the configuration; false when it (or one that dominates it) was visited before. */
  add(h1: number, h2: number, sh: number, state: S, bits: Uint32Array, lowWord: number, span: number): boolean {
    const mask = this.table.length - 1;
    let i = this.slot(h1, sh);
    let group = -1;
    for (let g = this.table[i]!; g !== -1; i = (i + 1) & mask, g = this.table[i]!) {
      if (this.hash1[g] !== h1 || this.hash2[g] !== h2 || this.stateHash[g] !== sh || this.low[g] !== lowWord || this.length[g] !== span) continue;
      const off = this.offset[g]!;
      let same = true;
      for (let k = 0; k < span && same; k++) same = this.pool[off + k] === bits[lowWord + k];
      if (same && this.equal(this.states[g]!, state)) {
        group = g;
        break;
      }
    }
    const infoWords = this.infoWords;
    const infoFrom = this.defWords;
    if (group >= 0) {
      if (infoWords === 0) return false;
      const sets = this.infoSets[group]!;
      for (const off of sets) {
        let subset = true;
        for (let k = 0; k < infoWords && subset; k++) subset = (this.pool[off + k]! & ~bits[infoFrom + k]!) === 0;
        if (subset) return false;
      }
      // Sets that include the new one are dominated by it from now on.
      let kept = 0;
      for (const off of sets) {
        let superset = true;
        for (let k = 0; k < infoWords && superset; k++) superset = (bits[infoFrom + k]! & ~this.pool[off + k]!) === 0;
        if (!superset) sets[kept++] = off;
      }
      sets.length = kept;
      sets.push(this.store(bits, infoFrom, infoWords));
      return true;
    }
    const g = this.groups++;
    if (g === this.hash1.length) this.growGroups();
    this.hash1[g] = h1;
    this.hash2[g] = h2;
    this.stateHash[g] = sh;
    this.low[g] = lowWord;
    this.length[g] = span;
    this.offset[g] = this.store(bits, lowWord, span);
    this.states[g] = state;
    // Without indeterminate operations the list is never read: share one instead of allocating per group.
    this.infoSets[g] = infoWords === 0 ? NO_INFO_SETS : [this.store(bits, infoFrom, infoWords)];
    this.table[i] = g;
    if (this.groups * 2 > this.table.length) this.rehash();
    return true;
  }

  private growGroups(): void {
    const grow = (a: Int32Array): Int32Array => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.hash1 = grow(this.hash1);
    this.hash2 = grow(this.hash2);
    this.stateHash = grow(this.stateHash);
    this.low = grow(this.low);
    this.offset = grow(this.offset);
    this.length = grow(this.length);
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2).fill(-1);
    const mask = this.table.length - 1;
    for (let g = 0; g < this.groups; g++) {
      let i = this.slot(this.hash1[g]!, this.stateHash[g]!);
      while (this.table[i] !== -1) i = (i + 1) & mask;
      this.table[i] = g;
    }
  }
}
