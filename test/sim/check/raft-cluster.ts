// Observations of a correct Raft cluster, generated from a random schedule of abstract steps (elect, append,
// replicate, commit, crash-restart), for checking that the Raft safety checker raises no false alarms on
// realistic executions: elections with stale followers, truncated uncommitted suffixes, restarts.
import fc from 'fast-check';
import type { AckedWrite, EntryRef, NodeSample, RaftObservations, Role } from '../../../sim/check/history.ts';

export interface Step {
  kind: number;
  node: number;
  count: number;
}

export const schedules = fc.array(fc.record({ kind: fc.nat(99), node: fc.nat(4), count: fc.integer({ min: 1, max: 3 }) }), { minLength: 30, maxLength: 150, size: 'max' });

interface Node {
  log: EntryRef[];
  term: number;
  commit: number;
  role: Role;
}

function upToDate(a: EntryRef[], b: EntryRef[]): boolean {
  const ta = a.length ? a[a.length - 1]![0] : 0;
  const tb = b.length ? b[b.length - 1]![0] : 0;
  return ta > tb || (ta === tb && a.length >= b.length);
}

export function healthyRun(size: number, steps: Step[]): RaftObservations {
  const nodes: Node[] = Array.from({ length: size }, () => ({ log: [], term: 0, commit: 0, role: 'follower' as Role }));
  const majority = Math.floor(size / 2) + 1;
  const samples: NodeSample[] = [];
  const acked: AckedWrite[] = [];
  let time = 0;
  let leader = -1;
  let match: number[] = [];
  let nextDigest = 0;
  const sample = (id: number, extra: Partial<NodeSample> = {}): void => {
    const n = nodes[id]!;
    samples.push({
      node: id,
      time: ++time,
      role: n.role,
      term: n.term,
      commitIndex: n.commit,
      lastIndex: n.log.length,
      applied: n.commit,
      stateDigest: n.commit > 0 ? `${n.commit}:${n.log[n.commit - 1]![1]}` : undefined,
      persistedCommit: n.commit,
      ...extra,
    });
  };
  for (const step of steps) {
    const id = step.node % size;
    const kind = step.kind;
    if (kind < 8 || leader < 0) {
      // Election: the candidate needs votes from a majority whose logs are no more up to date than its own.
      const voters = nodes.filter((v) => upToDate(nodes[id]!.log, v.log)).length;
      if (voters < majority) continue;
      const term = Math.max(...nodes.map((v) => v.term)) + 1;
      if (leader >= 0) nodes[leader]!.role = 'follower';
      leader = id;
      const n = nodes[id]!;
      n.term = term;
      n.role = 'leader';
      match = nodes.map((_, i) => (i === id ? n.log.length : 0));
      sample(id);
    } else if (kind < 33) {
      const n = nodes[leader]!;
      const from = n.log.length + 1;
      const entries: EntryRef[] = [];
      for (let k = 0; k < step.count; k++) entries.push([n.term, `d${nextDigest++}`]);
      n.log.push(...entries);
      match[leader] = n.log.length;
      sample(leader, { log: { from, entries } });
    } else if (kind < 73) {
      if (id === leader) continue;
      const l = nodes[leader]!;
      const f = nodes[id]!;
      if (f.term > l.term) continue;
      f.term = l.term;
      f.role = 'follower';
      let d = 1;
      while (d <= l.log.length && d <= f.log.length && f.log[d - 1]![0] === l.log[d - 1]![0] && f.log[d - 1]![1] === l.log[d - 1]![1]) d++;
      let delta: NodeSample['log'];
      if (d <= l.log.length) {
        f.log = l.log.slice();
        delta = { from: d, entries: l.log.slice(d - 1) };
      }
      match[id] = l.log.length;
      f.commit = Math.max(f.commit, Math.min(l.commit, l.log.length));
      sample(id, delta ? { log: delta } : {});
    } else if (kind < 93) {
      // Commit the highest index of the current term held by a majority.
      const l = nodes[leader]!;
      const sorted = [...match].sort((a, b) => b - a);
      const candidate = sorted[majority - 1]!;
      if (candidate <= l.commit || l.log[candidate - 1]![0] !== l.term) continue;
      for (let i = l.commit + 1; i <= candidate; i++) {
        if (i % 2 === 0) acked.push({ op: i, time: time + 1, raftIndex: i, raftTerm: l.log[i - 1]![0], digest: l.log[i - 1]![1] });
      }
      l.commit = candidate;
      sample(leader);
    } else {
      // Crash and restart: the log and commit index are durable here; the node comes back a follower.
      const n = nodes[id]!;
      sample(id, { event: 'crash' });
      n.role = 'follower';
      if (id === leader) leader = -1;
      sample(id, { event: 'restart' });
    }
  }
  return { samples, acked };
}
