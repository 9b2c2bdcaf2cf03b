// Two short traces for the viewer's tests: a healthy run and a run of a mutant that serves quorum reads
// locally (a real linearizability violation within half a second), both under a written fault schedule that
// touches every fault family, so every kind of span and lane has something to show.
import type { PartialRunConfig } from '../../../sim/config.ts';
import type { NemesisEvent } from '../../../sim/world/nemesis.ts';
import { recordTrace } from '../../../sim/trace/record.ts';
import type { Trace } from '../../../sim/trace/format.ts';

export const VIEW_SCHEDULE: NemesisEvent[] = [
  { atMs: 150, kind: 'clock-jump', node: 'n4', deltaMs: 40 },
  { atMs: 200, kind: 'disk-slow', node: 'n5', factor: 5 },
  { atMs: 250, kind: 'link', from: 'n2', to: '*', config: { loss: 0.2 } },
  { atMs: 250, kind: 'link', from: '*', to: 'n2', config: { loss: 0.2 } },
  { atMs: 500, kind: 'isolate', node: 'n3' },
  { atMs: 600, kind: 'crash', node: 'n4' },
  { atMs: 700, kind: 'link-reset', from: 'n2', to: '*' },
  { atMs: 700, kind: 'link-reset', from: '*', to: 'n2' },
  { atMs: 750, kind: 'pause', node: 'n1' },
  { atMs: 800, kind: 'heal' },
  { atMs: 850, kind: 'resume', node: 'n1' },
  { atMs: 900, kind: 'restart', node: 'n4' },
  { atMs: 950, kind: 'disk-slow', node: 'n5', factor: 1 },
  { atMs: 1000, kind: 'split', groups: [['n1', 'n2'], ['n3', 'n4', 'n5']] },
  { atMs: 1100, kind: 'clock-drift', node: 'n3', ppm: 300 },
];

export const VIEW_CONFIG: PartialRunConfig = {
  name: 'view-test',
  durationMs: 1200,
  settleMs: 300,
  workload: { kind: 'register', quorumReads: 1, clients: 6 },
  nemesis: { kind: 'schedule', meanGapMs: 1000, meanFaultMs: 500, weights: {}, maxClockJumpMs: 1000, events: VIEW_SCHEDULE },
};

export async function recordViewTraces(): Promise<{ failing: Trace; healthy: Trace }> {
  const failing = (await recordTrace({ scenario: 'quorum-only', seed: 1, config: VIEW_CONFIG, expect: { kind: 'pass' }, mutant: 'replica-quorum-read-served-locally' })).trace;
  const healthy = (await recordTrace({ scenario: 'quorum-only', seed: 1, config: VIEW_CONFIG, expect: { kind: 'pass' } })).trace;
  return { failing, healthy };
}
