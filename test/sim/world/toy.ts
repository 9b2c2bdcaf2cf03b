// Shared set-up for the world tests: the toy gossip program in a world that records every output.
import { gossipCodec, gossipProgram, type GossipOptions, type GossipOutput } from '../../../sim/world/toy-gossip.ts';
import type { MessageCodec, NodeId, World, WorldOptions } from '../../../sim/world/world.ts';
import * as worldModule from '../../../sim/world/world.ts';
import type { GossipMessage, GossipState } from '../../../sim/world/toy-gossip.ts';

export type ToyWorld = World<GossipState, GossipMessage, never, GossipOutput>;
export interface Recorded {
  node: NodeId;
  value: GossipOutput;
  t: number;
}

export const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];

export function toyWorld(
  options: Partial<WorldOptions<GossipMessage, never, GossipOutput>> & { gossip?: GossipOptions; codec?: MessageCodec<GossipMessage> } = {},
  mod: typeof worldModule = worldModule,
): { world: ToyWorld; outputs: Recorded[] } {
  const outputs: Recorded[] = [];
  const { gossip, ...rest } = options;
  const world = new mod.World(gossipProgram(gossip), {
    seed: 1,
    nodes: NODES,
    codec: gossipCodec,
    onOutput: (node, value, t) => outputs.push({ node, value, t }),
    ...rest,
  });
  return { world, outputs };
}

/** 'heard' outputs as {at, from, counter, localMs, t}. */
export function heard(outputs: Recorded[], at?: NodeId): Array<{ at: NodeId; from: NodeId; counter: number; localMs: number; t: number }> {
  return outputs.flatMap((o) =>
    o.value.kind === 'heard' && (at === undefined || o.node === at)
      ? [{ at: o.node, from: o.value.from, counter: o.value.counter, localMs: o.value.localMs, t: o.t }]
      : [],
  );
}
