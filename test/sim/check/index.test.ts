import { describe, expect, it } from 'vitest';
import { checkRun, type EtcdInput, type EtcdOutput, type Operation, type RaftsimFile } from '../../../sim/check/index.ts';

const ops: Operation<EtcdInput, EtcdOutput>[] = [
  { id: 0, client: 1, key: '/a', input: { f: 'set', value: '1', ttl: 1 }, output: { index: 1 }, outcome: 'ok', call: 0, ret: 5 },
  { id: 1, client: 2, key: '/a', input: { f: 'get' }, output: { value: '1', index: 1 }, outcome: 'ok', call: 10, ret: 12 },
];

function run(overrides: Partial<RaftsimFile> = {}): RaftsimFile {
  return {
    history: { model: 'etcd', ops },
    raft: { samples: [{ node: 1, time: 3, role: 'leader', term: 1, commitIndex: 1, lastIndex: 1, applied: 1, log: { from: 1, entries: [[1, 'x']] } }], acked: [] },
    events: [],
    watches: [],
    ttl: { expiryTickMs: 100, clockErrorMs: 10 },
    ...overrides,
  };
}

describe('checkRun', () => {
  it('runs the checkers the run has data for and holds when they all do', () => {
    const v = checkRun(run());
    expect(v.ok).toBe(true);
    expect(v.linearizability.verdict).toBe('linearizable');
    expect(v.others.map((r) => r.checker)).toEqual(['raft-safety', 'acked-writes', 'ttl']);
    expect(v.explanations).toEqual([]);
  });

  it('explains every failing checker in one line each', () => {
    const stale = [...ops, { ...ops[1]!, id: 2, call: 3000, ret: 3001 }];
    const v = checkRun(run({ history: { model: 'etcd', ops: stale }, events: [{ index: 1, key: '/a', action: 'set', value: '1' }], watches: [{ watcher: 1, key: '/a', recursive: false, waitIndex: 1, stream: true, received: [], drainedThrough: 1 }] }));
    expect(v.ok).toBe(false);
    expect(v.explanations).toHaveLength(2);
    expect(v.explanations[0]).toMatch(/^watch: 1 violation\(s\); first: watch-missing/);
    expect(v.explanations[1]).toMatch(/^ttl: 1 violation\(s\); first: expired-read/);
  });

  it('counts an unknown linearizability verdict as not ok', () => {
    const many: Operation<EtcdInput, EtcdOutput>[] = [];
    for (let i = 0; i < 30; i++) many.push({ id: i, client: i, key: '/b', input: { f: 'set', value: `${i}` }, output: null, outcome: 'info', call: 0, ret: 1 });
    for (let i = 0; i < 15; i++) many.push({ id: 30 + i, client: 30 + i, key: '/b', input: { f: 'get' }, output: { value: `${29 - i}`, index: 100 + i }, outcome: 'ok', call: 2 + i, ret: 100 });
    const v = checkRun(run({ history: { model: 'etcd', ops: many }, raft: { samples: [], acked: [] } }), { maxSteps: 1 });
    expect(v.linearizability.verdict).toBe('unknown');
    expect(v.ok).toBe(false);
    expect(v.explanations[0]).toMatch(/^linearizability: unknown: search budget exhausted/);
  });
});
