// Raft's safety properties, checked over per-node samples (history.ts: NodeSample) in one pass:
// - election-safety: at most one leader per term.
// - log-matching: two entries with the same index and term carry the same command and the same log before them
//   (checked with a hash chain over each node's log, so a whole prefix compares in O(1)).
// - leader-completeness: a node that becomes leader of term T holds every entry committed so far.
// - state-machine-safety: no two nodes commit different entries at one index; equal applied indexes have equal
//   state digests; nothing is applied beyond the commit index.
// - committed-entry-kept: a node never overwrites or drops an entry at or below its own commit index (within
//   one incarnation).
// - commit-monotonic / term-monotonic: per node within an incarnation; after a restart the commit index is
//   never below what was durable.
// - acked-write-durable: every acknowledged write is the committed entry at its index, and at the end a majority
//   of nodes still hold it.
// - current-term-commit: a leader moves its commit index only onto an entry of its own term (§5.4.2: an
//   earlier term's entry commits only indirectly, under a current-term entry after it). Breaking the rule is
//   Figure 8's bug; it loses data only when a later leader overwrites the entry, which takes a rare schedule,
//   so the rule is checked where it is broken.
import { hashString, mixHash } from './model.ts';
import { resultOf, type CheckResult, type EntryRef, type NodeSample, type RaftObservations, type Violation, formatMs } from './history.ts';

interface NodeView {
  /** log[i - 1] is entry i; undefined where unknown (compacted away or never observed). */
  log: (EntryRef | undefined)[];
  /** chain[i - 1]: hash of entries 1..i; NaN where a gap makes it unknown. */
  chain: number[];
  commit: number;
  term: number;
  /** Role and term of the node's previous sample in this incarnation. */
  role: string;
  roleTerm: number;
  /** Highest persisted commit index reported: the floor after any restart. */
  durableCommit: number;
  leaderTerms: Set<number>;
  /** Entries 1..verified were found equal to the committed ones (or unknown) and have not changed since. */
  verified: number;
}

interface Committed {
  term: number;
  digest: string;
  node: number;
  time: number;
}

function describeEntry(index: number, e: EntryRef | undefined): string {
  return e === undefined ? `nothing at index ${index}` : `(index ${index}, term ${e[0]}, ${JSON.stringify(e[1])})`;
}

function sameEntry(a: EntryRef | undefined, b: { term: number; digest: string } | EntryRef): boolean {
  if (a === undefined) return false;
  return Array.isArray(b) ? a[0] === b[0] && a[1] === b[1] : a[0] === b.term && a[1] === b.digest;
}

export interface RaftSafetyOptions {
  /** Stop collecting after this many violations (the first ones are the interesting ones). */
  maxViolations?: number;
}

export function checkRaftSafety(observations: RaftObservations, options: RaftSafetyOptions = {}): CheckResult {
  const maxViolations = options.maxViolations ?? 50;
  const violations: Violation[] = [];
  const report = (property: string, explanation: string, evidence?: number[]): void => {
    if (violations.length < maxViolations) violations.push(evidence ? { property, explanation, evidence } : { property, explanation });
  };
  const nodes = new Map<number, NodeView>();
  const leaderOfTerm = new Map<number, { node: number; time: number }>();
  const committed = new Map<number, Committed>();
  let maxCommitted = 0;
  /** (index, term) -> chain hash and digest of the first node seen holding it. */
  const seenEntries = new Map<string, { chain: number; digest: string; node: number; time: number }>();
  const appliedDigests = new Map<number, { digest: string; node: number; time: number }>();

  const view = (s: NodeSample): NodeView => {
    let v = nodes.get(s.node);
    if (!v) {
      v = { log: [], chain: [], commit: 0, term: 0, role: 'follower', roleTerm: 0, durableCommit: 0, leaderTerms: new Set(), verified: 0 };
      nodes.set(s.node, v);
    }
    return v;
  };

  observations.samples.forEach((s, position) => {
    const v = view(s);
    const at = `node ${s.node} at ${formatMs(s.time)} ms`;
    if (s.event === 'restart') {
      if (s.commitIndex < v.durableCommit) {
        report('commit-monotonic', `${at} restarted with commit index ${s.commitIndex}, below the ${v.durableCommit} it had persisted`, [position]);
      }
      v.commit = Math.min(v.commit, s.commitIndex);
      // A term seen in memory may not have been synced before the crash; persist-before-send is the disk's
      // and the network's business, so the term is only compared within an incarnation.
      v.term = s.term;
    } else if (s.commitIndex < v.commit) {
      report('commit-monotonic', `${at}: commit index went back from ${v.commit} to ${s.commitIndex} without a restart`, [position]);
    }
    if (s.term < v.term) report('term-monotonic', `${at}: term went back from ${v.term} to ${s.term} without a restart`, [position]);

    // A snapshot replaces the prefix wholesale: what the node held there is unknown from now on (a stale entry
    // it had is gone, not committed). Its last entry must be the committed one.
    if (s.snapshot) {
      const { index, term } = s.snapshot;
      const c = committed.get(index);
      if (c && c.term !== term) {
        report('state-machine-safety', `${at} installed a snapshot ending at (index ${index}, term ${term}) but index ${index} was committed in term ${c.term}`, [position]);
      }
      for (let i = 0; i < index; i++) {
        if (i < v.log.length) {
          v.log[i] = undefined;
          v.chain[i] = NaN;
        } else {
          v.log.push(undefined);
          v.chain.push(NaN);
        }
      }
      for (let i = index; i < v.chain.length; i++) v.chain[i] = NaN;
    }

    // Apply the log delta, checking that nothing at or below this incarnation's commit index changes.
    if (s.log) {
      const { from, entries } = s.log;
      for (let i = from; i <= Math.min(v.commit, v.log.length); i++) {
        const before = v.log[i - 1];
        const after = entries[i - from];
        if (before !== undefined && (after === undefined || !sameEntry(before, after))) {
          report(
            'committed-entry-kept',
            `${at} replaced its committed entry ${describeEntry(i, before)} with ${describeEntry(i, after)} (its commit index was ${v.commit})`,
            [position],
          );
          break;
        }
      }
      v.verified = Math.min(v.verified, from - 1);
      v.log.length = Math.max(from - 1, 0);
      v.chain.length = v.log.length;
      while (v.log.length < from - 1) {
        v.log.push(undefined);
        v.chain.push(NaN);
      }
      for (let k = 0; k < entries.length; k++) {
        const index = from + k;
        const entry = entries[k]!;
        const previous = index >= 2 ? v.chain[index - 2]! : 0;
        const chain = Number.isNaN(previous) ? NaN : mixHash(mixHash(previous, entry[0]), hashString(entry[1]));
        v.log.push(entry);
        v.chain.push(chain);
        const id = `${index}:${entry[0]}`;
        const seen = seenEntries.get(id);
        if (!seen) {
          seenEntries.set(id, { chain, digest: entry[1], node: s.node, time: s.time });
        } else if (seen.digest !== entry[1]) {
          report(
            'log-matching',
            `index ${index} term ${entry[0]} holds ${JSON.stringify(entry[1])} on ${at} but ${JSON.stringify(seen.digest)} on node ${seen.node} at ${formatMs(seen.time)} ms`,
            [position],
          );
        } else if (!Number.isNaN(seen.chain) && !Number.isNaN(chain) && seen.chain !== chain) {
          report('log-matching', `${at} and node ${seen.node} agree on index ${index} term ${entry[0]} but their logs before it differ`, [position]);
        } else if (Number.isNaN(seen.chain)) {
          seen.chain = chain;
        }
      }
    }
    if (s.lastIndex !== v.log.length && (s.log || v.log.length > 0)) {
      report('observation', `${at} reports last index ${s.lastIndex} but its recorded log has ${v.log.length} entries`, [position]);
    }

    // Election safety and leader completeness (at the first sample of each leadership).
    if (s.role === 'leader') {
      const other = leaderOfTerm.get(s.term);
      if (other && other.node !== s.node) {
        report('election-safety', `term ${s.term} has two leaders: node ${other.node} (at ${formatMs(other.time)} ms) and node ${s.node} (at ${formatMs(s.time)} ms)`, [position]);
      } else if (!other) leaderOfTerm.set(s.term, { node: s.node, time: s.time });
      if (!v.leaderTerms.has(s.term)) {
        v.leaderTerms.add(s.term);
        // Only the part of the log not verified at an earlier leadership is compared, so a run with many
        // elections stays linear in the log length.
        for (let index = v.verified + 1; index <= maxCommitted; index++) {
          const c = committed.get(index);
          // A hole (an index committed only by nodes that no longer knew the entry) may be filled later.
          if (c === undefined) break;
          const mine = v.log[index - 1];
          const unknown = index <= v.log.length && mine === undefined;
          if (!unknown && !sameEntry(mine, c)) {
            if (c.term < s.term) {
              report(
                'leader-completeness',
                `node ${s.node} leads term ${s.term} at ${formatMs(s.time)} ms without the entry (index ${index}, term ${c.term}) committed by node ${c.node} at ${formatMs(c.time)} ms; it has ${describeEntry(index, mine)}`,
                [position],
              );
            }
            break;
          }
          v.verified = index;
        }
      }
    }

    // A leader that stays leader of one term commits by counting, and only entries of that term.
    if (s.role === 'leader' && v.role === 'leader' && v.roleTerm === s.term && s.event === undefined && s.commitIndex > v.commit) {
      const entry = v.log[s.commitIndex - 1];
      if (entry !== undefined && entry[0] !== s.term) {
        report(
          'current-term-commit',
          `${at}, leader of term ${s.term}, moved its commit index from ${v.commit} to ${s.commitIndex}, an entry of term ${entry[0]}: a leader commits only entries of its own term by counting (§5.4.2, Figure 8)`,
          [position],
        );
      }
    }

    // Commitment: every newly committed index must agree with what any node committed there before.
    if (s.commitIndex > s.lastIndex) report('state-machine-safety', `${at} commits up to ${s.commitIndex} beyond its last index ${s.lastIndex}`, [position]);
    for (let i = Math.max(v.commit, 0) + 1; i <= Math.min(s.commitIndex, v.log.length); i++) {
      const entry = v.log[i - 1];
      if (entry === undefined) continue;
      const c = committed.get(i);
      if (!c) {
        committed.set(i, { term: entry[0], digest: entry[1], node: s.node, time: s.time });
        if (i > maxCommitted) maxCommitted = i;
      } else if (!sameEntry(entry, c)) {
        report(
          'state-machine-safety',
          `index ${i} committed as ${describeEntry(i, entry)} on ${at} but as (term ${c.term}, ${JSON.stringify(c.digest)}) on node ${c.node} at ${formatMs(c.time)} ms`,
          [position],
        );
      }
    }
    if (s.applied > s.commitIndex) report('state-machine-safety', `${at} applied up to ${s.applied}, beyond its commit index ${s.commitIndex}`, [position]);
    if (s.stateDigest !== undefined && s.applied > 0) {
      const known = appliedDigests.get(s.applied);
      if (!known) appliedDigests.set(s.applied, { digest: s.stateDigest, node: s.node, time: s.time });
      else if (known.digest !== s.stateDigest) {
        report(
          'state-machine-safety',
          `after applying index ${s.applied} ${at} has state ${JSON.stringify(s.stateDigest)} but node ${known.node} had ${JSON.stringify(known.digest)} at ${formatMs(known.time)} ms`,
          [position],
        );
      }
    }

    v.commit = s.commitIndex;
    v.term = Math.max(v.term, s.term);
    v.role = s.event === 'crash' ? 'follower' : s.role;
    v.roleTerm = s.term;
    if (s.persistedCommit !== undefined) v.durableCommit = Math.max(v.durableCommit, s.persistedCommit);
  });

  // Acknowledged writes: committed where the client was told, and still on a majority at the end.
  const majority = Math.floor(nodes.size / 2) + 1;
  for (const w of observations.acked) {
    const c = committed.get(w.raftIndex);
    const what = `write op ${w.op} acknowledged at ${formatMs(w.time)} ms as (index ${w.raftIndex}, term ${w.raftTerm}, ${JSON.stringify(w.digest)})`;
    if (c && (c.term !== w.raftTerm || c.digest !== w.digest)) {
      report('acked-write-durable', `${what} was lost: index ${w.raftIndex} was committed as (term ${c.term}, ${JSON.stringify(c.digest)}) by node ${c.node} at ${formatMs(c.time)} ms`, [w.op]);
      continue;
    }
    let holders = 0;
    const missing: number[] = [];
    for (const [node, v] of nodes) {
      const e = v.log[w.raftIndex - 1];
      if ((w.raftIndex <= v.log.length && e === undefined) || sameEntry(e, [w.raftTerm, w.digest])) holders++;
      else missing.push(node);
    }
    if (holders < majority) {
      report('acked-write-durable', `${what} is held by only ${holders} of ${nodes.size} nodes at the end (missing on nodes ${missing.join(', ')})`, [w.op]);
    }
  }

  return resultOf(
    'raft-safety',
    violations,
    `${observations.samples.length} samples over ${nodes.size} nodes, ${leaderOfTerm.size} terms with a leader, ${maxCommitted} entries committed, ${observations.acked.length} acknowledged writes kept`,
  );
}
