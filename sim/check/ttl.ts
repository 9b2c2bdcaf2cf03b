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
// The store's own expirations (the `expire` operations the simulator adds from the committed history) are
// judged too, so "live keys never vanish early, dead ones always vanish in time" does not depend on a read
// happening to look at the right moment:
// - early-expiry: an expiration never lands before the version it removed could be due. That version is the
//   last definite write W below the expiration's index, or an indeterminate write that landed after W, which
//   its leader proposed after W was invoked; so the expiration completes no earlier than W.call + T - clockErrorMs,
//   T the smallest TTL among W and the indeterminate writes invoked before the expiration completed.
// - late-expiry (when `observedUntilMs` says how long expirations were recorded): a TTL version that nothing
//   else may have replaced before its deadline (same deadline as expired-read) is expired by that deadline.
import {
  ETCD_KEY_NOT_FOUND,
  resultOf,
  type CheckResult,
  type EtcdInput,
  type EtcdOutput,
  type Operation,
  type Violation,
  formatMs,
} from './history.ts';

export interface TtlOptions {
  /** Longest time from a deadline passing on the leader's clock to the expiry tick covering it being applied
   * (tick interval plus commit latency), ms, while a leader is in place. */
  expiryTickMs: number;
  /** Largest difference between two nodes' clock readings at one instant, ms. */
  clockErrorMs: number;
  /** Periods (virtual ms) with no leader able to commit, e.g. from the nemesis schedule. */
  leaderless?: { from: number; to: number }[];
  /** The history holds every expiration the store made up to here (virtual ms); unset: late-expiry is not judged. */
  observedUntilMs?: number;
}

/** When the version W wrote (TTL `ttl` ms) must be gone: expired-read's deadline, leaderless periods included. */
function expiryDeadline(options: TtlOptions, write: EtcdOp, ttl: number, until: number): number {
  const base = write.ret + ttl + options.expiryTickMs + options.clockErrorMs;
  // A leaderless period inside the window widens it, which may take in the next period: iterate to a fixed point.
  let deadline = base;
  for (let i = 0; i <= (options.leaderless?.length ?? 0); i++) {
    const next = base + leaderlessSlack(options, write.ret, Math.min(deadline, until));
    if (next === deadline) break;
    deadline = next;
  }
  return deadline;
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
  let expiriesJudged = 0;
  let versionsJudged = 0;
  for (const [key, keyOps] of byKey) {
    const versions = new Map<number, EtcdOp>();
    for (const op of keyOps) if (MUTATIONS.has(op.input.f) && !REMOVALS.has(op.input.f) && succeeded(op)) versions.set(op.output.index, op);
    // What could have changed the key besides the store's own expirations (which are what is judged): writes
    // that succeeded, sorted by completion, and indeterminate writes, of which only the earliest call matters.
    const changes = keyOps.filter((op) => MUTATIONS.has(op.input.f) && op.input.f !== 'expire' && succeeded(op)).sort((a, b) => a.ret - b.ret);
    let firstUnknownCall = Infinity;
    for (const op of keyOps) if (op.outcome === 'info' && MUTATIONS.has(op.input.f) && op.input.f !== 'expire') firstUnknownCall = Math.min(firstUnknownCall, op.call);
    judgeExpirations(key, keyOps, changes, options, violations, (expirations, versions) => {
      expiriesJudged += expirations;
      versionsJudged += versions;
    });
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
            explanation: `key ${JSON.stringify(key)}: get op ${read.id} invoked at ${formatMs(read.call)} ms returned the version written by op ${write.id} (index ${out.index}, ttl ${ttl / 1000} s, completed at ${formatMs(write.ret)} ms), which had to be gone by ${formatMs(deadline)} ms`,
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
            explanation: `key ${JSON.stringify(key)}: get op ${read.id} (${formatMs(read.call)}..${formatMs(read.ret)} ms) found the key gone, but op ${lastWrite.id} wrote it without a TTL at ${formatMs(lastWrite.call)}..${formatMs(lastWrite.ret)} ms and nothing removed it`,
            evidence: [lastWrite.id, read.id],
          });
          continue;
        }
        const earliest = lastWrite.call + ttl - options.clockErrorMs;
        if (read.ret < earliest) {
          violations.push({
            property: 'early-expiry',
            explanation: `key ${JSON.stringify(key)}: get op ${read.id} returned at ${formatMs(read.ret)} ms finding the key gone, but op ${lastWrite.id} (re)wrote it at ${formatMs(lastWrite.call)}..${formatMs(lastWrite.ret)} ms with ttl ${ttl / 1000} s, so it could not expire before ${formatMs(earliest)} ms`,
            evidence: [lastWrite.id, read.id],
          });
        }
      }
    }
  }
  return resultOf(
    'ttl',
    violations,
    `${readsJudged} quorum reads judged against TTL deadlines, ${expiriesJudged} expirations not early, ${versionsJudged} abandoned versions expired in time (slack: tick ${options.expiryTickMs} ms + clock error ${options.clockErrorMs} ms)`,
  );
}

/** The store's own expirations of one key: none early, and none missing once a version was left to expire. */
function judgeExpirations(key: string, keyOps: EtcdOp[], changes: EtcdOp[], options: TtlOptions, violations: Violation[], count: (expirations: number, versions: number) => void): void {
  const index = (op: EtcdOp): number => (op.output as { index: number }).index;
  const byIndex = [...changes].sort((a, b) => index(a) - index(b));
  const expirations = keyOps.filter((op) => op.input.f === 'expire' && succeeded(op)).sort((a, b) => index(a) - index(b));
  const unknown = keyOps.filter((op) => op.outcome === 'info' && MUTATIONS.has(op.input.f) && op.input.f !== 'expire');
  const firstUnknownCall = unknown.reduce((m, op) => Math.min(m, op.call), Infinity);
  let expirationsJudged = 0;
  let versionsJudged = 0;
  let w = -1;
  for (const ex of expirations) {
    while (w + 1 < byIndex.length && index(byIndex[w + 1]!) < index(ex)) w++;
    const write = byIndex[w];
    if (write === undefined) continue;
    let ttl = REMOVALS.has(write.input.f) ? Infinity : (ttlMs(write) ?? Infinity);
    for (const u of unknown) if (u.call < ex.ret && !REMOVALS.has(u.input.f)) ttl = Math.min(ttl, ttlMs(u) ?? Infinity);
    expirationsJudged++;
    const earliest = write.call + ttl - options.clockErrorMs;
    if (ex.ret < earliest) {
      const why = ttl === Infinity ? 'no version it could have removed had a TTL' : `it could not be due before ${formatMs(earliest)} ms`;
      violations.push({
        property: 'early-expiry',
        explanation: `key ${JSON.stringify(key)}: the store expired it at index ${index(ex)} (${formatMs(ex.call)}..${formatMs(ex.ret)} ms) after op ${write.id} (index ${index(write)}, ${formatMs(write.call)}..${formatMs(write.ret)} ms), but ${why}`,
        evidence: [write.id, ex.id],
      });
    }
  }
  const until = options.observedUntilMs;
  if (until !== undefined) {
    byIndex.forEach((write, k) => {
      const ttl = ttlMs(write);
      if (REMOVALS.has(write.input.f) || ttl === undefined) return;
      const deadline = expiryDeadline(options, write, ttl, until);
      // Judge only a version nothing else may have replaced before its deadline, seen for long enough.
      if (deadline >= until || firstUnknownCall < deadline) return;
      const next = byIndex[k + 1];
      if (next !== undefined && next.call <= deadline) return;
      versionsJudged++;
      const ex = expirations.find((e) => index(e) > index(write) && (next === undefined || index(e) < index(next)));
      if (ex === undefined || ex.ret > deadline) {
        violations.push({
          property: 'late-expiry',
          explanation: `key ${JSON.stringify(key)}: the version op ${write.id} wrote (index ${index(write)}, ttl ${ttl / 1000} s, completed at ${formatMs(write.ret)} ms) was left alone but ${ex === undefined ? 'never expired' : `expired only at ${formatMs(ex.ret)} ms`}; it had to be gone by ${formatMs(deadline)} ms`,
          evidence: ex === undefined ? [write.id] : [write.id, ex.id],
        });
      }
    });
  }
  count(expirationsJudged, versionsJudged);
}
