// A toy node program for exercising the world before the real replica exists: every tick a node bumps its
// counter, appends it to its disk, syncs, and only then gossips it to every peer (persist before send). On
// boot it restores the counter from the last good record; a torn tail is survivable (it was never synced, so
// never announced), a corrupted record makes it refuse to run, which is the safe choice.
import type { MessageCodec, NodeContext, NodeId, NodeProgram } from './world.ts';

export interface GossipMessage {
  counter: number;
}

export interface GossipState {
  counter: number;
  /** Highest counter known durable (a sync covering it completed). */
  durable: number;
  /** Highest counter heard from each peer. */
  seen: Record<NodeId, number>;
  /** [sync id, counter it covers] for each sync in flight, oldest first (syncs complete in issue order). */
  syncing: Array<[number, number]>;
  halted: boolean;
}

export type GossipOutput =
  | { kind: 'boot'; counter: number; problem: 'torn' | 'corrupt' | null; localMs: number }
  | { kind: 'durable'; counter: number }
  | { kind: 'heard'; from: NodeId; counter: number; localMs: number };

export interface GossipOptions {
  /** Local-clock ms between ticks. */
  tickMs?: number;
  /** Persist and sync before gossiping (false: gossip at once, no disk). */
  persist?: boolean;
  /** Emit a 'heard' output for every message (tests); off for benchmarks. */
  reportMessages?: boolean;
}

export const COUNTER_FILE = 'counter.log';

/** Eight bytes: the counter as a float64. The world encodes every message with it. */
export const gossipCodec: MessageCodec<GossipMessage> = {
  encode: (m) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, m.counter, true);
    return bytes;
  },
  decode: (bytes) => {
    if (bytes.length !== 8) throw new RangeError(`gossip: message of ${bytes.length} bytes, expected 8`);
    return { counter: new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true) };
  },
};

const encodeCounter = (n: number): Uint8Array => gossipCodec.encode({ counter: n });

export function gossipProgram(options: GossipOptions = {}): NodeProgram<GossipState, GossipMessage, never, GossipOutput> {
  const tickMs = options.tickMs ?? 10;
  const persist = options.persist ?? true;
  const report = options.reportMessages ?? true;
  type Ctx = NodeContext<GossipMessage, GossipOutput>;
  const peers = (ctx: Ctx): NodeId[] => ctx.nodes().filter((n) => n !== ctx.id);
  return {
    start(ctx) {
      const { records, problem } = ctx.disk.read(COUNTER_FILE);
      const last = records[records.length - 1];
      const counter = last ? gossipCodec.decode(last).counter : 0;
      const state: GossipState = { counter, durable: counter, seen: {}, syncing: [], halted: problem?.kind === 'corrupt' };
      ctx.output({ kind: 'boot', counter, problem: problem?.kind ?? null, localMs: ctx.now() });
      if (problem?.kind === 'torn') ctx.disk.replace(COUNTER_FILE, records);
      if (!state.halted) ctx.setTimer(tickMs, 'tick');
      return state;
    },
    onTimer(state, _tag, ctx) {
      state.counter++;
      if (persist) {
        ctx.disk.append(COUNTER_FILE, encodeCounter(state.counter));
        const syncId = ctx.disk.sync();
        state.syncing.push([syncId, state.counter]);
        for (const peer of peers(ctx)) ctx.sendAfterSync(syncId, peer, { counter: state.counter });
      } else {
        for (const peer of peers(ctx)) ctx.send(peer, { counter: state.counter });
      }
      ctx.setTimer(tickMs, 'tick');
    },
    onMessage(state, from, message, ctx) {
      if (message.counter > (state.seen[from] ?? -1)) state.seen[from] = message.counter;
      if (report) ctx.output({ kind: 'heard', from, counter: message.counter, localMs: ctx.now() });
    },
    onSynced(state, syncId, ctx) {
      while (state.syncing.length > 0 && state.syncing[0]![0] <= syncId) {
        const covered = state.syncing.shift()![1];
        state.durable = Math.max(state.durable, covered);
        ctx.output({ kind: 'durable', counter: covered });
      }
    },
  };
}
