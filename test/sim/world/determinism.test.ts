import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { generateNemesis } from '../../../sim/world/nemesis.ts';
import type { LinkConfig } from '../../../sim/world/network.ts';
import * as worldModule from '../../../sim/world/world.ts';
import { NODES, toyWorld, type Recorded } from './toy.ts';

type WorldModule = typeof worldModule;

interface Config {
  seed: number;
  link: Partial<LinkConfig>;
  weights: { partition: number; crash: number; pause: number; clock: number; disk: number };
}

const configArb: fc.Arbitrary<Config> = fc.record({
  seed: fc.integer(),
  link: fc.record({
    latency: fc.oneof(
      fc.record({ kind: fc.constant('fixed' as const), ms: fc.integer({ min: 0, max: 10 }) }),
      fc.record({ kind: fc.constant('uniform' as const), minMs: fc.constant(0), maxMs: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('pareto' as const), minMs: fc.constant(1), shape: fc.double({ min: 1.1, max: 3, noNaN: true }), maxMs: fc.constant(300) }),
    ),
    loss: fc.double({ min: 0, max: 0.3, noNaN: true }),
    duplicate: fc.double({ min: 0, max: 0.3, noNaN: true }),
    reorder: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  weights: fc.record({
    partition: fc.nat(3),
    crash: fc.nat(3),
    pause: fc.nat(3),
    clock: fc.nat(3),
    disk: fc.integer({ min: 1, max: 3 }),
  }),
});

function run(config: Config, mod: WorldModule = worldModule): { hash: string; events: number; outputs: Recorded[] } {
  const { world, outputs } = toyWorld({ seed: config.seed, network: { defaultLink: config.link }, disk: { faults: { tornWriteOnCrash: 0.5, corruptOnSync: 0.02 } } }, mod);
  world.schedule(generateNemesis(world.streams.stream('nemesis'), { nodes: NODES, endMs: 800, meanGapMs: 100, meanFaultMs: 150, weights: config.weights }));
  world.run({ untilMs: 1_000 });
  return { hash: world.runHash(), events: world.events, outputs };
}

// Same seed and options => the same run, for any mix of faults.
function checkReproducible(mod: WorldModule, endOnFailure = false): void {
  fc.assert(
    fc.property(configArb, (config) => {
      const a = run(config, mod);
      const b = run(config, mod);
      expect(b.events).toBe(a.events);
      expect(b.hash).toBe(a.hash);
    }),
    { numRuns: 200, endOnFailure },
  );
}

// Persist before send, as the world enforces it through sendAfterSync and crash: a peer only ever hears a
// counter its sender had already reported durable.
function checkPersistBeforeSend(mod: WorldModule, endOnFailure = false): void {
  fc.assert(
    fc.property(configArb, (config) => {
      const durable = new Set<string>();
      for (const o of run(config, mod).outputs) {
        if (o.value.kind === 'durable') durable.add(`${o.node}:${o.value.counter}`);
        if (o.value.kind === 'heard' && !durable.has(`${o.value.from}:${o.value.counter}`)) {
          throw new Error(`${o.node} heard ${o.value.from}:${o.value.counter} at t=${o.t} before it was durable`);
        }
      }
    }),
    { numRuns: 200, endOnFailure },
  );
}

// The mutant runs skip shrinking (endOnFailure): a planted non-determinism makes shrinking chase a moving target.
describe('world determinism and persist-before-send, over random fault mixes', () => {
  it('same seed and options => identical run hash (property)', () => checkReproducible(worldModule));

  it('a peer never hears a counter before its sender made it durable (property)', () => checkPersistBeforeSend(worldModule));

  const ambientRandom: Mutant = {
    name: 'world-network-uses-math-random',
    description: 'the network decides duplication with Math.random instead of its seeded stream',
    edits: [{ file: 'sim/world/network.ts', find: 'const uDuplicate = rng.next();', replace: 'const uDuplicate = Math.random();' }],
  };
  it(`reproducibility property catches mutant: ${ambientRandom.name}`, async () => {
    await withMutant(ambientRandom, 'sim/world/world.ts', (m: WorldModule) => expect(() => checkReproducible(m, true)).toThrow(/Property failed/), {
      dirs: ['sim/world', 'core/codec'],
    });
  });

  const heldSurviveCrash: Mutant = {
    name: 'world-crash-keeps-held-messages',
    description: 'a crash does not drop messages waiting for a sync, so they leave when a later sync completes',
    edits: [
      { file: 'sim/world/world.ts', find: '    p.held.clear();\n', replace: '' },
      { file: 'sim/world/world.ts', find: '    const waiting = p.held.get(syncId);', replace: '    const waiting = [...p.held.keys()].filter((k) => k <= syncId).flatMap((k) => { const w = p.held.get(k)!; p.held.delete(k); return w; });' },
    ],
  };
  it(`persist-before-send property catches mutant: ${heldSurviveCrash.name}`, async () => {
    await withMutant(heldSurviveCrash, 'sim/world/world.ts', (m: WorldModule) => expect(() => checkPersistBeforeSend(m, true)).toThrow(/Property failed/), {
      dirs: ['sim/world', 'core/codec'],
    });
  });
});
