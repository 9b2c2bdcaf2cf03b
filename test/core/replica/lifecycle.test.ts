// The rest of a request's life: membership changes, bad input from drivers, cancellation, stats, and the
// replica as plain deterministic data (a fork behaves exactly like the original).
import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { keysRequest } from '../../../core/api/index.ts';
import {
  createReplica,
  decodeReplicaState,
  encodeReplicaState,
  mergePersist,
  stepReplica,
  type MemberInfo,
  type ReplicaReply,
} from '../../../core/replica/index.ts';
import { ReplicaCluster } from './driver.ts';
import { mergeProblem } from './persist-check.ts';

const d: MemberInfo = { id: 'd', name: 'node-d', peerURLs: ['http://127.0.0.1:12380'], clientURLs: ['http://127.0.0.1:12379'] };

function members(reply: ReplicaReply): string[] {
  return reply.body.type === 'members' ? reply.body.members.map((m) => `${m.id}:${m.name}`) : [`<${reply.body.type}>`];
}

describe('membership', () => {
  it('adds and removes a member through Raft, answering after the change applies, with attributes replicated', () => {
    const c = new ReplicaCluster(['a', 'b', 'c'], { replica: { members: [{ id: 'a', name: 'node-a', peerURLs: [], clientURLs: [] }] } });
    c.elect('a');
    c.run(50);
    c.step('b', { type: 'member-add', id: 1000, member: d });
    const added = c.await('b', 1000);
    expect(added.outcome).toBe('ok');
    expect(members(added)).toEqual(['a:node-a', 'b:', 'c:', 'd:node-d']);
    for (const id of ['a', 'b', 'c']) expect(c.member(id).state.raft.membership.voters).toEqual(['a', 'b', 'c', 'd']);
    c.run(50);
    c.step('c', { type: 'member-list', id: 1001 });
    const listed = c.replyTo('c', 1001)!;
    expect(listed.body.type === 'members' && listed.body.members.find((m) => m.id === 'd')).toEqual(d);

    c.step('c', { type: 'member-add', id: 1002, member: d });
    const again = c.await('c', 1002);
    expect(again.outcome).toBe('failed');
    expect(again.body).toEqual({ type: 'member-error', status: 409, message: 'membership: ID exists' });

    c.step('c', { type: 'member-add', id: 1005, member: { ...d, id: 'e' } });
    expect(c.await('c', 1005).body).toEqual({ type: 'member-error', status: 409, message: 'membership: peerURL exists' });

    c.step('a', { type: 'member-remove', id: 1006, memberId: 'd' });
    const removed = c.await('a', 1006);
    expect(removed.outcome).toBe('ok');
    expect(members(removed)).toEqual(['a:node-a', 'b:', 'c:']);

    c.step('a', { type: 'member-remove', id: 1007, memberId: 'zz' });
    expect(c.await('a', 1007).body).toEqual({ type: 'member-error', status: 404, message: 'membership: member not found' });
  });
});

describe('a joining member', () => {
  it('starts empty, is added through Raft, catches up (through a snapshot) and serves the same store', () => {
    const c = new ReplicaCluster(['a', 'b', 'c'], { replica: { snapshotEvery: 5 } });
    c.elect('a');
    for (let i = 0; i < 12; i++) c.await('a', c.request('a', keysRequest('PUT', `/j${i % 4}`, { value: String(i) })));
    c.addMember('d');
    c.step('a', { type: 'member-add', id: 2000, member: d });
    expect(c.await('a', 2000).outcome).toBe('ok');
    c.run(1000);
    const joined = c.member('d');
    expect(joined.installs.length).toBeGreaterThan(0);
    expect(joined.state.applied).toBe(c.member('a').state.applied);
    expect(c.module.storeDigest(joined.state.replicated.store)).toBe(c.module.storeDigest(c.member('a').state.replicated.store));
    const read = c.await('d', c.request('d', keysRequest('GET', '/j3', { quorum: true })));
    expect(read.body.type === 'event' && read.body.event.node.value).toBe('11');
  });
});

describe('bad input from drivers gets a one-line error, never a crash', () => {
  it('refuses request ids that do not increase', () => {
    const c = new ReplicaCluster(['a']);
    c.elect();
    c.step('a', { type: 'request', id: 10, request: keysRequest('GET', '/x') });
    c.step('a', { type: 'request', id: 10, request: keysRequest('GET', '/x') });
    const replies = c.member('a').replies.filter((r) => r.id === 10);
    expect(replies).toHaveLength(2);
    expect(replies[1]!.reply.outcome).toBe('failed');
    expect(replies[1]!.reply.body.type === 'error' && replies[1]!.reply.body.error.cause).toBe('raftsim: request id 10 is not above the last id 10 of this member');
  });

  it('after a restart, refuses request ids the member used before the crash', () => {
    const c = new ReplicaCluster(['a']);
    c.elect();
    c.step('a', { type: 'request', id: 50, request: keysRequest('PUT', '/x', { value: '1' }) });
    expect(c.replyTo('a', 50)?.outcome).toBe('ok');
    c.crash('a');
    c.restart('a');
    c.run(10);
    c.step('a', { type: 'request', id: 7, request: keysRequest('PUT', '/x', { value: '2' }) });
    const reply = c.replyTo('a', 7)!;
    expect(reply.outcome).toBe('failed');
    expect(reply.body.type === 'error' && reply.body.error.cause).toBe('raftsim: request id 7 is not above the last id 50 of this member');
  });

  it('refuses requests beyond maxPendingRequests as etcd does when overloaded', () => {
    const c = new ReplicaCluster(['a', 'b', 'c'], { replica: { maxPendingRequests: 1 } });
    const first = c.request('a', keysRequest('PUT', '/x', { value: '1' }));
    const second = c.request('a', keysRequest('PUT', '/y', { value: '1' }));
    expect(c.replyTo('a', first)).toBeUndefined();
    const refused = c.replyTo('a', second)!;
    expect(refused.outcome).toBe('failed');
    expect(refused.body).toEqual({ type: 'error', error: { errorCode: 300, message: 'Raft Internal Error', cause: 'etcdserver: too many requests', index: 0 } });
  });

  it('a write with no leader ever known fails definitely when it times out', () => {
    const c = new ReplicaCluster(['a', 'b', 'c']);
    c.isolate('a');
    const id = c.request('a', keysRequest('PUT', '/x', { value: '1' }));
    c.run(2500);
    const reply = c.replyTo('a', id)!;
    expect(reply.outcome).toBe('failed');
    expect(reply.body.type === 'error' && reply.body.error.cause).toBe('etcdserver: no leader');
  });

  it('rejects bad options with a one-line RangeError', () => {
    expect(() => createReplica({ id: 'a', requestTimeoutMs: 0 }, { voters: ['a'] })).toThrow(/^replica options: requestTimeoutMs must be a positive integer, got 0$/);
    expect(() => createReplica({ id: '' }, { voters: ['a'] })).toThrow(RangeError);
  });

  it('refuses bytes that are not an encoded replica', () => {
    expect(() => decodeReplicaState(encode({ nope: 1 }))).toThrow(/^replica state: not an encoded replica$/);
  });
});

describe('watches, cancellation and stats', () => {
  it('a cancelled watch is unregistered and never answered', () => {
    const c = new ReplicaCluster(['a']);
    c.elect();
    const w = c.request('a', keysRequest('GET', '/k', { wait: true }));
    expect(c.member('a').state.replicated.store.watcherCount).toBe(1);
    c.step('a', { type: 'cancel', id: w });
    expect(c.member('a').state.replicated.store.watcherCount).toBe(0);
    c.await('a', c.request('a', keysRequest('PUT', '/k', { value: 'v' })));
    expect(c.replyTo('a', w)).toBeUndefined();
    expect(c.member('a').state.pendingCount).toBe(0);
  });

  it('answers stats with the store counters and this member\'s view', () => {
    const c = new ReplicaCluster(['a']);
    c.elect();
    c.await('a', c.request('a', keysRequest('PUT', '/k', { value: 'v' })));
    c.step('a', { type: 'stats', id: 99, kind: 'store' });
    const reply = c.replyTo('a', 99)!;
    expect(reply.body.type).toBe('stats');
    if (reply.body.type !== 'stats') return;
    expect(reply.body.store.setsSuccess).toBe(1);
    expect(reply.body.self).toMatchObject({ id: 'a', state: 'leader', leader: 'a' });
  });
});

describe('plain deterministic data', () => {
  it('a replica forked through its encoding answers every later input exactly like the original', () => {
    const c = new ReplicaCluster(['a', 'b', 'c']);
    c.elect('a');
    c.request('b', keysRequest('GET', '/w', { wait: true, stream: true }));
    c.await('b', c.request('b', keysRequest('PUT', '/w', { value: '1', ttlSeconds: 5 })));
    const original = c.member('b').state;
    const fork = decodeReplicaState(encodeReplicaState(original));
    const inputs = [
      { type: 'tick' as const, now: c.nowMs + 10 },
      { type: 'request' as const, id: 500, request: keysRequest('PUT', '/w', { value: '2' }) },
      { type: 'request' as const, id: 501, request: keysRequest('GET', '/w', { quorum: true }) },
      { type: 'tick' as const, now: c.nowMs + 9000 },
    ];
    for (const input of inputs) expect(encode(stepReplica(fork, input))).toEqual(encode(stepReplica(original, input)));
    expect(encodeReplicaState(fork)).toEqual(encodeReplicaState(original));
  });

  it('merged persists leave a disk exactly as the persists applied one by one', () => {
    expect(mergeProblem(mergePersist)).toBe(null);
  });
});
