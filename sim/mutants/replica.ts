// Deliberately broken variants of the replica, each killed by the tests in test/core/replica/mutants.test.ts.
import type { Mutant } from './mutate.ts';

const REPLICA = 'core/replica/replica.ts';

export const replyBeforeCommit: Mutant = {
  name: 'replica-reply-before-commit',
  description: 'a write is answered ok, with the result it would have, as soon as it is handed to the leader, before it commits',
  edits: [
    {
      file: REPLICA,
      find: "import { decodeStore, encodeStore, newStore, nextExpiryMs, storeStats, unwatch, watch } from '../kv/store.ts';",
      replace: "import { cloneStore, decodeStore, encodeStore, newStore, nextExpiryMs, storeStats, unwatch, watch } from '../kv/store.ts';",
    },
    {
      file: REPLICA,
      find: "    w.phase = 'sent';\n    out.messages.push({ message: { type: 'forward', from: state.id, to: leader, command }, afterPersist: false });\n    return;",
      replace:
        "    w.phase = 'sent';\n    out.messages.push({ message: { type: 'forward', from: state.id, to: leader, command }, afterPersist: false });\n" +
        "    if (w.op.kind === 'kv') {\n" +
        "      forget(state, 'writes', w.requestId);\n" +
        "      replyResult(state, out, w.requestId, applyCommand(cloneStore(state.replicated.store), { kind: 'request', request: w.op.request, timeMs: state.clockMs ?? 0 }).result!);\n" +
        '    }\n    return;',
    },
  ],
};

export const expiryOnFollowerClock: Mutant = {
  name: 'replica-expiry-on-follower-clock',
  description: "a follower expires keys by its own clock on every tick instead of waiting for the leader's expiry entry",
  edits: [
    {
      file: REPLICA,
      find: '  else state.nextExpiryCheckMs = null;',
      replace:
        "  else {\n    state.nextExpiryCheckMs = null;\n    deliverWatches(state, applyCommand(state.replicated.store, { kind: 'expire', timeMs: now }).deliveries, out);\n  }",
    },
  ],
};

export const noDedupe: Mutant = {
  name: 'replica-no-dedupe',
  description: 'the exactly-once table is never consulted: a duplicated forward is proposed and applied again',
  edits: [
    {
      file: REPLICA,
      find: 'export function seenBefore(session: Session, requestId: number): boolean {\n',
      replace: 'export function seenBefore(session: Session, requestId: number): boolean {\n  if (session !== null) return false;\n',
    },
  ],
};

export const quorumReadServedLocally: Mutant = {
  name: 'replica-quorum-read-served-locally',
  description: 'a quorum=true GET is answered from the local store at once, without a ReadIndex round',
  edits: [{ file: REPLICA, find: '  if (!request.quorum) {', replace: '  if (!request.quorum || request.quorum) {' }],
};

export const watchSkipsEventOnLeaderChange: Mutant = {
  name: 'replica-watch-skips-event-on-leader-change',
  description: 'when a member sees the leader change, each of its open watches misses the next event',
  edits: [
    {
      file: REPLICA,
      find: '    state.knownLeader = state.raft.leader;\n',
      replace: '    state.knownLeader = state.raft.leader;\n    for (const w of Object.values(state.watches)) (w as { skipNext?: boolean }).skipNext = true;\n',
    },
    {
      file: REPLICA,
      find: '    if (w === undefined) continue;\n    reply(state, out, requestId,',
      replace:
        '    if (w === undefined) continue;\n    if ((w as { skipNext?: boolean }).skipNext === true) {\n      (w as { skipNext?: boolean }).skipNext = false;\n      continue;\n    }\n    reply(state, out, requestId,',
    },
  ],
};

export const noopTakesStoreIndex: Mutant = {
  name: 'replica-noop-takes-store-index',
  description: "a leader's no-op entry advances the store index, so X-Etcd-Index no longer starts where a fresh etcd's does",
  edits: [
    {
      file: REPLICA,
      find: "  if (entry.kind === 'noop') return record('noop', null, null, null);",
      replace: "  if (entry.kind === 'noop') {\n    store.index++;\n    return record('noop', null, null, null);\n  }",
    },
  ],
};

export const mergeKeepsOverwrittenEntries: Mutant = {
  name: 'replica-merge-keeps-overwritten-entries',
  description: 'merging two persists appends the later entries without truncating the earlier ones they overwrite',
  edits: [{ file: 'core/replica/persist.ts', find: 'return earlier.filter((e) => e.index < from).concat(later);', replace: 'return from > 0 ? earlier.concat(later) : later;' }],
};

export const peerCodecTrustsRequests: Mutant = {
  name: 'replica-peer-codec-trusts-requests',
  description: "decoding a forwarded write no longer checks the request's method or indexes",
  edits: [
    { file: 'core/replica/codec.ts', find: "    for (const key of ['prevIndex', 'waitIndex']) uint64(r, key, rPath);\n    oneOf(r, 'method', rPath, METHODS);\n", replace: '' },
  ],
};

export const leaderForgetsItsProposals: Mutant = {
  name: 'replica-leader-forgets-its-proposals',
  description: 'a leader forgets what it proposed in its term at every step, so repeats and expiries pile up in the log',
  edits: [{ file: REPLICA, find: "  if (state.raft.role === 'leader' && state.proposalsTerm === state.raft.term) return;\n", replace: '' }],
};

export const sendsBeforePersist: Mutant = {
  name: 'replica-sends-before-persist',
  description: "Raft's messages lose their afterPersist mark, so votes and acknowledgements leave before they are durable",
  edits: [
    {
      file: REPLICA,
      find: "message: { type: 'raft', from: m.message.from, to: m.message.to, message: m.message }, afterPersist: m.afterPersist });",
      replace: "message: { type: 'raft', from: m.message.from, to: m.message.to, message: m.message }, afterPersist: false });",
    },
  ],
};

export const batchProposesOneByOne: Mutant = {
  name: 'replica-batch-proposes-one-by-one',
  description: "a requests batch proposes each write on its own, one append per follower per write, as if it were not a batch",
  edits: [{ file: REPLICA, find: '  if (batch === null) return proposeNow(state, proposal, out);', replace: '  if (batch === null || batch !== null) return proposeNow(state, proposal, out);' }],
};

export const batchRefusalDropsWrites: Mutant = {
  name: 'replica-batch-refusal-drops-writes',
  description: 'when Raft refuses a batch of writes whole, the writes are not retried one by one: none is proposed or answered',
  edits: [{ file: REPLICA, find: '    for (const p of proposals) proposeNow(state, p, out);\n', replace: '' }],
};

export const readIndexServesLaterReads: Mutant = {
  name: 'replica-read-index-serves-later-reads',
  description: 'a ReadIndex answer serves every quorum read waiting for an index, including reads that arrived after its round began',
  edits: [
    {
      file: REPLICA,
      find: '    for (let id = first; id <= last; id++) {\n      const read = state.reads[String(id)];\n',
      replace: '    for (const read of Object.values(state.reads)) {\n',
    },
  ],
};

export const replicaMutants: Mutant[] = [
  replyBeforeCommit,
  expiryOnFollowerClock,
  noDedupe,
  quorumReadServedLocally,
  watchSkipsEventOnLeaderChange,
  noopTakesStoreIndex,
  mergeKeepsOverwrittenEntries,
  peerCodecTrustsRequests,
  leaderForgetsItsProposals,
  sendsBeforePersist,
  batchProposesOneByOne,
  batchRefusalDropsWrites,
  readIndexServesLaterReads,
];
