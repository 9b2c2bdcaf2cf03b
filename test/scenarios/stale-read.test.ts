// Jepsen's 2014 etcd finding on purpose: default reads from an isolated old leader are stale, and the checker
// says so on every seed; the same schedule with quorum reads is linearizable. Default reads are judged with a
// staleness bound, so the violation is the partition's and not a follower's ordinary replication lag.
import { describe, expect, it } from 'vitest';
import { checkHistory } from '../../sim/check/linearizability.ts';
import type { EtcdInput, EtcdOutput, Operation } from '../../sim/check/history.ts';
import type { NemesisAction } from '../../sim/world/nemesis.ts';
import { runSimulation } from '../../sim/run.ts';
import { nodeIndex, runScenario, sampleAt, scenario } from './support.ts';

const SEEDS = [1, 2, 3];
type Op = Operation<EtcdInput, EtcdOutput>;
const indexOf = (op: Op): number | undefined => (op.output as { index?: number; error?: number } | null)?.error === undefined ? (op.output as { index?: number } | null)?.index : undefined;

describe.each(SEEDS)('stale reads, seed %i', (seed) => {
  it('stale-read-2014: the reader pinned to the isolated old leader reads a value older than a completed write: NOT linearizable', () => {
    const r = runScenario('stale-read-2014', seed);
    const isolate = r.fired[0]!;
    const old = (isolate.actions[0] as Extract<NemesisAction, { kind: 'isolate' }>).node;
    expect(old).toBe(isolate.leader!.id);
    expect(sampleAt(r, old, 2000)!.role).toBe('leader');
    const writes = r.history.ops.filter((op) => op.outcome === 'ok' && op.input.f !== 'get' && indexOf(op) !== undefined);
    const stale = r.history.ops.filter((op) => {
      if (op.input.f !== 'get' || op.outcome !== 'ok' || op.meta?.member !== nodeIndex(r, old) || op.call < 2000 || op.ret > 6000) return false;
      const newer = writes.filter((w) => w.ret < op.call).reduce((m, w) => Math.max(m, indexOf(w)!), 0);
      return (indexOf(op) ?? 0) < newer;
    });
    expect(stale.length, 'reads served by the old leader after the majority wrote something newer').toBeGreaterThan(0);
    // Those reads alone, with every write, already admit no linearization: the violation is the partition's.
    const ops = r.history.ops.filter((op) => op.input.f !== 'get' || stale.includes(op)).map((op) => (op.input.f === 'get' ? { ...op, input: { f: 'get' as const } } : op));
    expect(checkHistory({ model: 'etcd', ops }).verdict).toBe('non-linearizable');
  });

  it('stale-read-2014-quorum: the same schedule with quorum reads: the old leader refuses them, and the history is linearizable', () => {
    const r = runScenario('stale-read-2014-quorum', seed);
    const old = (r.fired[0]!.actions[0] as Extract<NemesisAction, { kind: 'isolate' }>).node;
    const atOld = r.history.ops.filter((op) => op.input.f === 'get' && op.meta?.member === nodeIndex(r, old) && op.call > 2100 && op.ret < 6000);
    expect(atOld.length).toBeGreaterThan(0);
    expect(atOld.every((op) => op.outcome === 'fail')).toBe(true);
    expect(r.linearizability.verdict).toBe('linearizable');
    expect(r.history.ops.filter((op) => op.input.f === 'get' && op.outcome === 'ok').length).toBeGreaterThan(300);
  });

  it('stale-read-2014 without the isolation: ordinary follower lag stays inside the staleness bound, every check holds', () => {
    const s = scenario('stale-read-2014');
    const calm = runSimulation({ seed, config: { ...s.config, nemesis: { kind: 'schedule', events: [] } } });
    expect(calm.linearizability.verdict, `replay: the stale-read-2014 config with no nemesis, seed ${seed}`).toBe('linearizable');
    expect(calm.verdicts.every((v) => v.ok)).toBe(true);
    expect(calm.history.ops.filter((op) => op.input.f === 'get' && op.outcome === 'ok').length).toBeGreaterThan(300);
  });

  it('the bound is what admits that lag: the same calm run judged with no staleness allowed is not linearizable', () => {
    const s = scenario('stale-read-2014');
    const strict = runSimulation({ seed, config: { ...s.config, nemesis: { kind: 'schedule', events: [] }, checks: { ...s.config.checks, defaultReadsStalenessMs: 0 } } });
    expect(strict.linearizability.verdict).toBe('non-linearizable');
  });
});
