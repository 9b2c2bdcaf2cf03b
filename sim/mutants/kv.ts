// Deliberately broken variants of the etcd v2 store, each killed by a test in test/core/kv/mutants.test.ts.
import type { Mutant } from './mutate.ts';

const STORE = 'core/kv/store.ts';
const HISTORY = 'core/kv/history.ts';
const APPLY = 'core/kv/apply.ts';

export const casIgnoresPrevIndex: Mutant = {
  name: 'kv-cas-ignores-prev-index',
  description: 'compare-and-swap and compare-and-delete treat every prevIndex as matching',
  edits: [{ file: STORE, find: 'const indexMatch = prevIndex === 0 || node.modifiedIndex === prevIndex;', replace: 'const indexMatch = true;' }],
};

export const refreshWakesWatchers: Mutant = {
  name: 'kv-refresh-wakes-watchers',
  description: 'a TTL refresh notifies watchers as an ordinary write would',
  edits: [
    {
      file: STORE,
      find: '    e.refresh = true;\n    addToHistory(store.history, e);\n    return;',
      replace: '    e.refresh = true;\n    notify(store, e, out);\n    return;',
    },
  ],
};

export const hiddenKeysListed: Mutant = {
  name: 'kv-hidden-keys-listed',
  description: 'directory listings include names starting with "_"',
  edits: [{ file: STORE, find: 'if (!isHiddenName(name)) out.push(', replace: 'out.push(' }],
};

export const expiryIgnoresCommandTime: Mutant = {
  name: 'kv-expiry-ignores-command-time',
  description: 'an expiry tick compares TTLs against a clock half a second ahead of the time it carries',
  edits: [{ file: STORE, find: 'if (node === null || node.expireAtMs > cutoffMs) break;', replace: 'if (node === null || node.expireAtMs > cutoffMs + 500) break;' }],
};

export const recursiveDeleteLeavesChildren: Mutant = {
  name: 'kv-recursive-delete-leaves-children',
  description: 'removing a directory skips its children, so their watches and TTL bookkeeping outlive them',
  edits: [
    {
      file: STORE,
      find: 'for (const name in node.children) removeSubtree(store, node, node.children[name]!, e, out);',
      replace: 'for (const name in node.children) void name;',
    },
  ],
};

export const treeHashMissesCompareAndSwap: Mutant = {
  name: 'kv-tree-hash-misses-compare-and-swap',
  description: 'a compare-and-swap changes a key without adding its new content to the tree hash',
  edits: [
    {
      file: STORE,
      find: '  updateTtl(store, node, expireAtMs);\n  countIn(store, node);\n  e.node.value = value;',
      replace: '  updateTtl(store, node, expireAtMs);\n  e.node.value = value;',
    },
  ],
};

export const historyWindowOffByOne: Mutant = {
  name: 'kv-history-window-off-by-one',
  description: 'a watch at the oldest index still in the history is refused as cleared',
  edits: [{ file: HISTORY, find: 'if (index < h.startIndex) {', replace: 'if (index <= h.startIndex) {' }],
};

export const applyDependsOnReplicaState: Mutant = {
  name: 'kv-apply-depends-on-replica-state',
  description: 'apply reads a module-level counter, so two replicas applying the same commands diverge',
  edits: [
    { file: APPLY, find: 'export function applyRequest(', replace: 'let applyCalls = 0;\nexport function applyRequest(' },
    {
      file: APPLY,
      find: 'const expireAtMs = expiryFromTtl(timeMs, r.ttlSeconds);',
      replace: 'const expireAtMs = expiryFromTtl(timeMs + (applyCalls++ % 2), r.ttlSeconds);',
    },
  ],
};

const JSON_TS = 'core/api/json.ts';
const ERRORS = 'core/kv/errors.ts';

export const jsonWithoutHtmlEscapes: Mutant = {
  name: 'api-json-without-html-escapes',
  description: 'JSON strings keep <, > and & as they are instead of escaping them as Go does',
  edits: [{ file: JSON_TS, find: String.raw`else if (c === 60) escaped = '\\u003c';`, replace: '' }],
};

export const rootReadOnlyIsForbidden: Mutant = {
  name: 'api-root-read-only-is-403',
  description: 'error 107 (root is read only) answers 403 instead of etcd\'s 400',
  edits: [{ file: ERRORS, find: '  102: 403,\n', replace: '  102: 403,\n  107: 403,\n' }],
};

export const uintParseUnguarded: Mutant = {
  name: 'api-uint-parse-unguarded',
  description: 'index and TTL parameters skip the digits-only check, so long junk reaches BigInt and throws',
  edits: [{ file: 'core/api/request.ts', find: 'if (!/^[0-9]+$/.test(s)) return null;', replace: '' }],
};

export const apiMutants: Mutant[] = [jsonWithoutHtmlEscapes, rootReadOnlyIsForbidden, uintParseUnguarded];

export const checkpointLosesInvalidBytes: Mutant = {
  name: 'kv-checkpoint-loses-invalid-bytes',
  description: 'encodeStore hands strings to msgpack unescaped, so long values with invalid UTF-8 change across a checkpoint',
  edits: [{ file: STORE, find: 'return encode(toMsgpackSafe(store));', replace: 'return encode(store);' }],
};

export const civilDateOffByOneDay: Mutant = {
  name: 'kv-civil-date-off-by-one-day',
  description: 'expiration timestamps are printed one day late',
  edits: [{ file: 'core/kv/time.ts', find: 'const z = days + 719_468;', replace: 'const z = days + 719_469;' }],
};

export const jsonControlCharsRaw: Mutant = {
  name: 'api-json-control-chars-raw',
  description: 'control characters other than \\n, \\r and \\t are written raw, which is not valid JSON',
  edits: [{ file: JSON_TS, find: "else escaped = '\\\\u00' + HEX[c >> 4]! + HEX[c & 15]!;", replace: '' }],
};

export const kvMutants: Mutant[] = [
  casIgnoresPrevIndex,
  refreshWakesWatchers,
  hiddenKeysListed,
  expiryIgnoresCommandTime,
  recursiveDeleteLeavesChildren,
  historyWindowOffByOne,
  treeHashMissesCompareAndSwap,
  applyDependsOnReplicaState,
  checkpointLosesInvalidBytes,
];
