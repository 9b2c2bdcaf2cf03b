// TTL semantics over an etcd-model history, from the clients' point of view.
//
// A write W with `ttl` T (seconds) takes effect at some instant in [W.call, W.ret]; the leader stamps its
// expiry from its own clock, which may be off by up to `clockErrorMs`, and keys are removed by expiry ticks
// proposed every `expiryTickMs`. Hence, for the version of the key W created (identified by its modifiedIndex):
// - expired-read: a quorum get invoked after W.ret + T + expiryTickMs + clockErrorMs never returns that version;
// - early-expiry: a quorum get that returns before W.call + T - clockErrorMs never finds the key gone, when W
//   is the last write before the get in real time and no other mutation of the key overlaps [W.call, get.ret].
//   (A key written without a TTL never vanishes on its own, under the same condition.)
import {
  ETCD_KEY_NOT_FOUND,
  resultOf,
  type CheckResult,
  type EtcdInput,
  type EtcdOutput,
  type Operation,
  type Violation,
} from './history.ts';

export interface TtlOptions {
  /** Interval between the leader's expiry ticks (etcd v2's SYNC), ms. */
  expiryTickMs: number;
  /** Largest difference between a node's clock and true (virtual) time, ms. */
  clockErrorMs: number;
}

type EtcdOp = Operation<EtcdInput, EtcdOutput>;

const MUTATIONS = new Set(['set', 'create', 'update', 'cas', 'delete', 'cad', 'expire']);
const REMOVALS = new Set(['delete', 'cad', 'expire']);

function succeeded(op: EtcdOp): op is EtcdOp & { output: { index: number; value?: string } } {
  return op.outcome === 'ok' && op.output !== null && (op.output as { error?: number }).error === undefined;
}

function ttlMs(op: EtcdOp): number | undefined {
  const ttl = (op.input as { ttl?: number }).ttl;
  return ttl === undefined ? undefined : ttl * 1000;
}

function isQuorumGet(op: EtcdOp): boolean {
  return op.input.f === 'get' && op.input.quorum !== false && op.outcome === 'ok';
}

export function checkTtl(ops: EtcdOp[], options: TtlOptions): CheckResult {
  const violations: Violation[] = [];
  const byKey = new Map<string, EtcdOp[]>();
  for (const op of ops) {
    if (op.outcome === 'fail') continue;
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  let readsJudged = 0;
  for (const [key, keyOps] of byKey) {
    const versions = new Map<number, EtcdOp>();
    for (const op of keyOps) if (MUTATIONS.has(op.input.f) && !REMOVALS.has(op.input.f) && succeeded(op)) versions.set(op.output.index, op);
    // The store's own expirations are what is being judged, not interference.
    const mutations = keyOps.filter((op) => MUTATIONS.has(op.input.f) && op.input.f !== 'expire');
    for (const read of keyOps) {
      if (!isQuorumGet(read) || read.output === null) continue;
      const out = read.output as { error?: number; index?: number };
      if (out.error === undefined) {
        const write = versions.get(out.index!);
        const ttl = write && ttlMs(write);
        if (write === undefined || ttl === undefined) continue;
        readsJudged++;
        const deadline = write.ret + ttl + options.expiryTickMs + options.clockErrorMs;
        if (read.call > deadline) {
          violations.push({
            property: 'expired-read',
            explanation: `key ${JSON.stringify(key)}: get op ${read.id} invoked at ${read.call} ms returned the version written by op ${write.id} (index ${out.index}, ttl ${ttl / 1000} s, completed at ${write.ret} ms), which had to be gone by ${deadline} ms`,
            evidence: [write.id, read.id],
          });
        }
      } else if (out.error === ETCD_KEY_NOT_FOUND) {
        // The last write surely before the read, and nothing else that could have removed or replaced it.
        let last: EtcdOp | undefined;
        for (const m of mutations) if (m.outcome === 'ok' && m.ret < read.call && (!last || m.ret > last.ret)) last = m;
        if (!last || !succeeded(last) || REMOVALS.has(last.input.f)) continue;
        const lastWrite = last;
        const interferes = mutations.some((m) => m !== lastWrite && m.call < read.ret && (m.outcome !== 'ok' || m.ret >= lastWrite.call));
        if (interferes) continue;
        readsJudged++;
        const ttl = ttlMs(lastWrite);
        if (ttl === undefined) {
          violations.push({
            property: 'early-expiry',
            explanation: `key ${JSON.stringify(key)}: get op ${read.id} (${read.call}..${read.ret} ms) found the key gone, but op ${lastWrite.id} wrote it without a TTL at ${lastWrite.call}..${lastWrite.ret} ms and nothing removed it`,
            evidence: [lastWrite.id, read.id],
          });
          continue;
        }
        const earliest = lastWrite.call + ttl - options.clockErrorMs;
        if (read.ret < earliest) {
          violations.push({
            property: 'early-expiry',
            explanation: `key ${JSON.stringify(key)}: get op ${read.id} returned at ${read.ret} ms finding the key gone, but op ${lastWrite.id} (re)wrote it at ${lastWrite.call}..${lastWrite.ret} ms with ttl ${ttl / 1000} s, so it could not expire before ${earliest} ms`,
            evidence: [lastWrite.id, read.id],
          });
        }
      }
    }
  }
  return resultOf('ttl', violations, `${readsJudged} quorum reads judged against TTL deadlines (slack: tick ${options.expiryTickMs} ms + clock error ${options.clockErrorMs} ms)`);
}
