// Durability of acknowledged writes and liveness after healing: every schedule ends by healing the network and
// restarting every node; a leader must then commit a fresh proposal within a bounded number of rounds, and its
// state must hold every write a client was told succeeded.
import { describe, it } from 'vitest';
import * as core from '../../../core/raft/index.ts';
import { assertProperty, propertyNamed } from './harness.ts';

// RAFT_PROPERTY_RUNS lowers the count for quick local iterations; CI runs the default.
const RUNS = Number(process.env.RAFT_PROPERTY_RUNS ?? 200);

describe('raft durability and liveness properties', () => {
  for (const name of ['acknowledged-writes-survive', 'liveness']) {
    const property = propertyNamed(name);
    it(`${name}: ${property.claim}`, () => assertProperty(core, property, RUNS));
  }
});
