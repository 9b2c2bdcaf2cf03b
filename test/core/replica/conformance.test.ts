// The conformance fixture replayed through a single-member replica (see conformance.ts).
import { describe, expect, it } from 'vitest';
import { FIXTURE_PATH, loadFixture } from '../api/replay.ts';
import { replayThroughReplica } from './conformance.ts';

const fixture = loadFixture();

describe('etcd v2 conformance through a single-member replica', () => {
  it.skipIf(fixture !== null)(`skipped: no fixture at ${FIXTURE_PATH}`, () => {
    expect(fixture).toBe(null);
  });

  it.skipIf(fixture === null)('answers every recorded case as etcd 3.4 did', () => {
    const cases = fixture!.cases;
    expect(cases.length).toBeGreaterThan(150);
    const mismatches = replayThroughReplica(cases);
    expect(mismatches.slice(0, 10).join('\n'), `${mismatches.length} of ${cases.length} cases differ`).toBe('');
  });
});
