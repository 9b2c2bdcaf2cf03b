// Acknowledged-write durability, judged from the client history alone (etcd model): a write the client saw
// acknowledged is never lost. Every quorum read invoked after an acknowledged write returned must see that
// write or a later one of the same key, which etcd's indexes make checkable on one read: the read's
// modifiedIndex is at least the write's (at equal indexes, the same value), and a read that finds the key
// missing needs a removal that may have come after the write (an acknowledged delete with a higher index, or
// an indeterminate delete or compare-and-delete).
//
// Linearizability implies all of this; the checker exists because it names the lost write in one sentence, it
// costs one pass however long the history is, and it still decides when the linearizability search runs out of
// budget. Jepsen mode ends every run with a quorum read of each key after healing the cluster, so every
// acknowledged write meets at least one read that must see it. Reads without quorum (served locally, possibly
// stale) are not judged.
import { resultOf, type CheckResult, type EtcdInput, type EtcdOutput, type Operation, type Violation, ETCD_KEY_NOT_FOUND, formatMs } from './history.ts';

type Op = Operation<EtcdInput, EtcdOutput>;

export interface AckedWritesOptions {
  /** Stop after this many violations (default 20). */
  maxViolations?: number;
}

const REMOVALS = new Set<EtcdInput['f']>(['delete', 'cad', 'expire']);

function successIndex(op: Op): number | null {
  if (op.outcome !== 'ok' || op.output === null || 'error' in op.output) return null;
  return op.output.index;
}

function describe(op: Op): string {
  const value = 'value' in op.input ? ` ${JSON.stringify(op.input.value)}` : '';
  return `${op.input.f}${value} (op ${op.id}, index ${successIndex(op)}, acknowledged at ${formatMs(op.ret)} ms)`;
}

/** Every acknowledged write is seen, or superseded, by each quorum read invoked after its acknowledgement. */
export function checkAckedWrites(ops: readonly Op[], options: AckedWritesOptions = {}): CheckResult {
  const maxViolations = options.maxViolations ?? 20;
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const violations: Violation[] = [];
  let acked = 0;
  let judgedReads = 0;
  for (const [key, list] of byKey) {
    const writes = list.filter((op) => op.input.f !== 'get' && successIndex(op) !== null).sort((a, b) => a.ret - b.ret);
    acked += writes.length;
    const reads = list.filter((op) => op.input.f === 'get' && op.input.quorum !== false && op.outcome === 'ok').sort((a, b) => a.call - b.call);
    // Removals that may take effect after a given write: acknowledged ones by index, indeterminate ones by time.
    const ackedRemovals = list.filter((op) => REMOVALS.has(op.input.f) && successIndex(op) !== null).map((op) => successIndex(op)!);
    const pendingRemovals = list.filter((op) => REMOVALS.has(op.input.f) && op.outcome === 'info');
    let latest: Op | null = null;
    let next = 0;
    for (const read of reads) {
      // The acknowledged write with the highest index among those acknowledged before the read began.
      for (; next < writes.length && writes[next]!.ret < read.call; next++) {
        if (latest === null || successIndex(writes[next]!)! > successIndex(latest)!) latest = writes[next]!;
      }
      if (latest === null || read.output === null) continue;
      judgedReads++;
      const index = successIndex(latest)!;
      const removed = REMOVALS.has(latest.input.f);
      const out = read.output;
      let problem: string | null = null;
      if ('error' in out) {
        if (out.error !== ETCD_KEY_NOT_FOUND || removed) continue;
        const explained = ackedRemovals.some((i) => i > index) || pendingRemovals.some((d) => d.call < read.ret);
        if (!explained) problem = 'found the key missing, and no delete could have removed it since';
      } else if (out.index < index) problem = `saw an older version (index ${out.index}${out.value !== undefined ? `, ${JSON.stringify(out.value)}` : ''})`;
      else if (out.index === index && (removed || !('value' in latest.input) || out.value !== latest.input.value)) {
        problem = `saw index ${index} with the value ${JSON.stringify(out.value)}`;
      }
      if (problem === null) continue;
      violations.push({
        property: 'acked-write-lost',
        explanation: `key ${JSON.stringify(key)}: quorum get op ${read.id} invoked at ${formatMs(read.call)} ms ${problem}, after ${describe(latest)}`,
        evidence: [latest.id, read.id],
      });
      if (violations.length >= maxViolations) return resultOf('acked-writes', violations, '');
    }
  }
  return resultOf('acked-writes', violations, `${acked} acknowledged write(s) on ${byKey.size} key(s) seen by the ${judgedReads} quorum read(s) after them`);
}
