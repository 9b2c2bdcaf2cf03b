// Linearizability: Wing & Gong's search with Lowe's memoization, one key at a time (P-compositionality).
//
// The history becomes a time-ordered doubly linked list of call and return entries. The search walks it from
// the head: at a call it tries to linearize that operation now (the model must accept its output from the
// current state); at a return of an operation not yet linearized it backtracks, because that operation had to
// take effect before it returned. Linearizing lifts the operation's entries out of the list, so the walk
// restarts from the head with the remaining ones. A set of visited (linearized set, model state) pairs cuts
// every branch that reaches a configuration already explored.
//
// Indeterminate (`info`) operations have a call entry and no return entry: they may be linearized at any point
// after their invocation or skipped forever, and they never block completion. The search succeeds when the
// walk runs off the end of the list, which happens exactly when every definite operation is linearized.
import type { History, Operation } from './history.ts';
import type { Model } from './model.ts';
import { etcdModel } from './models/etcd.ts';
import { kvModel } from './models/kv.ts';
import { registerModel } from './models/register.ts';
import { VisitedSet } from './visited.ts';
import { formatMs } from './history.ts';

export type Verdict = 'linearizable' | 'non-linearizable' | 'unknown';

export interface LinearizabilityOptions {
  /** Wall-clock budget for the whole check; past it the verdict is `unknown` (never a hang). */
  timeoutMs?: number;
  /** Deterministic budget: search steps over all keys. */
  maxSteps?: number;
  /** Memory budget: configurations remembered per key (default 4,000,000, roughly 400 MB). */
  maxVisited?: number;
  /** Stop at the first key that is not linearizable (default true; false explains every failing key). */
  stopAtFirstFailure?: boolean;
  /** Shrink a failure to its essential reads (default true; false gives the verdict and the longest prefix only). */
  minimize?: boolean;
}

/** Why one key's history cannot be linearized, in terms a report can draw. */
export interface FailureEvidence {
  key: string;
  /** The longest linearizable prefix the search found: operation ids in linearization order. */
  linearized: number[];
  /** Model state (described) after each operation of `linearized`; `initialState` before the first. */
  states: string[];
  initialState: string;
  /** The operation that could not be placed: every order reaching it needs it to take effect, and none can. */
  blocked: number;
  /**
   * The failing window: from the invocation of the earliest essential read (or, without those, of the earliest
   * operation the longest prefix leaves unexplained), widened to the last write completed before it, to the
   * return of `blocked`.
   */
  windowStart: number;
  windowEnd: number;
  /** Ids of the operations overlapping the window (reads: only the essential ones, when known). */
  window: number[];
  /**
   * A proof in small: these reads, with the key's writes up to `windowEnd`, already admit no order (found by
   * dropping every read that is not needed; absent if the shrinking budget ran out).
   */
  essentialReads?: number[];
}

export interface PartitionResult {
  key: string;
  verdict: Verdict;
  /** Operations the search considered (after dropping `fail`s and unknown reads). */
  ops: number;
  steps: number;
  failure?: FailureEvidence;
}

export interface LinearizabilityResult {
  verdict: Verdict;
  /** The keys checked, in order: every key, unless the check stopped at the first failure. */
  partitions: PartitionResult[];
  steps: number;
  /** One line naming the evidence. */
  explanation: string;
}

const NO_ENTRY = -1;

// Per-operation random keys for incremental (Zobrist) hashing of the linearized set; a fixed seed keeps runs
// reproducible.
function zobristKeys(count: number, seed: number): Int32Array {
  const keys = new Int32Array(count);
  let x = seed | 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    keys[i] = x;
  }
  return keys;
}

interface SearchBudget {
  deadline: number;
  stepsLeft: number;
  maxVisited: number;
  minimize?: boolean;
}

interface SearchOutcome {
  verdict: Verdict;
  steps: number;
  bestLinearized?: number[];
  blocked?: number;
}

/**
 * Searches one partition. `ops` are already filtered: `fail`s and unknown read-only operations removed.
 * Bit ids: definite operations first (by invocation), then indeterminate ones, so that the part of the
 * linearized set worth storing in the cache stays a short window.
 */
function search<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], budget: SearchBudget): SearchOutcome {
  const definite = ops.filter((op) => op.outcome === 'ok').sort((a, b) => a.call - b.call || a.id - b.id);
  const unknown = ops.filter((op) => op.outcome !== 'ok').sort((a, b) => a.call - b.call || a.id - b.id);
  const ordered = [...definite, ...unknown];
  const n = ordered.length;
  const nDefinite = definite.length;
  const inputs = ordered.map((op) => op.input);
  const outputs = ordered.map((op) => (op.outcome === 'ok' ? op.output : null));

  // Entries: a call for every operation, a return for every definite one. Calls sort before returns at equal
  // times, so touching intervals count as concurrent (the weaker, never falsely failing, reading).
  const entryCount = n + nDefinite;
  const entryTime = new Float64Array(entryCount);
  const entryOpTmp = new Int32Array(entryCount);
  const entryCallTmp = new Uint8Array(entryCount);
  for (let i = 0; i < n; i++) {
    entryTime[i] = ordered[i]!.call;
    entryOpTmp[i] = i;
    entryCallTmp[i] = 1;
  }
  for (let i = 0; i < nDefinite; i++) {
    entryTime[n + i] = ordered[i]!.ret;
    entryOpTmp[n + i] = i;
    entryCallTmp[n + i] = 0;
  }
  const sortedEntries = Array.from({ length: entryCount }, (_, i) => i).sort(
    (a, b) => entryTime[a]! - entryTime[b]! || entryCallTmp[b]! - entryCallTmp[a]! || entryOpTmp[a]! - entryOpTmp[b]!,
  );
  const entryOp = new Int32Array(entryCount);
  const entryIsCall = new Uint8Array(entryCount);
  const callEntry = new Int32Array(n);
  const returnEntry = new Int32Array(n).fill(NO_ENTRY);
  sortedEntries.forEach((original, position) => {
    const op = entryOpTmp[original]!;
    entryOp[position] = op;
    entryIsCall[position] = entryCallTmp[original]!;
    if (entryCallTmp[original]) callEntry[op] = position;
    else returnEntry[op] = position;
  });
  const head = entryCount;
  const next = new Int32Array(entryCount + 1);
  const prev = new Int32Array(entryCount + 1);
  for (let e = 0; e < entryCount; e++) {
    next[e] = e + 1 < entryCount ? e + 1 : NO_ENTRY;
    prev[e] = e === 0 ? head : e - 1;
  }
  next[head] = entryCount > 0 ? 0 : NO_ENTRY;

  const unlink = (e: number): void => {
    next[prev[e]!] = next[e]!;
    if (next[e] !== NO_ENTRY) prev[next[e]!] = prev[e]!;
  };
  const relink = (e: number): void => {
    next[prev[e]!] = e;
    if (next[e] !== NO_ENTRY) prev[next[e]!] = e;
  };

  // Ordering evidence (model.rank): an operation may go only once every operation of smaller rank has.
  // Only state-changing operations are waited for: a write never waits for a read, so when a read is stale the
  // blame lands on the read.
  const ranks = ordered.map((op, i) => (i < nDefinite && model.rank ? model.rank(op.input, op.output) : undefined));
  const ranked = ranks.flatMap((r, i) => (r === undefined || model.readOnly(inputs[i]!) ? [] : [i])).sort((a, b) => ranks[a]! - ranks[b]!);
  const rankedBefore = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = ranks[i];
    if (r === undefined) continue;
    let lo = 0;
    let hi = ranked.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ranks[ranked[mid]!]! < r) lo = mid + 1;
      else hi = mid;
    }
    rankedBefore[i] = lo;
  }
  let rankedDone = 0;

  // The linearized set: definite bits in words [0, defWords), indeterminate bits after. `lowWord` is the first
  // definite word not yet full and `highWord` the last non-zero definite word, so a cache entry stores only the
  // words in between plus the indeterminate words.
  const defWords = (nDefinite + 31) >>> 5;
  const infoWords = (n - nDefinite + 31) >>> 5;
  const bits = new Uint32Array(defWords + infoWords);
  const fullMask = new Uint32Array(defWords).fill(0xffffffff);
  if (nDefinite % 32 !== 0) fullMask[defWords - 1] = (2 ** (nDefinite % 32) - 1) >>> 0;
  const wordOf = new Int32Array(n);
  const maskOf = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const bit = i < nDefinite ? i : 32 * defWords + (i - nDefinite);
    wordOf[i] = bit >>> 5;
    maskOf[i] = (1 << (bit & 31)) >>> 0;
  }
  let lowWord = 0;
  let highWord = -1;
  const zobrist1 = zobristKeys(n, 0x2545f491);
  const zobrist2 = zobristKeys(n, 0x6c8e9cf5);
  let hash1 = 0;
  let hash2 = 0;

  const setBit = (op: number): void => {
    const w = wordOf[op]!;
    bits[w] = (bits[w]! | maskOf[op]!) >>> 0;
    if (w < defWords) {
      hash1 ^= zobrist1[op]!;
      hash2 ^= zobrist2[op]!;
      if (w > highWord) highWord = w;
      while (lowWord < defWords && bits[lowWord] === fullMask[lowWord]) lowWord++;
    }
  };
  const clearBit = (op: number): void => {
    const w = wordOf[op]!;
    bits[w] = (bits[w]! & ~maskOf[op]!) >>> 0;
    if (w < defWords) {
      hash1 ^= zobrist1[op]!;
      hash2 ^= zobrist2[op]!;
      if (w < lowWord) lowWord = w;
      while (highWord >= 0 && bits[highWord] === 0) highWord--;
    }
  };

  // The visited set, struct-of-arrays with open addressing: V8 allocates nothing per entry but the state.
  const visited = new VisitedSet<S>(model.equal, defWords, infoWords);
  /** Adds the current (linearized set, state); false if it was already explored. */
  const remember = (state: S): boolean => visited.add(hash1, hash2, model.hash(state) | 0, state, bits, lowWord, highWord >= lowWord ? highWord - lowWord + 1 : 0);

  const stackOp = new Int32Array(n);
  const stackState: S[] = new Array(n);
  const stackRankedDone = new Int32Array(n);
  let depth = 0;
  let state = model.init();
  let entry = next[head]!;
  let steps = 0;
  // The longest prefix is kept incrementally: the stack below `unchangedBelow` has not moved since the last copy,
  // so an improvement copies only what changed (copying whole stacks made long histories quadratic).
  let bestEntry = -1;
  const bestStack = new Int32Array(n);
  let bestDepth = 0;
  let unchangedBelow = 0;

  // A read-only operation that the current state explains is linearized at once and never reconsidered at this
  // point: any successful order that places it later stays valid with it moved here (it changes no state, and
  // everything that had to precede it already has). So when such a "forced" step fails, its parent fails too.
  const stackForced = new Uint8Array(n);
  const readOnly = new Uint8Array(n);
  for (let i = 0; i < n; i++) readOnly[i] = model.readOnly(inputs[i]!) ? 1 : 0;
  let failed = false;

  for (;;) {
    if (!failed) {
      if (entry === NO_ENTRY) break;
      if ((++steps & 0x3fff) === 0 && (steps >= budget.stepsLeft || visited.size > budget.maxVisited || performance.now() > budget.deadline)) {
        budget.stepsLeft -= steps;
        return { verdict: 'unknown', steps };
      }
      const op = entryOp[entry]!;
      if (entryIsCall[entry]) {
        if (rankedBefore[op]! <= rankedDone || ranks[op] === undefined) {
          const after = model.step(state, inputs[op]!, outputs[op]!);
          if (after !== undefined) {
            const forced = readOnly[op] === 1 && model.equal(after, state);
            setBit(op);
            if (remember(after)) {
              stackOp[depth] = op;
              stackState[depth] = state;
              stackRankedDone[depth] = rankedDone;
              stackForced[depth] = forced ? 1 : 0;
              depth++;
              state = after;
              unlink(callEntry[op]!);
              if (returnEntry[op] !== NO_ENTRY) unlink(returnEntry[op]!);
              if (ranks[op] !== undefined) {
                while (rankedDone < ranked.length && (bits[wordOf[ranked[rankedDone]!]!]! & maskOf[ranked[rankedDone]!]!) !== 0) {
                  rankedDone++;
                }
              }
              entry = next[head]!;
              continue;
            }
            clearBit(op);
            // Already explored, and it failed (a success would have ended the search).
            if (forced) failed = true;
          }
        }
        if (!failed) entry = next[entry]!;
        continue;
      }
      // A return of an operation not linearized: every order from here has failed.
      if (entry > bestEntry) {
        bestEntry = entry;
        bestStack.set(stackOp.subarray(unchangedBelow, depth), unchangedBelow);
        bestDepth = depth;
        unchangedBelow = depth;
      }
      failed = true;
    }
    if (depth === 0) {
      budget.stepsLeft -= steps;
      const bestLinearized = Array.from(bestStack.subarray(0, bestDepth), (i) => ordered[i]!.id);
      return { verdict: 'non-linearizable', steps, bestLinearized, blocked: ordered[entryOp[bestEntry]!]!.id };
    }
    depth--;
    if (depth < unchangedBelow) unchangedBelow = depth;
    const undone = stackOp[depth]!;
    state = stackState[depth]!;
    rankedDone = stackRankedDone[depth]!;
    clearBit(undone);
    if (returnEntry[undone] !== NO_ENTRY) relink(returnEntry[undone]!);
    relink(callEntry[undone]!);
    if (stackForced[depth]) continue;
    failed = false;
    entry = next[callEntry[undone]!]!;
  }
  budget.stepsLeft -= steps;
  return { verdict: 'linearizable', steps };
}

/** Budget for shrinking a failure to its essential reads: it only sharpens the explanation. */
const MINIMIZE_STEPS = 2_000_000;
const MINIMIZE_TRIAL_STEPS = 100_000;
const MINIMIZE_MS = 2_000;

/**
 * The reads a failure needs. The key's history is cut at `end` (operations still running then become
 * indeterminate, which only weakens it), then reads are dropped, in halves then singly, while what remains is
 * still provably not linearizable. Dropping reads and weakening operations only removes constraints, so the
 * result is proof on its own: these reads and the key's writes up to `end` admit no order. It is as small as
 * the budget allowed (a trial that runs out keeps its reads). Undefined if the cut history is not proven
 * non-linearizable within the budget.
 */
function essentialReads<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], end: number, outer: SearchBudget): number[] | undefined {
  const budget: SearchBudget = {
    deadline: Math.min(outer.deadline, performance.now() + MINIMIZE_MS),
    stepsLeft: Math.min(outer.stepsLeft, MINIMIZE_STEPS),
    maxVisited: outer.maxVisited,
  };
  const cut: Operation<I, O>[] = [];
  for (const op of ops) {
    if (op.call > end) continue;
    if (op.outcome === 'ok' && op.ret > end) {
      if (!model.readOnly(op.input)) cut.push({ ...op, outcome: 'info', output: null });
    } else cut.push(op);
  }
  // A trial that needs more than its share is treated as linearizable: the read it would drop is kept.
  const fails = (subset: Operation<I, O>[], share: number): boolean => {
    const trial: SearchBudget = { ...budget, stepsLeft: Math.min(budget.stepsLeft, share) };
    const verdict = search(model, subset, trial).verdict;
    budget.stepsLeft -= Math.min(budget.stepsLeft, share) - trial.stepsLeft;
    return verdict === 'non-linearizable';
  };
  if (!fails(cut, MINIMIZE_STEPS)) return undefined;
  let reads = cut.filter((op) => op.outcome === 'ok' && model.readOnly(op.input)).map((op) => op.id);
  const others = cut.filter((op) => !(op.outcome === 'ok' && model.readOnly(op.input)));
  const byId = new Map(cut.map((op) => [op.id, op]));
  const withReads = (ids: number[]) => {
    const keep = new Set(ids);
    return [...others, ...reads.filter((id) => keep.has(id)).map((id) => byId.get(id)!)];
  };
  for (let chunk = Math.max(1, reads.length >> 1); ; chunk = Math.max(1, chunk >> 1)) {
    for (let startAt = 0; startAt < reads.length; ) {
      if (budget.stepsLeft <= 0 || performance.now() > budget.deadline) return reads;
      const trial = [...reads.slice(0, startAt), ...reads.slice(startAt + chunk)];
      if (fails(withReads(trial), MINIMIZE_TRIAL_STEPS)) reads = trial;
      else startAt += chunk;
    }
    if (chunk === 1) break;
  }
  return reads;
}

function evidence<S, I, O>(model: Model<S, I, O>, key: string, ops: Operation<I, O>[], outcome: SearchOutcome, budget: SearchBudget): FailureEvidence {
  const byId = new Map(ops.map((op) => [op.id, op]));
  const linearized = outcome.bestLinearized ?? [];
  const states: string[] = [];
  let state = model.init();
  for (const id of linearized) {
    const op = byId.get(id)!;
    state = model.step(state, op.input, op.outcome === 'ok' ? op.output : null) ?? state;
    states.push(model.describeState(state));
  }
  const blocked = byId.get(outcome.blocked!)!;
  const done = new Set(linearized);
  const windowEnd = blocked.ret;
  const essential = budget.minimize ? essentialReads(model, ops, windowEnd, budget) : undefined;
  let windowStart = blocked.call;
  if (essential && essential.length > 0) {
    // The window spans the essential reads, and the writes they could have seen.
    for (const id of essential) windowStart = Math.min(windowStart, byId.get(id)!.call);
  } else {
    for (const op of ops) {
      if (op.outcome === 'ok' && !done.has(op.id) && op.call <= windowEnd && op.call < windowStart) windowStart = op.call;
    }
  }
  // The state the window contradicts was made by the last write completed before it: show that write too.
  let lastWrite: Operation<I, O> | undefined;
  for (const op of ops) {
    if (!model.readOnly(op.input) && op.outcome === 'ok' && op.ret < windowStart && (!lastWrite || op.ret > lastWrite.ret)) lastWrite = op;
  }
  if (lastWrite) windowStart = Math.min(windowStart, lastWrite.call);
  const keep = essential ? new Set(essential) : undefined;
  const window = ops
    .filter((op) => op.call <= windowEnd && (op.outcome !== 'ok' || op.ret >= windowStart))
    .filter((op) => !keep || !model.readOnly(op.input) || keep.has(op.id) || op.id === blocked.id)
    .map((op) => op.id);
  const result: FailureEvidence = { key, linearized, states, initialState: model.describeState(model.init()), blocked: blocked.id, windowStart, windowEnd, window };
  if (essential) result.essentialReads = essential;
  return result;
}

/** The operations the search must consider: `fail`s took no effect, unknown reads constrain nothing. */
export function relevantOperations<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[]): Operation<I, O>[] {
  return ops.filter((op) => {
    if (op.outcome === 'fail') return false;
    if (model.checked && !model.checked(op.input)) return false;
    return op.outcome === 'ok' || !model.readOnly(op.input);
  });
}

export function checkLinearizability<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const budget: SearchBudget = {
    deadline: options.timeoutMs === undefined ? Infinity : performance.now() + options.timeoutMs,
    stepsLeft: options.maxSteps ?? Infinity,
    maxVisited: options.maxVisited ?? 4_000_000,
    minimize: options.minimize !== false,
  };
  const byKey = new Map<string, Operation<I, O>[]>();
  for (const op of relevantOperations(model, ops)) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  // Small keys first: a failure in a small partition is found (and explained) cheaply.
  const keys = [...byKey.keys()].sort((a, b) => byKey.get(a)!.length - byKey.get(b)!.length || (a < b ? -1 : a > b ? 1 : 0));
  const partitions: PartitionResult[] = [];
  let steps = 0;
  for (const key of keys) {
    const keyOps = byKey.get(key)!;
    if (budget.stepsLeft <= 0 || performance.now() > budget.deadline) {
      partitions.push({ key, verdict: 'unknown', ops: keyOps.length, steps: 0 });
      continue;
    }
    const outcome = search(model, keyOps, budget);
    steps += outcome.steps;
    const result: PartitionResult = { key, verdict: outcome.verdict, ops: keyOps.length, steps: outcome.steps };
    if (outcome.verdict === 'non-linearizable') result.failure = evidence(model, key, keyOps, outcome, budget);
    partitions.push(result);
    if (outcome.verdict === 'non-linearizable' && options.stopAtFirstFailure !== false) break;
  }
  const failed = partitions.find((p) => p.verdict === 'non-linearizable');
  const unknown = partitions.filter((p) => p.verdict === 'unknown');
  const verdict: Verdict = failed ? 'non-linearizable' : unknown.length > 0 ? 'unknown' : 'linearizable';
  let explanation: string;
  if (failed) {
    const f = failed.failure!;
    const op = ops.find((o) => o.id === f.blocked)!;
    explanation =
      `key ${JSON.stringify(f.key)}: operation ${op.id} (client ${op.client}, ${model.describeOperation(op.input, op.outcome === 'ok' ? op.output : null)}, ` +
      `${formatMs(op.call)}..${formatMs(op.ret)} ms) cannot be placed after the longest linearizable prefix of ${f.linearized.length} operation(s) ` +
      `(state then: ${f.states.at(-1) ?? f.initialState}); failing window ${formatMs(f.windowStart)}..${formatMs(f.windowEnd)} ms, ${f.window.length} operation(s)` +
      (f.essentialReads ? `; the key's writes and ${f.essentialReads.length} read(s) already admit no order: ${f.essentialReads.map((id) => `#${id}`).join(', ')}` : '');
  } else if (unknown.length > 0) {
    explanation = `search budget exhausted on ${unknown.length} key(s), first ${JSON.stringify(unknown[0]!.key)}; no violation found in the rest`;
  } else {
    explanation = `${partitions.length} key(s), ${partitions.reduce((s, p) => s + p.ops, 0)} operation(s) linearizable`;
  }
  return { verdict, partitions, steps, explanation };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyModel = Model<any, any, any>;

export function modelFor(name: History['model']): AnyModel {
  switch (name) {
    case 'register':
      return registerModel;
    case 'kv':
      return kvModel;
    case 'etcd':
      return etcdModel;
  }
}

/** Checks a recorded history with the model it names. */
export function checkHistory(history: History, options: LinearizabilityOptions = {}): LinearizabilityResult {
  return checkLinearizability(modelFor(history.model), history.ops, options);
}
