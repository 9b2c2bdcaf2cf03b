// The replica's behaviour scenarios, written once and run against the real replica (replica.test.ts) and against
// each planted mutant (mutants.test.ts): a scenario returns the first broken expectation, or null.
import { keysRequest } from '../../../core/api/index.ts';
import type { KeysRequest } from '../../../core/kv/index.ts';
import type { PeerMessage, ReplicaReply } from '../../../core/replica/index.ts';
import { ReplicaCluster, type DriverOptions, type ReplicaModule } from './driver.ts';

export type Scenario = (module?: ReplicaModule) => string | null;

function cluster(ids: string[], module: ReplicaModule | undefined, opts: DriverOptions = {}): ReplicaCluster {
  return new ReplicaCluster(ids, module === undefined ? opts : { ...opts, module });
}

function valueOf(reply: ReplicaReply | undefined): string | null {
  if (reply === undefined) return '<no reply>';
  if (reply.body.type === 'event') return reply.body.event.node.value;
  if (reply.body.type === 'watch') return reply.body.event.node.value;
  if (reply.body.type === 'error') return `error ${reply.body.error.errorCode}`;
  return reply.body.type;
}

function put(key: string, value: string, fields: Partial<KeysRequest> = {}): KeysRequest {
  return keysRequest('PUT', key, { value, ...fields });
}

/** A write at a follower is forwarded, applied once by every member, and answered only by the follower. */
export const forwarding: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module, { clockOffsets: { b: 3_600_000 } });
  c.elect('a');
  c.run(50);
  const id = c.request('b', put('/x', '1'));
  const reply = c.await('b', id);
  if (reply.outcome !== 'ok' || valueOf(reply) !== '1') return `follower write: ${JSON.stringify(reply)}`;
  c.run(100);
  for (const m of c.members.values()) {
    const mine = m.applied.filter((e) => e.kind === 'client' && e.origin === 'b' && e.requestId === id);
    if (mine.length !== 1) return `${m.id} applied the write ${mine.length} times`;
  }
  if (c.member('a').replies.some((r) => r.id === id)) return 'the leader answered a request it did not receive';
  // The write carries the leader's clock, not the follower's (an hour ahead).
  const stamped = c.member('a').applied.find((e) => e.origin === 'b')?.timeMs;
  if (stamped === undefined || stamped === null || stamped > c.member('a').state.clockMs!) return `stamped with ${String(stamped)}, not the leader's clock`;
  return null;
};

/** A forward delivered twice (and again to a new leader after a change) is applied once. */
export const duplicateForward: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module);
  c.elect('a');
  const id = c.request('b', put('/dup', 'v'));
  const forward = c.inflight.find((m) => m.type === 'forward');
  if (forward === undefined) return 'the follower sent no forward';
  c.inflight.push(structuredClone(forward));
  const reply = c.await('b', id);
  if (reply.outcome !== 'ok') return `write: ${reply.outcome}`;
  c.run(100);
  // The same forward reaches the next leader too.
  c.crash('a');
  const next = c.elect('c');
  c.inflight.push({ ...structuredClone(forward), to: next });
  c.run(300);
  for (const m of c.members.values()) {
    if (!m.up) continue;
    const applied = m.applied.filter((e) => e.kind === 'client' && e.origin === 'b' && e.requestId === id);
    if (applied.length !== 1) return `${m.id} applied the duplicated write ${applied.length} times`;
    if (m.state.replicated.store.index !== 1) return `${m.id}: store index ${m.state.replicated.store.index}, want 1`;
  }
  return null;
};

/** The leader crashes holding a forwarded write and no new leader can be elected: the write is indeterminate. */
export const leaderCrashMidWrite: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module);
  c.elect('a');
  const id = c.request('b', put('/crash', 'v'));
  c.deliverOne(c.inflight.findIndex((m) => m.type === 'forward'));
  c.crash('a');
  c.isolate('c');
  c.inflight = [];
  c.run(3000);
  const reply = c.replyTo('b', id);
  if (reply?.outcome !== 'unknown') return `want unknown, got ${JSON.stringify(reply)}`;
  if (reply.body.type !== 'error' || reply.body.error.errorCode !== 300 || reply.body.error.cause !== 'etcdserver: request timed out') {
    return `want etcd's 300 request timed out, got ${JSON.stringify(reply.body)}`;
  }
  return null;
};

/** Raft refuses a proposal (uncommitted limit at the leader; too large through a forward): definite failure. */
export const refusedProposal: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module, { replica: { raft: { maxUncommittedBytes: 1, maxBytesPerMessage: 400 } } });
  c.elect('a');
  const big = c.request('b', put('/big', 'x'.repeat(1000)));
  const bigReply = c.await('b', big);
  if (bigReply.outcome !== 'failed' || bigReply.body.type !== 'error' || bigReply.body.error.cause !== 'etcdserver: request is too large') {
    return `too large: ${JSON.stringify(bigReply)}`;
  }
  c.isolate('a');
  const first = c.request('a', put('/p', '1'));
  const second = c.request('a', put('/q', '2'));
  const secondReply = c.replyTo('a', second);
  if (secondReply?.outcome !== 'failed') return `refused proposal: ${JSON.stringify(secondReply)}`;
  if (secondReply.body.type !== 'error' || secondReply.body.error.cause !== 'etcdserver: too many requests') return `cause: ${JSON.stringify(secondReply.body)}`;
  if (c.replyTo('a', first) !== undefined) return 'the uncommitted write was answered';
  return null;
};

/** An acknowledged write is seen by quorum reads; a default read on a partitioned follower is stale. */
export const quorumReadVersusStale: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module);
  c.elect('a');
  c.await('a', c.request('a', put('/r', 'old')));
  c.run(100);
  c.isolate('c');
  const w = c.await('a', c.request('a', put('/r', 'new')));
  if (w.outcome !== 'ok') return `write: ${w.outcome}`;
  const stale = c.await('c', c.request('c', keysRequest('GET', '/r')));
  if (valueOf(stale) !== 'old') return `default read on the partitioned follower: ${valueOf(stale)}, want the stale 'old'`;
  const onB = c.await('b', c.request('b', keysRequest('GET', '/r', { quorum: true })));
  if (onB.outcome !== 'ok' || valueOf(onB) !== 'new') return `quorum read on b: ${valueOf(onB)}`;
  const onC = c.await('c', c.request('c', keysRequest('GET', '/r', { quorum: true })));
  if (onC.outcome === 'ok') return `quorum read on the partitioned follower answered ${valueOf(onC)}`;
  if (onC.outcome !== 'failed') return `a read that failed is a definite failure, got ${onC.outcome}`;
  c.heal();
  c.run(1000);
  const healed = c.await('c', c.request('c', keysRequest('GET', '/r', { quorum: true })));
  if (healed.outcome !== 'ok' || valueOf(healed) !== 'new') return `quorum read after healing: ${valueOf(healed)}`;
  return null;
};

/** Keys expire by the leader's clock, at the same log index on every member, whatever the followers' clocks. */
export const ttlWithSkewedClocks: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module, { clockOffsets: { a: 0, b: 60_000, c: -60_000 } });
  c.elect('a');
  const w = c.await('b', c.request('b', put('/ttl', 'v', { ttlSeconds: 2 })));
  if (w.outcome !== 'ok') return `write: ${w.outcome}`;
  c.run(1000);
  for (const id of ['a', 'b', 'c']) {
    const r = c.await(id, c.request(id, keysRequest('GET', '/ttl')));
    if (valueOf(r) !== 'v') return `${id} lost the key before the leader's clock said so: ${valueOf(r)}`;
  }
  c.run(2500);
  const expireAt = new Set<number>();
  for (const m of c.members.values()) {
    const expiries = m.applied.filter((e) => e.kind === 'expire' && e.storeIndex > 1);
    if (expiries.length !== 1) return `${m.id} expired in ${expiries.length} entries`;
    expireAt.add(expiries[0]!.index);
    const r = c.await(m.id, c.request(m.id, keysRequest('GET', '/ttl')));
    if (valueOf(r) !== 'error 100') return `${m.id} still has the key: ${valueOf(r)}`;
  }
  if (expireAt.size !== 1) return `the key expired at different indexes: ${[...expireAt].join(', ')}`;
  const digests = new Set([...c.members.values()].map((m) => c.module.storeDigest(m.state.replicated.store)));
  if (digests.size !== 1) return 'stores differ after expiry';
  return null;
};

/** Leadership handed over on purpose: writes pending at the old leader's followers land at the new one. */
export const leadershipTransfer: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module);
  c.elect('a');
  c.run(100);
  c.step('a', { type: 'transfer-leadership', to: 'b' });
  const id = c.request('c', put('/moved', 'v'));
  c.run(500);
  if (c.leader() !== 'b') return `leader after the transfer: ${c.leader()}`;
  const reply = c.await('c', id);
  return reply.outcome === 'ok' ? null : `write during the transfer: ${reply.outcome}`;
};

/** A stream watch on a follower sees every event, in order, across a leader change. */
export const watchAcrossLeaderChange: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module);
  c.elect('a');
  const watchId = c.request('c', keysRequest('GET', '/w', { wait: true, stream: true }));
  const once = c.request('c', keysRequest('GET', '/w', { wait: true }));
  c.await('a', c.request('a', put('/w', '1')));
  c.run(100);
  c.crash('a');
  c.elect('b');
  c.await('b', c.request('b', put('/w', '2')));
  c.run(100);
  c.await('c', c.request('c', put('/w', '3')));
  c.run(100);
  const events = c.member('c').replies.filter((r) => r.id === watchId);
  const values = events.map((r) => valueOf(r.reply));
  if (values.join(',') !== '1,2,3') return `stream watch saw ${values.join(',')}, want 1,2,3`;
  if (events.some((r) => r.reply.final)) return 'a stream watch reply was final';
  const single = c.member('c').replies.filter((r) => r.id === once);
  if (single.length !== 1 || valueOf(single[0]!.reply) !== '1' || !single[0]!.reply.final) return `one-shot watch: ${JSON.stringify(single)}`;
  return null;
};

/** A member that fell behind the leader's compaction installs its snapshot and ends with the same store. */
export const snapshotInstall: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module, { replica: { snapshotEvery: 5 } });
  c.elect('a');
  c.run(100);
  c.isolate('c');
  for (let i = 0; i < 20; i++) c.await('a', c.request('a', put(`/s${i % 3}`, String(i))));
  c.heal();
  c.run(1500);
  const lagging = c.member('c');
  if (lagging.installs.length === 0) return 'the lagging member installed no snapshot';
  const leader = c.member('a');
  if (lagging.state.applied !== leader.state.applied) return `applied ${lagging.state.applied} vs ${leader.state.applied}`;
  if (c.module.storeDigest(lagging.state.replicated.store) !== c.module.storeDigest(leader.state.replicated.store)) return 'stores differ';
  const r = c.await('c', c.request('c', keysRequest('GET', '/s1')));
  if (valueOf(r) !== '19') return `read after install: ${valueOf(r)}`;
  // A restart from disk restores the store from the snapshot and replays the rest.
  c.crash('c');
  c.restart('c');
  c.run(500);
  if (c.module.storeDigest(c.member('c').state.replicated.store) !== c.module.storeDigest(leader.state.replicated.store)) return 'store differs after restart';
  return null;
};

/** A leader proposes a forward delivered twice only once (the log stays free of repeats). */
export const forwardProposedOnce: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module);
  c.elect('a');
  c.run(20);
  const id = c.request('b', put('/once', 'v'));
  const forward = c.inflight.find((m) => m.type === 'forward');
  if (forward === undefined) return 'the follower sent no forward';
  c.inflight.push(structuredClone(forward));
  if (c.await('b', id).outcome !== 'ok') return 'the write failed';
  c.run(100);
  const kinds = c.member('a').applied.filter((e) => e.origin === 'b').map((e) => e.kind);
  return kinds.join(',') === 'client' ? null : `the leader's log holds the write as ${kinds.join(',')}`;
};

/** A leader that cannot commit keeps a single expiry entry in flight instead of one per 500 ms. */
export const oneExpiryInFlight: Scenario = (module) => {
  // Without check-quorum the cut-off leader keeps leading, and proposing, for the whole run.
  const c = cluster(['a', 'b', 'c'], module, { replica: { raft: { checkQuorum: false } } });
  c.elect('a');
  c.await('a', c.request('a', put('/soon', 'v', { ttlSeconds: 1 })));
  c.isolate('a');
  c.run(3000);
  const a = c.member('a').state;
  const pending = a.raft.log.entries.filter((e) => e.kind === 'normal' && e.index > a.applied);
  return pending.length === 1 ? null : `${pending.length} expiry entries in flight`;
};

/** A follower acknowledges appended entries only once they are durable (async disk: the test decides when). */
export const acknowledgeAfterPersist: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module, { asyncDisk: true });
  c.elect('a');
  c.run(20);
  c.request('a', put('/durable', 'v'));
  const toB = c.inflight.findIndex((m) => m.type === 'raft' && m.to === 'b' && m.message.type === 'append' && m.message.entries.length > 0);
  if (toB < 0) return 'the leader sent b no entries';
  c.deliverOne(toB);
  const early = c.inflight.find((m) => m.from === 'b' && m.type === 'raft' && m.message.type === 'append-response');
  if (early !== undefined) return 'b acknowledged entries it had not persisted';
  c.syncAll();
  const late = c.inflight.find((m) => m.from === 'b' && m.type === 'raft' && m.message.type === 'append-response');
  return late === undefined ? 'b never acknowledged after persisting' : null;
};

/** Writes and quorum reads that arrive together go to Raft together: one append per follower carries all the
 * writes, in order, one ReadIndex round serves all the reads, and each request gets its own answer. */
export const batchedRequests: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module);
  c.elect('a');
  c.await('a', c.request('a', put('/b0', 'old')));
  c.run(100);
  const read = () => keysRequest('GET', '/b0', { quorum: true });
  const ids = c.requests('a', [put('/b1', '1'), read(), put('/b2', '2'), read(), put('/b1', '3'), read()]);
  for (const follower of ['b', 'c']) {
    const appends = c.inflight.filter((m) => m.type === 'raft' && m.to === follower && m.message.type === 'append' && m.message.entries.length > 0);
    if (appends.length !== 1) return `${appends.length} appends with entries to ${follower}, want 1 for the whole batch`;
    const rounds = c.inflight.filter((m) => m.type === 'raft' && m.to === follower && m.message.type === 'heartbeat' && m.message.context !== null);
    if (rounds.length !== 1) return `${rounds.length} ReadIndex heartbeats to ${follower}, want 1 for the whole batch`;
  }
  const values = ids.map((id) => valueOf(c.await('a', id)));
  if (values.join(',') !== '1,old,2,old,3,old') return `answers ${values.join(',')}, want 1,old,2,old,3,old`;
  const prev = c.replyTo('a', ids[4]!);
  if (prev?.body.type !== 'event' || prev.body.event.prevNode?.value !== '1') return `the second write to /b1 did not follow the first: ${JSON.stringify(prev?.body)}`;
  const order = c.member('b').applied.filter((e) => e.kind === 'client' && e.origin === 'a' && ids.includes(e.requestId!)).map((e) => e.requestId);
  if (order.join(',') !== [ids[0], ids[2], ids[4]].join(',')) return `b applied the batch's writes as ${order.join(',')}, want ${[ids[0], ids[2], ids[4]].join(',')}`;
  return null;
};

/** Raft refuses a batch's proposal whole when one write is too large: each write then gets its own verdict. */
export const batchRefusal: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module, { replica: { raft: { maxBytesPerMessage: 400 } } });
  c.elect('a');
  c.run(20);
  const [small, big, other] = c.requests('a', [put('/s1', '1'), put('/big', 'x'.repeat(1000)), put('/s2', '2')]);
  const bigReply = c.replyTo('a', big!);
  if (bigReply?.outcome !== 'failed' || bigReply.body.type !== 'error' || bigReply.body.error.cause !== 'etcdserver: request is too large') {
    return `the too-large write of a batch: ${JSON.stringify(bigReply ?? '<no reply>')}`;
  }
  for (const id of [small!, other!]) {
    const r = c.await('a', id, 1000);
    if (r.outcome !== 'ok') return `a write batched with a too-large one: ${JSON.stringify(r)}`;
  }
  return null;
};

/** A ReadIndex round serves only the reads that asked before it began: a quorum read invoked on a follower after
 * a write was acknowledged waits for a round of its own, even while an older round (with an older index) is out. */
export const batchReadRound: Scenario = (module) => {
  const c = cluster(['a', 'b', 'c'], module);
  c.elect('a');
  c.await('a', c.request('a', put('/r', 'old')));
  c.run(100);
  const read = () => keysRequest('GET', '/r', { quorum: true });
  const deliverWhere = (pick: (m: PeerMessage) => boolean): void => {
    for (let i = 0, k = c.inflight.findIndex(pick); i < 1000 && k >= 0; i++, k = c.inflight.findIndex(pick)) c.deliverOne(k);
  };
  const replication = (m: PeerMessage) => m.type === 'raft' && ['append', 'append-response', 'snapshot'].includes(m.message.type);
  // Round 1: the leader takes its index now, before the write, and its heartbeats wait.
  c.requests('b', [read(), read()]);
  deliverWhere((m) => m.type === 'raft' && m.message.type === 'read-index');
  const firstRound = c.inflight.splice(0);
  // The write commits on a and c alone: b sees none of it.
  const write = c.request('a', put('/r', 'new'));
  deliverWhere((m) => replication(m) && m.from !== 'b' && m.to !== 'b');
  if (c.replyTo('a', write)?.outcome !== 'ok') return `write: ${JSON.stringify(c.replyTo('a', write) ?? '<no reply>')}`;
  const late = c.requests('b', [read(), read()]);
  // Round 1 completes while b still lacks the write.
  c.inflight.unshift(...firstRound);
  deliverWhere((m) => !(replication(m) && m.to === 'b'));
  for (const id of late) {
    const early = c.replyTo('b', id);
    if (early !== undefined) return `a quorum read invoked after 'new' was acknowledged answered ${valueOf(early)}`;
  }
  for (const id of late) {
    const answer = valueOf(c.await('b', id));
    if (answer !== 'new') return `a quorum read invoked after 'new' was acknowledged answered ${answer}`;
  }
  return null;
};

export const scenarios: Record<string, Scenario> = {
  forwarding,
  duplicateForward,
  leaderCrashMidWrite,
  refusedProposal,
  quorumReadVersusStale,
  ttlWithSkewedClocks,
  watchAcrossLeaderChange,
  leadershipTransfer,
  snapshotInstall,
  forwardProposedOnce,
  oneExpiryInFlight,
  acknowledgeAfterPersist,
  batchedRequests,
  batchRefusal,
  batchReadRound,
};
