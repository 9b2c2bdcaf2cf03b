import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { Network, type LinkConfig } from '../../../sim/world/network.ts';
import { RandomStreams } from '../../../sim/world/random.ts';

// Besides the FIFO mutant kept below, each example was seen failing under a one-line edit of network.ts:
// duplication at half the configured rate; a lost message skipping its latency draw (the loss-alignment test);
// arrive() ignoring cuts (in-flight test); the Pareto cap removed (floor-and-cap test).

type NetworkClass = typeof Network;

function net(N: NetworkClass, link: Partial<LinkConfig> = {}, ids = ['a', 'b', 'c', 'd', 'e'], seed = 1): Network {
  const n = new N(new RandomStreams(seed), { defaultLink: link });
  for (const id of ids) n.addNode(id);
  return n;
}

/** Sends `count` messages a->b one ms apart; returns each copy's (send index, delivery time). */
function sendMany(n: Network, count: number, from = 'a', to = 'b'): Array<{ sent: number; at: number }> {
  const out: number[] = [0, 0];
  const copies: Array<{ sent: number; at: number }> = [];
  for (let i = 0; i < count; i++) {
    const k = n.planSend(n.index(from), n.index(to), 8, i, out);
    for (let c = 0; c < k; c++) copies.push({ sent: i, at: out[c]! });
  }
  return copies;
}

const overtakes = (copies: Array<{ sent: number; at: number }>): number => {
  let n = 0;
  for (let i = 1; i < copies.length; i++) if (copies[i]!.at < copies[i - 1]!.at) n++;
  return n;
};

// With reorder = 0 a link is FIFO whatever its latency distribution: no message arrives before one sent earlier.
function checkFifo(N: NetworkClass, numRuns = 200): void {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 1, max: 100 }), (seed, spread) => {
      const n = net(N, { latency: { kind: 'uniform', minMs: 0, maxMs: spread }, reorder: 0 }, ['a', 'b'], seed);
      expect(overtakes(sendMany(n, 50))).toBe(0);
    }),
    { numRuns },
  );
}

describe('network', () => {
  it('links are FIFO when reorder is 0, under any latency spread (property)', () => checkFifo(Network));

  it('reordering lets later sends arrive first', () => {
    const n = net(Network, { latency: { kind: 'uniform', minMs: 0, maxMs: 50 }, reorder: 1 });
    expect(overtakes(sendMany(n, 100))).toBeGreaterThan(10);
  });

  it('duplication delivers every message twice at duplicate = 1, and counts it', () => {
    const n = net(Network, { duplicate: 1 });
    const copies = sendMany(n, 20);
    expect(copies).toHaveLength(40);
    expect(n.linkStats()[0]).toMatchObject({ from: 'a', to: 'b', sent: 20, duplicated: 20 });
  });

  it('loss drops about the configured fraction and counts it', () => {
    const n = net(Network, { loss: 0.3 });
    const copies = sendMany(n, 2000);
    const lost = n.totals().lost;
    expect(lost + copies.length).toBe(2000);
    expect(lost / 2000).toBeGreaterThan(0.25);
    expect(lost / 2000).toBeLessThan(0.35);
  });

  it('changing the loss rate leaves the surviving messages\' delivery times unchanged', () => {
    const plain = sendMany(net(Network, { latency: { kind: 'uniform', minMs: 1, maxMs: 20 }, reorder: 1 }), 300);
    const lossy = sendMany(net(Network, { latency: { kind: 'uniform', minMs: 1, maxMs: 20 }, reorder: 1, loss: 0.4 }), 300);
    const bySent = new Map(plain.map((c) => [c.sent, c.at]));
    expect(lossy.length).toBeLessThan(plain.length);
    for (const c of lossy) expect(c.at).toBe(bySent.get(c.sent));
  });

  it('a symmetric partition (isolate) blocks both directions; heal restores them', () => {
    const n = net(Network);
    n.isolate('c');
    expect(sendMany(n, 5, 'a', 'c')).toHaveLength(0);
    expect(sendMany(n, 5, 'c', 'a')).toHaveLength(0);
    expect(sendMany(n, 5, 'a', 'b')).toHaveLength(5);
    expect(n.totals().blocked).toBe(10);
    n.heal();
    expect(sendMany(n, 5, 'a', 'c')).toHaveLength(5);
    expect(n.cuts()).toEqual([]);
  });

  it('a one-way cut blocks one direction only', () => {
    const n = net(Network);
    n.cutOneWay('a', 'b');
    expect(n.connected('a', 'b')).toBe(false);
    expect(n.connected('b', 'a')).toBe(true);
    expect(sendMany(n, 3, 'a', 'b')).toHaveLength(0);
    expect(sendMany(n, 3, 'b', 'a')).toHaveLength(3);
    expect(n.cuts()).toEqual(['a->b']);
  });

  it('a split cuts between groups only', () => {
    const n = net(Network);
    n.split([['a', 'b'], ['c', 'd', 'e']]);
    expect(n.connected('a', 'b')).toBe(true);
    expect(n.connected('c', 'e')).toBe(true);
    expect(n.connected('a', 'c')).toBe(false);
    expect(n.connected('e', 'b')).toBe(false);
  });

  it('a bridge node sees both sides while the sides cannot see each other', () => {
    const n = net(Network);
    n.bridge(['a', 'b'], ['d', 'e'], 'c');
    for (const side of ['a', 'b', 'd', 'e']) {
      expect(n.connected('c', side)).toBe(true);
      expect(n.connected(side, 'c')).toBe(true);
    }
    expect(n.connected('a', 'd')).toBe(false);
    expect(n.connected('e', 'b')).toBe(false);
    expect(() => n.bridge(['a'], ['c'], 'c')).toThrow(/bridge node 'c' must be on neither side/);
  });

  it('link overrides apply per directed link and resetLink returns them to the default', () => {
    const n = net(Network, { loss: 0 });
    n.configureLink('a', '*', { loss: 1 });
    expect(sendMany(n, 5, 'a', 'b')).toHaveLength(0);
    expect(sendMany(n, 5, 'b', 'a')).toHaveLength(5);
    expect(n.linkConfig('a', 'c').loss).toBe(1);
    n.resetLink('a', '*');
    expect(n.linkConfig('a', 'c').loss).toBe(0);
    expect(sendMany(n, 5, 'a', 'b')).toHaveLength(5);
    n.configureLink('*', '*', { loss: 0.5 });
    expect(n.linkConfig('d', 'e').loss).toBe(0.5);
  });

  it('a message in flight when its link is cut is dropped on arrival', () => {
    const n = net(Network);
    const [copy] = sendMany(n, 1);
    expect(copy).toBeDefined();
    n.cut('a', 'b');
    expect(n.arrive(n.index('a'), n.index('b'))).toBe(false);
    expect(n.totals().blocked).toBe(1);
  });

  it('long-tailed latencies have a floor and a cap', () => {
    for (const latency of [
      { kind: 'pareto', minMs: 2, shape: 1.2, maxMs: 500 },
      { kind: 'lognormal', medianMs: 5, sigma: 1.5, maxMs: 500 },
      { kind: 'exponential', minMs: 2, meanMs: 10, maxMs: 500 },
    ] as const) {
      const copies = sendMany(net(Network, { latency, reorder: 1 }, ['a', 'b']), 2000);
      const delays = copies.map((c) => c.at - c.sent);
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(latency.kind === 'lognormal' ? 0 : 2);
      expect(Math.max(...delays)).toBeLessThanOrEqual(500);
      expect(Math.max(...delays)).toBeGreaterThan(40); // the tail is really there
    }
  });

  it('bad configuration is a one-line error', () => {
    expect(() => net(Network, { loss: 1.5 })).toThrow(/network default link: loss must be a probability in \[0, 1\], got 1.5/);
    expect(() => net(Network, { latency: { kind: 'uniform', minMs: 5, maxMs: 1 } })).toThrow(/maxMs 1 < minMs 5/);
    const n = net(Network);
    expect(() => n.index('zz')).toThrow(/unknown node 'zz' \(known: a, b, c, d, e\)/);
    expect(() => n.configureLink('a', 'b', { duplicate: -1 })).toThrow(/link a->b: duplicate must be a probability/);
    expect(() => n.split([['a'], ['a', 'b']])).toThrow(/node 'a' is in two groups/);
    const small = new Network(new RandomStreams(1), { maxNodes: 1 });
    small.addNode('x');
    expect(() => small.addNode('y')).toThrow(/at most 1 nodes \(maxNodes\)/);
  });

  const mutant: Mutant = {
    name: 'network-no-fifo',
    description: 'in-order messages take their raw latency, so a link with reorder 0 still reorders',
    edits: [{ file: 'sim/world/network.ts', find: 'if (at < this.lastFifoDelivery[link]!) at = this.lastFifoDelivery[link]!;', replace: '' }],
  };
  it(`FIFO property catches mutant: ${mutant.name}`, async () => {
    await withMutant(mutant, 'sim/world/network.ts', (m: { Network: NetworkClass }) => expect(() => checkFifo(m.Network)).toThrow(/Property failed/), {
      dirs: ['sim/world', 'core/codec'],
    });
  });
});
