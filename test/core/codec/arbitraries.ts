// Random values of the Raft core's data, shared by the codec's tests.
import fc from 'fast-check';
import type { Entry, Message, PersistedState, Snapshot } from '../../../core/raft/index.ts';

export const nodeId = fc.constantFrom('1', '2', '3', 'n-4', 'émoji-😀');
export const nat = fc.nat({ max: 2 ** 40 });
export const conf = fc.record({ type: fc.constantFrom('add-voter', 'add-learner', 'promote', 'remove' as const), node: nodeId });
export const entry: fc.Arbitrary<Entry> = fc.oneof(
  fc.record({ index: nat, term: nat, kind: fc.constant('normal' as const), data: fc.uint8Array({ maxLength: 40 }), conf: fc.constant(null) }),
  fc.record({ index: nat, term: nat, kind: fc.constant('noop' as const), data: fc.constant(new Uint8Array(0)), conf: fc.constant(null) }),
  fc.record({ index: nat, term: nat, kind: fc.constant('conf' as const), data: fc.constant(new Uint8Array(0)), conf }),
);
export const membership = fc.record({ voters: fc.array(nodeId, { maxLength: 5 }), learners: fc.array(nodeId, { maxLength: 3 }) });
export const snapshot: fc.Arbitrary<Snapshot> = fc.record({ index: nat, term: nat, membership, data: fc.uint8Array({ maxLength: 64 }) });
export const base = { from: nodeId, to: nodeId, term: nat };
export const context = fc.string({ maxLength: 12 });
export const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('vote' as const), ...base, preVote: fc.boolean(), transfer: fc.boolean(), lastIndex: nat, lastTerm: nat }),
  fc.record({ type: fc.constant('vote-response' as const), ...base, preVote: fc.boolean(), granted: fc.boolean() }),
  fc.record({ type: fc.constant('append' as const), ...base, prevIndex: nat, prevTerm: nat, entries: fc.array(entry, { maxLength: 5 }), commit: nat }),
  fc.record({ type: fc.constant('append-response' as const), ...base, reject: fc.boolean(), index: nat, hintIndex: nat, hintTerm: nat }),
  fc.record({ type: fc.constant('heartbeat' as const), ...base, commit: nat, context: fc.option(context, { nil: null }) }),
  fc.record({ type: fc.constant('heartbeat-response' as const), ...base, context: fc.option(context, { nil: null }) }),
  fc.record({ type: fc.constant('snapshot' as const), ...base, snapshot }),
  fc.record({ type: fc.constant('timeout-now' as const), ...base }),
  fc.record({ type: fc.constant('read-index' as const), ...base, context }),
  fc.record({
    type: fc.constant('read-index-response' as const),
    ...base,
    context,
    index: nat,
    reject: fc.option(fc.constantFrom('not-leader', 'uncommitted-limit' as const), { nil: null }),
  }),
);
export const persisted: fc.Arbitrary<PersistedState> = fc.record({
  hardState: fc.record({ term: nat, vote: fc.option(nodeId, { nil: null }), commit: nat }),
  snapshot: fc.option(snapshot, { nil: null }),
  entries: fc.array(entry, { maxLength: 6 }),
});
