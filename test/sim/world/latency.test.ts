// The latency models' medians, which the liveness check states Raft's timing requirement against, agree with
// what sampling the same model gives.
import { describe, expect, it } from 'vitest';
import { maxLatencyMs, medianLatencyMs, sampleLatency, type LatencyModel } from '../../../sim/world/latency.ts';
import { RandomStreams } from '../../../sim/world/random.ts';

const MODELS: LatencyModel[] = [
  { kind: 'fixed', ms: 7 },
  { kind: 'uniform', minMs: 30, maxMs: 150 },
  { kind: 'exponential', minMs: 1, meanMs: 11 },
  { kind: 'exponential', minMs: 1, meanMs: 100, maxMs: 20 },
  { kind: 'pareto', minMs: 2, shape: 1.5, maxMs: 500 },
  { kind: 'lognormal', medianMs: 2, sigma: 0.5, maxMs: 50 },
  { kind: 'lognormal', medianMs: 80, sigma: 1, maxMs: 40 },
];

describe('medianLatencyMs', () => {
  it.each(MODELS.map((m) => [JSON.stringify(m), m] as const))('is the median of samples of %s', (_name, model) => {
    const rng = new RandomStreams(7).stream('latency-median');
    const samples = Array.from({ length: 20_001 }, () => sampleLatency(model, rng)).sort((a, b) => a - b);
    const empirical = samples[10_000]!;
    expect(Math.abs(medianLatencyMs(model) - empirical)).toBeLessThanOrEqual(0.03 * empirical + 1e-9);
  });
});

describe('maxLatencyMs', () => {
  it.each(MODELS.map((m) => [JSON.stringify(m), m] as const))('bounds every sample of %s', (_name, model) => {
    const rng = new RandomStreams(8).stream('latency-max');
    const worst = Math.max(...Array.from({ length: 20_000 }, () => sampleLatency(model, rng)));
    expect(worst).toBeLessThanOrEqual(maxLatencyMs(model));
  });

  it('is unbounded for an exponential without a cap', () => {
    expect(maxLatencyMs({ kind: 'exponential', minMs: 1, meanMs: 5 })).toBe(Infinity);
  });
});
