// Latency distributions shared by the network (per link) and the disks (per sync). Long-tailed shapes matter:
// the rare very slow message or fsync is what exposes timeout and ordering bugs, and uniform latencies hide it.
import type { RandomStream } from './random.ts';

export type LatencyModel =
  | { kind: 'fixed'; ms: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }
  /** Exponential gaps above a floor: minMs + Exp(meanMs - minMs). */
  | { kind: 'exponential'; minMs: number; meanMs: number; maxMs?: number }
  /** Pareto: at least minMs, tail index `shape` (1 < shape < 3 is realistically heavy), capped at maxMs. */
  | { kind: 'pareto'; minMs: number; shape: number; maxMs: number }
  /** Log-normal around a median, `sigma` in log space, capped at maxMs. */
  | { kind: 'lognormal'; medianMs: number; sigma: number; maxMs: number };

/** The longest the model can take; Infinity for an uncapped exponential. */
export function maxLatencyMs(model: LatencyModel): number {
  switch (model.kind) {
    case 'fixed':
      return model.ms;
    case 'exponential':
      return model.maxMs ?? Infinity;
    default:
      return model.maxMs;
  }
}

/** The model's median: the typical message or sync, which Raft's timing requirement is stated against. */
export function medianLatencyMs(model: LatencyModel): number {
  switch (model.kind) {
    case 'fixed':
      return model.ms;
    case 'uniform':
      return (model.minMs + model.maxMs) / 2;
    case 'exponential':
      return Math.min(model.minMs + (model.meanMs - model.minMs) * Math.LN2, model.maxMs ?? Infinity);
    case 'pareto':
      return Math.min(model.minMs * 2 ** (1 / model.shape), model.maxMs);
    case 'lognormal':
      return Math.min(model.medianMs, model.maxMs);
  }
}

/** Throws a one-line error naming `where` if the model cannot be sampled. */
export function validateLatency(model: LatencyModel, where: string): void {
  const bad = (why: string): never => {
    throw new RangeError(`${where}: invalid ${model.kind} latency: ${why}`);
  };
  const nonNegative = (name: string, x: number | undefined, optional = false): void => {
    if (optional && x === undefined) return;
    if (typeof x !== 'number' || !(Number.isFinite(x) && x >= 0)) bad(`${name} must be a finite number >= 0, got ${x}`);
  };
  switch (model.kind) {
    case 'fixed':
      nonNegative('ms', model.ms);
      return;
    case 'uniform':
      nonNegative('minMs', model.minMs);
      nonNegative('maxMs', model.maxMs);
      if (model.maxMs < model.minMs) bad(`maxMs ${model.maxMs} < minMs ${model.minMs}`);
      return;
    case 'exponential':
      nonNegative('minMs', model.minMs);
      nonNegative('meanMs', model.meanMs);
      nonNegative('maxMs', model.maxMs, true);
      if (model.meanMs < model.minMs) bad(`meanMs ${model.meanMs} < minMs ${model.minMs}`);
      return;
    case 'pareto':
      nonNegative('minMs', model.minMs);
      nonNegative('maxMs', model.maxMs);
      if (typeof model.shape !== 'number' || !(model.shape > 0) || !Number.isFinite(model.shape)) bad(`shape must be > 0, got ${model.shape}`);
      if (model.maxMs < model.minMs) bad(`maxMs ${model.maxMs} < minMs ${model.minMs}`);
      return;
    case 'lognormal':
      nonNegative('medianMs', model.medianMs);
      nonNegative('sigma', model.sigma);
      nonNegative('maxMs', model.maxMs);
      return;
    default:
      bad(`unknown kind '${(model as { kind: string }).kind}'`);
  }
}

/** One latency sample in ms (a fixed model draws nothing, so it never moves its stream). */
export function sampleLatency(model: LatencyModel, rng: RandomStream): number {
  switch (model.kind) {
    case 'fixed':
      return model.ms;
    case 'uniform':
      return rng.uniform(model.minMs, model.maxMs);
    case 'exponential': {
      const x = model.minMs + rng.exponential(model.meanMs - model.minMs);
      return model.maxMs === undefined ? x : Math.min(x, model.maxMs);
    }
    case 'pareto':
      return Math.min(rng.pareto(model.minMs, model.shape), model.maxMs);
    case 'lognormal':
      return Math.min(rng.logNormal(model.medianMs, model.sigma), model.maxMs);
  }
}
