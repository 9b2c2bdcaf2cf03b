// Unit tests for each feature beyond Figure 2: timers and the PRNG, pre-vote, check-quorum, ReadIndex,
// leadership transfer, snapshots, membership, flow control, limits, assertions, determinism and plain data.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as core from '../../../core/raft/index.ts';
import { RaftInvariantError, createNode, lastLogIndex, restartNode, step } from '../../../core/raft/index.ts';
import type { Message, RaftInput, RaftState, Ready } from '../../../core/raft/index.ts';
import { withMutant } from '../../../sim/mutants/mutate.ts';
import { Cluster, persistedPoint, type RaftCore } from './cluster.ts';

const T = 1000;

function sent(ready: Ready): Message[] {
  return ready.messages.map((m) => m.message);
}

function elected(options: Record<string, unknown> = {}, voters = ['1', '2', '3'], learners: string[] = []): Cluster {
  const cluster = new Cluster({ voters, learners, raft: options });
  cluster.elect('1');
  if (cluster.leader() !== '1') throw new Error('setup: node 1 did not win');
  return cluster;
}

/** First tick after which the node campaigns, for a given seed (the randomized election timeout). */
function firstCampaignAt(raftCore: RaftCore, seed: number): number {
  const state = raftCore.createNode({ id: 'n', seed, electionTimeoutMs: T, preVote: false }, { voters: ['n', 'm', 'o'] });
  raftCore.step(state, { type: 'tick', now: 0 });
  for (let now = 1; now <= 4 * T; now++) {
    raftCore.step(state, { type: 'tick', now });
    if (state.role === 'candidate') return now;
  }
  return Infinity;
}

/** The election timeout is drawn from [T, 2T), and the draws vary with the seed. */
function timeoutPropertyHolds(raftCore: RaftCore): boolean {
  const seen = new Set<number>();
  const result = fc.check(
    fc.property(fc.integer(), (seed) => {
      const at = firstCampaignAt(raftCore, seed);
      seen.add(at);
      return at >= T && at < 2 * T;
    }),
    { numRuns: 200, seed: 1 },
  );
  return !result.failed && seen.size > 50;
}

/** Two runs of the same scripted cluster produce identical outputs and states. */
function runTrace(raftCore: RaftCore, seed: number, ops: number[]): string {
  const cluster = new Cluster({ voters: ['1', '2', '3'], raft: { seed }, core: raftCore });
  const log: string[] = [];
  for (const op of ops) {
    const id = String((op % 3) + 1);
    if (op % 5 === 0) cluster.tick(id, 150 + (op % 700));
    else if (op % 5 === 1) cluster.propose(cluster.leader() ?? id, `p${op}`);
    else if (op % 5 === 2) cluster.deliverOnce();
    else if (op % 5 === 3) cluster.drop((m) => m.to === id && op % 2 === 0);
    else cluster.step(id, { type: 'read-index', context: `r${op}` });
    log.push(...cluster.takeEffects());
  }
  return JSON.stringify({ log, states: cluster.ids.map((id) => cluster.node(id).state) }, (_k, v: unknown) =>
    v instanceof Uint8Array ? Array.from(v) : v,
  );
}

function determinismHolds(makeCore: () => RaftCore): boolean {
  const result = fc.check(
    fc.property(fc.integer(), fc.array(fc.nat({ max: 10_000 }), { maxLength: 60 }), (seed, ops) => runTrace(makeCore(), seed, ops) === runTrace(makeCore(), seed, ops)),
    { numRuns: 200, seed: 2 },
  );
  return !result.failed;
}

describe('timers and randomness', () => {
  it('the election timeout is randomized in [T, 2T) from the seed (200 seeds)', () => {
    expect(timeoutPropertyHolds(core)).toBe(true);
  });

  it('the timeout property catches a core whose timeout is not randomized', async () => {
    const mutant = {
      name: 'fixed-election-timeout',
      description: 'every node waits exactly T: split votes forever',
      edits: [{ file: 'core/raft/node.ts', find: 'state.options.electionTimeoutMs + (value % state.options.electionTimeoutMs)', replace: 'state.options.electionTimeoutMs + 0 * value' }],
    };
    expect(await withMutant<RaftCore, boolean>(mutant, 'core/raft/index.ts', (m) => timeoutPropertyHolds(m))).toBe(false);
  });

  it('the same seed and inputs give the same outputs and states (200 random traces)', () => {
    expect(determinismHolds(() => core)).toBe(true);
  });

  it('the determinism property catches hidden state shared between runs', async () => {
    const mutant = {
      name: 'ambient-counter',
      description: 'a module-level counter leaks into the election timeout, so a rerun differs',
      edits: [
        { file: 'core/raft/node.ts', find: 'const EMPTY_BYTES = new Uint8Array(0);', replace: 'const EMPTY_BYTES = new Uint8Array(0);\nlet leakedCounter = 0;' },
        { file: 'core/raft/node.ts', find: 'state.options.electionTimeoutMs + (value % state.options.electionTimeoutMs)', replace: 'state.options.electionTimeoutMs + ((value + leakedCounter++) % state.options.electionTimeoutMs)' },
      ],
    };
    expect(await withMutant<RaftCore, boolean>(mutant, 'core/raft/index.ts', (m) => determinismHolds(() => m))).toBe(false);
  });

  it('a clock jumping backwards counts no elapsed time', () => {
    const state = createNode({ id: '1', electionTimeoutMs: T, preVote: false }, { voters: ['1', '2', '3'] });
    step(state, { type: 'tick', now: 100_000 });
    step(state, { type: 'tick', now: 50 }); // back by almost 100 s
    step(state, { type: 'tick', now: 50 + T - 1 });
    expect(state.role).toBe('follower');
    step(state, { type: 'tick', now: 50 + 2 * T });
    expect(state.role).toBe('candidate');
  });

  it('a non-finite clock reading is an invariant violation', () => {
    const state = createNode({ id: '1' }, { voters: ['1'] });
    expect(() => step(state, { type: 'tick', now: Number.NaN })).toThrow(RaftInvariantError);
  });
});

describe('persistence rules beyond Figure 2', () => {
  it('a new leader speaks only once its term is durable: a single voter with a learner holds its appends', () => {
    const cluster = new Cluster({ voters: ['1'], learners: ['2'], autoSync: false });
    const ready = cluster.step('1', { type: 'campaign' });
    expect(cluster.node('1').state.role).toBe('leader');
    expect(ready.messages.map((m) => [m.message.type, m.afterPersist])).toEqual([['append', true]]);
    cluster.sync('1');
    cluster.deliver();
    cluster.sync('2');
    cluster.deliver();
    const next = cluster.propose('1', 'x');
    expect(next.messages.map((m) => [m.message.type, m.afterPersist])).toEqual([['append', false]]);
  });

  it('a leader does not commit on its own undurable log, even as the only voter', () => {
    const cluster = new Cluster({ voters: ['1'], autoSync: false });
    cluster.step('1', { type: 'campaign' });
    const ready = cluster.propose('1', 'x');
    expect(ready.committed).toEqual([]);
    expect(cluster.node('1').state.commit).toBe(1);
    cluster.sync('1');
    expect(cluster.node('1').state.commit).toBe(3);
    expect(cluster.node('1').applied.map((e) => e.index)).toEqual([1, 2, 3]);
  });

  it('a stale durability report (for an entry since overwritten) is ignored', () => {
    const state = createNode({ id: '1' }, { voters: ['1', '2', '3'] });
    step(state, { type: 'tick', now: 0 });
    const entry = (index: number, term: number) => ({ index, term, kind: 'normal' as const, data: new Uint8Array(), conf: null });
    step(state, { type: 'message', message: { type: 'append', from: '2', to: '1', term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2), entry(5, 2)], commit: 3 } });
    step(state, { type: 'message', message: { type: 'append', from: '3', to: '1', term: 3, prevIndex: 4, prevTerm: 2, entries: [entry(5, 3)], commit: 3 } });
    step(state, { type: 'persisted', index: 5, term: 2 });
    expect(state.durableIndex).toBe(0);
    step(state, { type: 'persisted', index: 5, term: 3 });
    expect(state.durableIndex).toBe(5);
  });
});

describe('pre-vote', () => {
  it('a pre-candidate does not change its term or vote, and persists nothing', () => {
    const state = createNode({ id: '1' }, { voters: ['1', '2', '3'] });
    step(state, { type: 'tick', now: 0 });
    const ready = step(state, { type: 'campaign' });
    expect(state).toMatchObject({ role: 'pre-candidate', term: 1, vote: null });
    expect(ready.persist).toBeNull();
    expect(sent(ready).every((m) => m.type === 'vote' && m.preVote && m.term === 2)).toBe(true);
  });

  it('granting a pre-vote changes neither term nor vote of the voter', () => {
    const state = createNode({ id: '2', checkQuorum: false }, { voters: ['1', '2', '3'] });
    step(state, { type: 'tick', now: 0 });
    const ready = step(state, { type: 'message', message: { type: 'vote', from: '1', to: '2', term: 2, preVote: true, transfer: false, lastIndex: 3, lastTerm: 1 } });
    expect(sent(ready)[0]).toMatchObject({ type: 'vote-response', preVote: true, granted: true, term: 2 });
    expect(state).toMatchObject({ term: 1, vote: null });
  });

  it('a pre-vote quorum leads to a real election, which a single voter wins alone', () => {
    const solo = createNode({ id: '1' }, { voters: ['1'] });
    step(solo, { type: 'tick', now: 0 });
    step(solo, { type: 'campaign' });
    expect(solo).toMatchObject({ role: 'leader', term: 2 });
  });
});

describe('check-quorum and leader stickiness', () => {
  it('a leader steps down after a full election timeout without hearing from a quorum', () => {
    const cluster = elected();
    cluster.partition(['1'], ['2', '3']);
    cluster.tick('1', T, 100); // the window in which the election answers still count
    expect(cluster.node('1').state.role).toBe('leader');
    cluster.tick('1', T, 100);
    expect(cluster.node('1').state.role).toBe('follower');
  });

  it('a leader that keeps hearing from a quorum stays', () => {
    const cluster = elected();
    cluster.partition(['1'], ['3']);
    cluster.run(5 * T, 50);
    expect(cluster.leader()).toBe('1');
  });

  it('without check-quorum an isolated leader stays leader', () => {
    const cluster = elected({ checkQuorum: false });
    cluster.partition(['1'], ['2', '3']);
    cluster.tick('1', 5 * T, 100);
    expect(cluster.node('1').state.role).toBe('leader');
  });

  it('followers in lease ignore vote requests, but not those of a leadership transfer', () => {
    const cluster = elected();
    const follower = cluster.node('2').state;
    const request = { type: 'vote', from: '3', to: '2', term: 9, preVote: false, transfer: false, lastIndex: 99, lastTerm: 9 } as const;
    expect(cluster.step('2', { type: 'message', message: request }).messages).toEqual([]);
    expect(follower.term).toBe(2);
    cluster.step('2', { type: 'message', message: { ...request, transfer: true } });
    expect(follower).toMatchObject({ term: 9, vote: '3' });
  });
});

describe('leases of non-voters', () => {
  it('a node that is no voter in its own view still lets its leader lease expire, then answers vote requests', () => {
    const joiner = createNode({ id: '2', electionTimeoutMs: T }, { voters: [] });
    step(joiner, { type: 'tick', now: 0 });
    step(joiner, { type: 'message', message: { type: 'heartbeat', from: '1', to: '2', term: 2, commit: 0, context: null } });
    const request = { type: 'vote', from: '1', to: '2', term: 3, preVote: false, transfer: false, lastIndex: 4, lastTerm: 2 } as const;
    expect(step(joiner, { type: 'message', message: request }).messages).toEqual([]); // in lease
    step(joiner, { type: 'tick', now: 3 * T });
    expect(sent(step(joiner, { type: 'message', message: request }))).toMatchObject([{ type: 'vote-response', granted: true }]);
  });
});

describe('ReadIndex', () => {
  it('a single-voter leader serves reads at once at its commit index', () => {
    const cluster = new Cluster({ voters: ['1'] });
    cluster.elect('1');
    const ready = cluster.step('1', { type: 'read-index', context: 'r' });
    expect(ready.readStates).toEqual([{ context: 'r', index: cluster.node('1').state.commit }]);
  });

  it('reads are served at the commit index seen when they arrived, after a quorum confirms', () => {
    const cluster = elected();
    cluster.propose('1', 'a');
    cluster.deliver();
    const ready = cluster.step('1', { type: 'read-index', context: 'r' });
    expect(ready.readStates).toEqual([]);
    expect(sent(ready).map((m) => m.type)).toEqual(['heartbeat', 'heartbeat']);
    cluster.deliver();
    expect(cluster.node('1').readStates).toEqual([{ context: 'r', index: 5 }]);
  });

  it('a quorum acknowledging a later read also serves the earlier ones', () => {
    const cluster = elected();
    cluster.step('1', { type: 'read-index', context: 'r1' });
    cluster.drop(() => true);
    cluster.step('1', { type: 'read-index', context: 'r2' });
    cluster.deliver();
    expect(cluster.node('1').readStates.map((r) => r.context)).toEqual(['r1', 'r2']);
  });

  it('a learner\'s acknowledgement does not count', () => {
    const cluster = elected({}, ['1', '2', '3'], ['4']);
    cluster.partition(['1'], ['2', '3']);
    cluster.step('1', { type: 'read-index', context: 'r' });
    cluster.deliver();
    expect(cluster.node('1').readStates).toEqual([]);
  });
});

describe('leadership transfer', () => {
  it('the target wins and proposals are refused meanwhile', () => {
    const cluster = elected();
    cluster.step('1', { type: 'transfer-leadership', to: '2' });
    const refused = cluster.propose('1', 'x');
    expect(refused.rejected).toMatchObject([{ input: 'propose', reason: 'transfer-in-progress' }]);
    const conf = cluster.step('1', { type: 'propose-conf', change: { type: 'add-learner', node: '9' } });
    expect(conf.rejected).toMatchObject([{ reason: 'transfer-in-progress' }]);
    cluster.deliver();
    expect(cluster.leader()).toBe('2');
  });

  it('is abandoned after an election timeout', () => {
    const cluster = elected();
    cluster.partition(['1'], ['3']);
    cluster.step('1', { type: 'transfer-leadership', to: '3' });
    cluster.run(T + 100, 50);
    expect(cluster.leader()).toBe('1');
    expect(cluster.node('1').state.leadTransferee).toBeNull();
    expect(cluster.propose('1', 'after').rejected).toEqual([]);
  });
});

describe('snapshots', () => {
  it('compaction keeps the log after the index and emits the snapshot to store', () => {
    const cluster = elected();
    cluster.propose('1', 'a', 'b');
    cluster.deliver();
    const ready = cluster.step('1', { type: 'compact', index: 5, data: new Uint8Array([1]) });
    expect(ready.persist?.snapshot).toMatchObject({ index: 5, term: 2, membership: { voters: ['1', '2', '3'], learners: [] } });
    expect(ready.persist?.snapshotResetsLog).toBe(false);
    const leader = cluster.node('1').state;
    expect(leader.log.snapshotIndex).toBe(5);
    expect(leader.log.entries.map((e) => e.index)).toEqual([6]);
  });

  it('a follower behind the snapshot installs it, and restarts from it', () => {
    const cluster = elected();
    cluster.partition(['1', '2'], ['3']);
    cluster.propose('1', 'a', 'b', 'c');
    cluster.deliver();
    cluster.step('1', { type: 'compact', index: 6, data: new TextEncoder().encode('image') });
    cluster.heal();
    cluster.run(300, 50);
    const follower = cluster.node('3');
    expect(follower.snapshots.map((s) => s.index)).toEqual([6]);
    expect(follower.disk.durable.snapshot?.index).toBe(6);
    expect(lastLogIndex(follower.state)).toBe(7);
    cluster.crash('3');
    cluster.restart('3');
    expect(cluster.node('3').state.log.snapshotIndex).toBe(6);
    expect(cluster.node('3').applied.map((e) => e.index)).toEqual([7]);
  });

  it('a snapshot at or below the commit index is acknowledged without being installed', () => {
    const cluster = elected();
    const follower = cluster.node('2').state;
    const snapshot = { index: 2, term: 1, membership: { voters: ['1', '2', '3'], learners: [] }, data: new Uint8Array() };
    const ready = cluster.step('2', { type: 'message', message: { type: 'snapshot', from: '1', to: '2', term: 2, snapshot } });
    expect(ready.applySnapshot).toBeNull();
    expect(sent(ready)[0]).toMatchObject({ type: 'append-response', index: follower.commit });
  });
});

describe('membership', () => {
  it('a learner replicates but neither votes nor counts for commitment', () => {
    const cluster = elected({}, ['1', '2'], ['3']);
    cluster.partition(['1'], ['2']);
    cluster.propose('1', 'x');
    cluster.deliver();
    expect(cluster.node('3').state.log.entries.at(-1)?.index).toBe(5); // bootstrap 1..3, no-op 4, x at 5
    expect(cluster.node('1').state.commit).toBe(4);
    const learner = cluster.node('3').state;
    cluster.tick('3', 10 * T);
    expect(learner.role).toBe('follower');
  });

  it('a promoted learner votes and counts', () => {
    const cluster = elected({}, ['1', '2'], ['3']);
    cluster.step('1', { type: 'propose-conf', change: { type: 'promote', node: '3' } });
    cluster.deliver();
    expect(cluster.node('1').state.membership).toEqual({ voters: ['1', '2', '3'], learners: [] });
    cluster.partition(['1', '3'], ['2']);
    cluster.propose('1', 'x');
    cluster.deliver();
    expect(cluster.node('1').state.commit).toBe(6); // promote at 5, x at 6: committed by 1 and 3
  });

  it('a truncated conf entry is undone', () => {
    const cluster = elected({ checkQuorum: false }, ['1', '2', '3']);
    cluster.partition(['1'], ['2', '3']);
    cluster.step('1', { type: 'propose-conf', change: { type: 'add-voter', node: '4' } });
    expect(cluster.node('1').state.membership.voters).toEqual(['1', '2', '3', '4']);
    cluster.deliver();
    cluster.tick('2', 3 * T);
    cluster.deliver();
    expect(cluster.leader()).toBe('2');
    cluster.heal();
    cluster.run(500, 50);
    expect(cluster.node('1').state.membership.voters).toEqual(['1', '2', '3']);
    expect(cluster.node('1').state.role).toBe('follower');
  });

  it('a removed follower learns its removal committed and never campaigns again, even without pre-vote', () => {
    const cluster = elected({ preVote: false, checkQuorum: false });
    cluster.step('1', { type: 'propose-conf', change: { type: 'remove', node: '3' } });
    cluster.deliver();
    const removed = cluster.node('3').state;
    expect(removed.membership.voters).toEqual(['1', '2']);
    expect(removed.commit).toBeGreaterThanOrEqual(removed.membershipIndex);
    expect(cluster.node('1').state.peers).toEqual(['2']);
    cluster.tick('3', 20 * T, 100);
    expect(cluster.network.filter((m) => m.from === '3')).toEqual([]);
    expect(removed.term).toBe(2);
  });

  it('a node with an empty bootstrap waits for a leader and never campaigns', () => {
    const state = createNode({ id: '9' }, { voters: [] });
    step(state, { type: 'tick', now: 0 });
    const ready = step(state, { type: 'tick', now: 10 * T });
    expect(ready.messages).toEqual([]);
    expect(step(state, { type: 'campaign' }).messages).toEqual([]);
  });
});

describe('flow control', () => {
  it('at most maxInflightMessages appends are outstanding per follower', () => {
    const cluster = elected({ maxInflightMessages: 3 });
    cluster.drop(() => true);
    for (let i = 0; i < 10; i++) cluster.propose('1', `p${i}`);
    const toTwo = cluster.network.filter((m) => m.type === 'append' && m.to === '2');
    expect(toTwo.length).toBe(3);
  });

  it('an append carries at most maxEntriesPerMessage entries and maxBytesPerMessage bytes', () => {
    const cluster = elected({ maxEntriesPerMessage: 3, maxBytesPerMessage: 10 });
    cluster.partition(['1'], ['2', '3']);
    for (let i = 0; i < 8; i++) cluster.propose('1', 'abcd');
    cluster.deliver();
    cluster.heal();
    cluster.run(300, 50);
    const appends = cluster.delivered.filter((m): m is Extract<Message, { type: 'append' }> => m.type === 'append' && m.from === '1');
    for (const m of appends) {
      expect(m.entries.length).toBeLessThanOrEqual(3);
      expect(m.entries.reduce((n, e) => n + e.data.length, 0)).toBeLessThanOrEqual(10);
    }
    expect(cluster.node('2').state.commit).toBe(12);
  });

  it('a proposal may carry up to maxEntryBytes (default maxBytesPerMessage); a larger entry travels alone', () => {
    const strict = elected({ maxBytesPerMessage: 10 });
    expect(strict.step('1', { type: 'propose', payloads: [new Uint8Array(11)] }).rejected).toMatchObject([{ reason: 'entry-too-large' }]);
    const roomy = elected({ maxBytesPerMessage: 10, maxEntryBytes: 100 });
    expect(roomy.step('1', { type: 'propose', payloads: [new Uint8Array(101)] }).rejected).toMatchObject([{ reason: 'entry-too-large' }]);
    roomy.propose('1', 'x'.repeat(100));
    roomy.run(300, 50);
    const carrying = roomy.delivered.filter((m): m is Extract<Message, { type: 'append' }> => m.type === 'append' && m.entries.some((e) => e.data.length === 100));
    expect(carrying.length).toBeGreaterThan(0);
    for (const m of carrying) expect(m.entries).toHaveLength(1);
    expect(roomy.node('2').state.commit).toBe(roomy.node('1').state.commit);
  });

  it('a follower in probe state gets one append at a time', () => {
    const cluster = elected();
    const leader = cluster.node('1').state;
    leader.progress['2'] = { ...leader.progress['2']!, state: 'probe', probeSent: false, next: lastLogIndex(leader) + 1, inflight: [] };
    cluster.drop(() => true);
    cluster.propose('1', 'a');
    cluster.propose('1', 'b');
    expect(cluster.network.filter((m) => m.to === '2').length).toBe(1);
  });
});

describe('limits and rejections', () => {
  it('non-leaders refuse requests with a leader hint', () => {
    const cluster = elected();
    for (const input of [
      { type: 'propose', payloads: [new Uint8Array(1)] },
      { type: 'propose-conf', change: { type: 'add-learner', node: '9' } },
      { type: 'transfer-leadership', to: '3' },
    ] as RaftInput[]) {
      const ready = cluster.step('2', input);
      expect(ready.rejected).toMatchObject([{ reason: 'not-leader', leaderHint: '1' }]);
      expect(ready.rejected[0]!.detail).toMatch(/^2 is not the leader; try 1$/);
    }
  });

  it('the uncommitted-bytes limit refuses proposals until entries commit', () => {
    const cluster = elected({ maxUncommittedBytes: 10 });
    cluster.partition(['1'], ['2', '3']);
    expect(cluster.propose('1', '12345678').rejected).toEqual([]);
    expect(cluster.propose('1', '1234').rejected).toMatchObject([{ reason: 'uncommitted-limit' }]);
    cluster.deliver();
    cluster.heal();
    cluster.run(300, 50);
    expect(cluster.propose('1', '1234').rejected).toEqual([]);
  });

  it('reads beyond maxPendingReads are refused, locally and when forwarded', () => {
    const cluster = elected({ maxPendingReads: 2 });
    cluster.partition(['1'], ['2', '3']);
    cluster.step('1', { type: 'read-index', context: 'a' });
    cluster.step('1', { type: 'read-index', context: 'b' });
    expect(cluster.step('1', { type: 'read-index', context: 'c' }).rejected).toMatchObject([{ input: 'read-index', reason: 'read-limit', context: 'c' }]);
    const forwarded = { type: 'read-index', from: '2', to: '1', term: 2, context: 'd' } as const;
    expect(sent(cluster.step('1', { type: 'message', message: forwarded }))).toMatchObject([{ type: 'read-index-response', to: '2', reject: 'read-limit' }]);
  });

  it('a single batch above the limit is accepted when nothing is uncommitted, so it cannot wedge the leader', () => {
    const cluster = elected({ maxUncommittedBytes: 4 });
    expect(cluster.propose('1', '123456').rejected).toEqual([]);
  });

  it('bad options are refused with a clear message', () => {
    expect(() => createNode({ id: '' }, { voters: ['1'] })).toThrow('raft options: id must be a non-empty string');
    expect(() => createNode({ id: '1', electionTimeoutMs: 0 }, { voters: ['1'] })).toThrow('electionTimeoutMs must be a positive integer');
    expect(() => createNode({ id: '1', heartbeatIntervalMs: 2000 }, { voters: ['1'] })).toThrow('heartbeatIntervalMs must be smaller');
    expect(() => createNode({ id: '1' }, { voters: ['1', '1'] })).toThrow('duplicate voter');
    expect(() => createNode({ id: '1' }, { voters: ['1'], learners: ['1'] })).toThrow('both voter and learner');
  });
});

describe('assertions on impossible states', () => {
  it('two leaders in one term', () => {
    const cluster = elected();
    const message: Message = { type: 'append', from: '2', to: '1', term: 2, prevIndex: 4, prevTerm: 2, entries: [], commit: 4 };
    expect(() => cluster.step('1', { type: 'message', message })).toThrow(/two leaders in term 2/);
  });

  it('truncating a committed entry', () => {
    const cluster = elected();
    const entry = { index: 4, term: 3, kind: 'normal', data: new Uint8Array(), conf: null } as const;
    const message: Message = { type: 'append', from: '1', to: '2', term: 3, prevIndex: 3, prevTerm: 1, entries: [entry], commit: 4 };
    expect(cluster.node('2').state.commit).toBe(4);
    expect(() => cluster.step('2', { type: 'message', message })).toThrow(/truncating committed entry 4/);
  });

  it('a message for another node, applying what was not handed out, a gap in the persisted log', () => {
    const cluster = elected();
    const message = { type: 'timeout-now', from: '1', to: '3', term: 2 } as const;
    expect(() => cluster.step('2', { type: 'message', message })).toThrow(RaftInvariantError);
    expect(() => cluster.step('2', { type: 'applied', index: 99 })).toThrow(/applied 99 beyond/);
    const entry = (index: number) => ({ index, term: 1, kind: 'normal' as const, data: new Uint8Array(), conf: null });
    expect(() => restartNode({ id: '1' }, { hardState: { term: 1, vote: null, commit: 0 }, snapshot: null, entries: [entry(1), entry(3)] })).toThrow(/gap/);
    expect(() => restartNode({ id: '1' }, { hardState: { term: 1, vote: null, commit: 5 }, snapshot: null, entries: [entry(1)] })).toThrow(/beyond the last persisted index/);
  });

  it('log terms going backwards', () => {
    const state = createNode({ id: '1' }, { voters: ['1', '2', '3'] });
    const ready = step(state, { type: 'tick', now: 0 });
    step(state, { type: 'persisted', ...persistedPoint(ready.persist!)! });
    state.term = 5;
    state.log.entries.push({ index: 4, term: 4, kind: 'normal', data: new Uint8Array(), conf: null });
    state.term = 3; // corrupted by a buggy driver
    const message: Message = { type: 'append', from: '2', to: '1', term: 3, prevIndex: 4, prevTerm: 4, entries: [{ index: 5, term: 3, kind: 'normal', data: new Uint8Array(), conf: null }], commit: 0 };
    expect(() => step(state, { type: 'message', message })).toThrow(/term 3 below the previous 4/);
  });
});

describe('node state is plain data', () => {
  function assertPlain(value: unknown, path: string): void {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return;
    if (value instanceof Uint8Array) return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => assertPlain(v, `${path}[${i}]`));
      return;
    }
    if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      for (const [k, v] of Object.entries(value)) assertPlain(v, `${path}.${k}`);
      return;
    }
    throw new Error(`${path} is not plain data: ${Object.prototype.toString.call(value)}`);
  }

  it('every node of a busy cluster holds only objects, arrays, primitives and bytes, and can be cloned and forked', () => {
    const cluster = elected({}, ['1', '2', '3'], ['4']);
    cluster.propose('1', 'a');
    cluster.step('1', { type: 'read-index', context: 'r' });
    cluster.step('1', { type: 'compact', index: 3, data: new Uint8Array([1]) });
    for (const id of cluster.ids) {
      const state: RaftState = cluster.node(id).state;
      assertPlain(state, id);
      const fork = structuredClone(state);
      expect(JSON.stringify(step(fork, { type: 'tick', now: 9999 }).messages)).toBe(JSON.stringify(step(state, { type: 'tick', now: 9999 }).messages));
    }
  });

  it('the plain-data check fails on a Map', () => {
    expect(() => assertPlain({ a: new Map() }, 'x')).toThrow('x.a is not plain data');
  });
});
