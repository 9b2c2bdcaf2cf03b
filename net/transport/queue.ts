// The bounded outbound queue of one peer. When a peer is slow or down its queue fills; rather than grow
// without bound or block the sender (and with it every other peer), the oldest droppable message goes:
// Raft retransmits what matters, and newer messages supersede older ones.

export interface QueuedFrame {
  frame: Uint8Array;
  droppable: boolean;
}

export interface QueueLimits {
  maxMessages: number;
  maxBytes: number;
}

export class BoundedFrameQueue {
  private items: QueuedFrame[] = [];
  private bytes = 0;
  /** Messages discarded because the queue was full. */
  dropped = 0;

  constructor(private readonly limits: QueueLimits) {}

  get length(): number {
    return this.items.length;
  }

  get byteLength(): number {
    return this.bytes;
  }

  /** Adds a frame, first discarding the oldest droppable ones until it fits; false if it could not be queued. */
  push(item: QueuedFrame): boolean {
    const fits = (): boolean => this.items.length < this.limits.maxMessages && this.bytes + item.frame.length <= this.limits.maxBytes;
    while (!fits()) {
      const oldest = this.items.findIndex((q) => q.droppable);
      if (oldest < 0) break;
      this.bytes -= this.items[oldest]!.frame.length;
      this.items.splice(oldest, 1);
      this.dropped++;
    }
    if (!fits()) {
      this.dropped++;
      return false;
    }
    this.items.push(item);
    this.bytes += item.frame.length;
    return true;
  }

  shift(): QueuedFrame | undefined {
    const item = this.items.shift();
    if (item) this.bytes -= item.frame.length;
    return item;
  }

  clear(): number {
    const n = this.items.length;
    this.items = [];
    this.bytes = 0;
    return n;
  }
}

/** Exponential backoff with jitter: the delay before reconnect attempt `attempt` (0-based), within [max/2, max]. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  // Half fixed, half random: members that lost a peer together do not all redial in the same instant.
  return ceiling / 2 + (ceiling / 2) * Math.min(Math.max(random(), 0), 1);
}
