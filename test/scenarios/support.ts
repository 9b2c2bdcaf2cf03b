// Running a catalogue scenario in a test, and reading what happened out of its observations.
import { expect } from 'vitest';
import { describeExpectation, meetsExpectation, scenarioNamed, type Scenario } from '../../scenarios/index.ts';
import type { NodeSample } from '../../sim/check/history.ts';
import { runSimulation, type RunOptions, type RunResult } from '../../sim/run.ts';

export function scenario(name: string): Scenario {
  const s = scenarioNamed(name);
  if (s === undefined) throw new Error(`no scenario ${name}`);
  return s;
}

/** Runs a scenario exactly as `raftsim run <name> --seed <seed>` does and checks its expectation. */
export function runScenario(name: string, seed: number, extra: Omit<RunOptions, 'seed' | 'config'> = {}): RunResult {
  const s = scenario(name);
  const r = runSimulation({ ...extra, seed, config: s.config });
  const failed = r.verdicts.filter((v) => !v.ok).map((v) => v.summary);
  expect(meetsExpectation(s.expect, r.verdicts), `${name} seed ${seed}: expected ${describeExpectation(s.expect)}; failed: ${failed.join(' | ') || 'none'}; replay: bin/raftsim run ${name} --seed ${seed}`).toBe(true);
  for (const f of r.fired) expect(f.firedMs, `${name} seed ${seed}: '${f.text}' never fired (${f.note}); replay: bin/raftsim run ${name} --seed ${seed}`).not.toBeNull();
  return r;
}

/** A node's index in the run's observations (n1 is 0; members added later follow in the order they joined). */
export function nodeIndex(r: RunResult, id: string): number {
  const base = Array.from({ length: r.config.nodes }, (_, i) => `n${i + 1}`);
  const added = r.membershipChanges.filter((c) => c.kind === 'add').map((c) => c.node);
  const i = [...base, ...added].indexOf(id);
  if (i < 0) throw new Error(`no node ${id}`);
  return i;
}

export function nodeId(r: RunResult, index: number): string {
  return index < r.config.nodes ? `n${index + 1}` : r.membershipChanges.filter((c) => c.kind === 'add')[index - r.config.nodes]!.node;
}

/** The node's last sample at or before `time`. */
export function sampleAt(r: RunResult, id: string, time: number): NodeSample | undefined {
  const node = nodeIndex(r, id);
  let found: NodeSample | undefined;
  for (const s of r.observations.samples) {
    if (s.time > time) break;
    if (s.node === node) found = s;
  }
  return found;
}

/** Samples of nodes acting as leader within (from, to]. */
export function leadersBetween(r: RunResult, from: number, to: number): Array<{ id: string; term: number; time: number }> {
  return r.observations.samples.filter((s) => s.time > from && s.time <= to && s.role === 'leader').map((s) => ({ id: nodeId(r, s.node), term: s.term, time: s.time }));
}

/** Writes the run's one-line figures for the report: ops, faults, wall time. */
export function figures(r: RunResult): string {
  const s = r.summary;
  return `${s.name} seed ${s.seed}: ${s.operations.total} ops (ok ${s.operations.ok}, info ${s.operations.info}), faults ${JSON.stringify(s.faults)}, leaders ${s.leaderChanges}, wall ${s.wallMs} ms`;
}
