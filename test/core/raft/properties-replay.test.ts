// Determinism and plain-data state: a schedule replays to identical Readys, also when every node is encoded
// with msgpack and decoded midway (what a trace checkpoint and fork does).
import { describe, it } from 'vitest';
import * as core from '../../../core/raft/index.ts';
import { assertProperty, propertyNamed } from './harness.ts';

// Cases are cheap (about a millisecond each), so CI runs 500 per property; RAFT_PROPERTY_RUNS changes it.
const RUNS = Number(process.env.RAFT_PROPERTY_RUNS ?? 500);

describe('raft replay property', () => {
  const property = propertyNamed('deterministic-replay');
  it(`deterministic-replay: ${property.claim}`, () => assertProperty(core, property, RUNS));
});
