// TTL semantics over an etcd-model history, from the clients' point of view.
//
// A write W with `ttl` T (seconds) takes effect at some instant in [W.call, W.ret]. The leader stamps the key's
// deadline from its clock, and a later leader's expiry tick (etcd v2's SYNC, proposed every `expiryTickMs`
// and carrying the proposer's clock) removes keys whose deadline it has passed. Clocks of any two nodes differ
// by at most `clockErrorMs`. Hence, for the version of the key W created (identified by its modifiedIndex):
// - expired-read: a quorum get invoked after W.ret + T + expiryTickMs + clockErrorMs, plus for every leaderless
//   period overlapping [W.ret, get.call] its length and one more tick (a new leader's first tick), never
//   returns that version. `expiryTickMs` must cover the tick interval and the time to commit a tick.
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
  /** Longest time from a deadline passing on the leader's clock to the expiry tick covering it being applied
   * (tick interval plus commit latency), ms, while a leader is in place. */
  expiryTickMs: number;
  /** Largest difference between two nodes' clock readings at one instant, ms. */
  clockErrorMs: number;
  /** Periods (virtual ms) with no leader able to commit, e.g. from the nemesis schedule. */
  leaderless?: { from: number; to: number }[];
}

/** Extra time the leaderless periods between `from` and `to` give a deadline. */
function leaderlessSlack(options: TtlOptions, from: number, to: number): number {
  let slack = 0;
  for (const p of options.leaderless ?? []) {
    const overlap = Math.min(p.to, to) - Math.max(p.from, from);
    if (overlap >= 0) slack += overlap + options.expiryTickMs;
  }
  return slack;
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
    // What could have changed the key besides the store's own expirations (which are what is judged): writes
    // that succeeded, sorted by completion, and indeterminate writes, of which only the earliest call matters.
    const changes = keyOps.filter((op) => MUTATIONS.has(op.input.f) && op.input.f !== 'expire' && succeeded(op)).sort((a, b) => a.ret - b.ret);
    let firstUnknownCall = Infinity;
    for (const op of keyOps) if (op.outcome === 'info' && MUTATIONS.has(op.input.f) && op.input.f !== 'expire') firstUnknownCall = Math.min(firstUnknownCall, op.call);
    const laterMinCall = new Float64Array(changes.length + 1).fill(Infinity);
    for (let i = changes.length - 1; i >= 0; i--) laterMinCall[i] = Math.min(laterMinCall[i + 1]!, changes[i]!.call);
    const firstRetAtLeast = (t: number): number => {
      let lo = 0;
      let hi = changes.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (changes[mid]!.ret < t) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    for (const read of keyOps) {
      if (!isQuorumGet(read) || read.output === null) continue;
      const out = read.output as { error?: number; index?: number };
      if (out.error === undefined) {
        const write = versions.get(out.index!);
        const ttl = write && ttlMs(write);
        if (write === undefined || ttl === undefined) continue;
        readsJudged++;
        const deadline = write.ret + ttl + options.expiryTickMs + options.clockErrorMs + leaderlessSlack(options, write.ret, read.call);
        if (read.call > deadline) {
          violations.push({
            property: 'expired-read',
            explanation: `key ${JSON.stringify(key)}: get op ${read.id} invoked at ${read.call} ms returned the version written by op ${write.id} (index ${out.index}, ttl ${ttl / 1000} s, completed at ${write.ret} ms), which had to be gone by ${deadline} ms`,
            evidence: [write.id, read.id],
          });
        }
      } else if (out.error === ETCD_KEY_NOT_FOUND) {
        // The last change surely before the read must be a write, and nothing else may overlap it or the read:
        // no indeterminate change invoked before the read returned, no other change completing after the write
        // began, none invoked before the read returned and completing after it began.
        const j = firstRetAtLeast(read.call) - 1;
        if (j < 0 || firstUnknownCall < read.ret) continue;
        const lastWrite = changes[j]!;
        if (REMOVALS.has(lastWrite.input.f)) continue;
        if (firstRetAtLeast(lastWrite.call) < j || laterMinCall[j + 1]! < read.ret) continue;
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
