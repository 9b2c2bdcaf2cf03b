// The simulator's one event queue: a binary min-heap ordered by (virtual time, sequence number). Time jumps to
// the next event; nothing ever sleeps. The sequence number makes ties deterministic (first scheduled, first
// run), which is what lets a seed reproduce a run event for event. The heap is kept in three parallel arrays
// rather than an array of entry objects: this is the hot path, and it avoids one allocation per event.

export class SchedulerOverflowError extends Error {
  constructor(limit: number, now: number) {
    super(
      `event queue full: ${limit} events pending at t=${now}ms (raise maxQueueSize, or look for a node or ` +
        `nemesis that schedules without bound)`,
    );
    this.name = 'SchedulerOverflowError';
  }
}

export interface SchedulerOptions {
  /** The most events that may be pending at once; scheduling past it throws SchedulerOverflowError. */
  maxQueueSize?: number;
}

export const DEFAULT_MAX_QUEUE_SIZE = 1_000_000;

export class Scheduler<E> {
  readonly maxQueueSize: number;
  private times: number[] = [];
  private seqs: number[] = [];
  private items: E[] = [];
  private nextSeq = 0;
  private current = 0;

  constructor(options: SchedulerOptions = {}) {
    this.maxQueueSize = options.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE;
    if (!Number.isInteger(this.maxQueueSize) || this.maxQueueSize < 1) {
      throw new RangeError(`scheduler: maxQueueSize must be a positive integer, got ${this.maxQueueSize}`);
    }
  }

  /** Virtual time of the event being (or last) processed, in ms. */
  get now(): number {
    return this.current;
  }

  get size(): number {
    return this.items.length;
  }

  /** Sequence numbers handed out so far (also the count of events ever scheduled). */
  get scheduled(): number {
    return this.nextSeq;
  }

  /** Schedules `item` at virtual time `at` (never before now); returns its sequence number. */
  schedule(at: number, item: E): number {
    if (!(at >= this.current) || at === Infinity) {
      throw new RangeError(`scheduler: cannot schedule at t=${at}ms, before now (t=${this.current}ms) or never`);
    }
    const n = this.items.length;
    if (n >= this.maxQueueSize) throw new SchedulerOverflowError(this.maxQueueSize, this.current);
    const seq = this.nextSeq++;
    this.times.push(at);
    this.seqs.push(seq);
    this.items.push(item);
    this.siftUp(n);
    return seq;
  }

  /** Time of the next event, or Infinity when the queue is empty. */
  peekTime(): number {
    return this.items.length > 0 ? this.times[0]! : Infinity;
  }

  /** Removes the next event, advances `now` to its time and returns it (undefined when empty). */
  pop(): E | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const top = this.items[0]!;
    this.current = this.times[0]!;
    const lastTime = this.times.pop()!;
    const lastSeq = this.seqs.pop()!;
    const lastItem = this.items.pop()!;
    if (n > 1) {
      this.times[0] = lastTime;
      this.seqs[0] = lastSeq;
      this.items[0] = lastItem;
      this.siftDown(0);
    }
    return top;
  }

  /** Moves `now` forward with no event (e.g. a run that ends at a time limit); never backward. */
  advanceTo(at: number): void {
    if (at > this.current) this.current = at;
  }

  private less(i: number, j: number): boolean {
    const ti = this.times[i]!;
    const tj = this.times[j]!;
    return ti < tj || (ti === tj && this.seqs[i]! < this.seqs[j]!);
  }

  private swap(i: number, j: number): void {
    const t = this.times[i]!;
    this.times[i] = this.times[j]!;
    this.times[j] = t;
    const s = this.seqs[i]!;
    this.seqs[i] = this.seqs[j]!;
    this.seqs[j] = s;
    const x = this.items[i]!;
    this.items[i] = this.items[j]!;
    this.items[j] = x;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.less(right, left) ? right : left;
      if (!this.less(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }
}
