// One test (or a few) per rule of the Raft paper's Figure 2, driving single nodes with hand-made messages so
// each rule is seen in isolation.
import { describe, expect, it } from 'vitest';
import { createNode, lastLogIndex, logTerm, restartNode, step } from '../../../core/raft/index.ts';
import type { AppendRequest, Entry, Message, RaftState, Ready, VoteRequest } from '../../../core/raft/index.ts';
import { Cluster, applyPersist, persistedPoint } from './cluster.ts';

const T = 1000;

/** A bootstrapped node (log 1..3 at term 1, committed) whose bootstrap is durable, clock at 0. */
function freshNode(id = '1', voters = ['1', '2', '3'], options: Record<string, unknown> = {}): RaftState {
  const state = createNode({ id, seed: 7, electionTimeoutMs: T, heartbeatIntervalMs: 100, ...options }, { voters });
  const ready = step(state, { type: 'tick', now: 0 });
  const point = persistedPoint(ready.persist!)!;
  step(state, { type: 'persisted', ...point });
  return state;
}

/** Steps and marks whatever the Ready wrote as durable, like a driver with an instant disk. */
function stepDurable(state: RaftState, input: Parameters<typeof step>[1]): Ready {
  const ready = step(state, input);
  const point = ready.persist === null ? null : persistedPoint(ready.persist);
  if (point === null) return ready;
  const after = step(state, { type: 'persisted', ...point });
  return { ...ready, committed: [...ready.committed, ...after.committed], messages: [...ready.messages, ...after.messages] };
}

function deliver(state: RaftState, message: Message): Ready {
  return stepDurable(state, { type: 'message', message });
}

function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index, term, kind: 'normal', data: new TextEncoder().encode(text), conf: null };
}

function append(overrides: Partial<AppendRequest> & Pick<AppendRequest, 'term' | 'prevIndex' | 'prevTerm'>): AppendRequest {
  return { type: 'append', from: '2', to: '1', entries: [], commit: 0, ...overrides };
}

function vote(overrides: Partial<VoteRequest> & Pick<VoteRequest, 'term' | 'lastIndex' | 'lastTerm'>): VoteRequest {
  return { type: 'vote', from: '2', to: '1', preVote: false, transfer: false, ...overrides };
}

function sent(ready: Ready): Message[] {
  return ready.messages.map((m) => m.message);
}

function leaderOfThree(): Cluster {
  const cluster = new Cluster({ voters: ['1', '2', '3'], raft: { checkQuorum: false, preVote: false } });
  cluster.elect('1');
  return cluster;
}

describe('Figure 2, rules for all servers', () => {
  it('applies committed entries in order, each exactly once, and only once durable locally', () => {
    const state = freshNode();
    const r1 = step(state, { type: 'message', message: append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2), entry(5, 2)], commit: 5 }) });
    expect(state.commit).toBe(5);
    expect(r1.committed).toEqual([]); // not durable yet
    const r2 = step(state, { type: 'persisted', index: 5, term: 2 });
    expect(r2.committed.map((e) => e.index)).toEqual([4, 5]);
    const r3 = step(state, { type: 'persisted', index: 5, term: 2 });
    expect(r3.committed).toEqual([]);
  });

  it('a higher term in any request or response makes the node a follower of that term', () => {
    const higher: Array<(term: number) => Message> = [
      (term) => append({ term, prevIndex: 0, prevTerm: 0 }),
      (term) => ({ type: 'heartbeat', from: '2', to: '1', term, commit: 0, context: null }),
      (term) => ({ type: 'append-response', from: '2', to: '1', term, reject: false, index: 0, hintIndex: 0, hintTerm: 0 }),
      (term) => ({ type: 'vote-response', from: '2', to: '1', term, preVote: false, granted: false }),
      (term) => ({ type: 'heartbeat-response', from: '2', to: '1', term, context: null }),
    ];
    for (const make of higher) {
      const cluster = leaderOfThree();
      const leader = cluster.node('1').state;
      const ready = step(leader, { type: 'message', message: make(leader.term + 5) });
      expect(leader.role, make(0).type).toBe('follower');
      expect(leader.term).toBe(7);
      expect(leader.vote).toBeNull();
      expect(ready.persist?.hardState?.term).toBe(7);
      expect(ready.mustSync).toBe(true);
    }
  });
});

describe('Figure 2, followers', () => {
  it('become candidates after an election timeout without hearing from a leader, not before', () => {
    const state = freshNode('1', ['1', '2', '3'], { preVote: false });
    step(state, { type: 'tick', now: T - 1 });
    expect(state.role).toBe('follower');
    const ready = step(state, { type: 'tick', now: 2 * T });
    expect(state.role).toBe('candidate');
    expect(sent(ready).filter((m) => m.type === 'vote').map((m) => m.to)).toEqual(['2', '3']);
  });

  it('hearing from the leader resets the election timer', () => {
    const state = freshNode('1', ['1', '2', '3'], { preVote: false });
    for (let now = 500; now <= 10 * T; now += 500) {
      step(state, { type: 'tick', now });
      deliver(state, { type: 'heartbeat', from: '2', to: '1', term: 2, commit: 3, context: null });
    }
    expect(state.role).toBe('follower');
    expect(state.leader).toBe('2');
  });

  it('granting a vote resets the election timer', () => {
    const state = freshNode('1', ['1', '2', '3'], { preVote: false, checkQuorum: false });
    step(state, { type: 'tick', now: T - 10 });
    deliver(state, vote({ term: 2, lastIndex: 3, lastTerm: 1 }));
    step(state, { type: 'tick', now: 2 * T - 20 });
    expect(state.role).toBe('follower');
  });
});

describe('Figure 2, candidates', () => {
  it('on conversion increment the term, vote for themselves and request votes, persisted before sending', () => {
    const state = freshNode('1', ['1', '2', '3'], { preVote: false });
    const ready = step(state, { type: 'campaign' });
    expect(state).toMatchObject({ role: 'candidate', term: 2, vote: '1' });
    expect(ready.persist?.hardState).toEqual({ term: 2, vote: '1', commit: 3 });
    expect(ready.mustSync).toBe(true);
    for (const out of ready.messages) {
      expect(out.message).toMatchObject({ type: 'vote', term: 2, lastIndex: 3, lastTerm: 1, preVote: false });
      expect(out.afterPersist).toBe(true);
    }
  });

  it('become leader with votes from a majority, and not before', () => {
    const state = freshNode('1', ['1', '2', '3', '4', '5'], { preVote: false });
    step(state, { type: 'campaign' });
    deliver(state, { type: 'vote-response', from: '2', to: '1', term: 2, preVote: false, granted: true });
    expect(state.role).toBe('candidate');
    deliver(state, { type: 'vote-response', from: '2', to: '1', term: 2, preVote: false, granted: true });
    expect(state.role).toBe('candidate'); // the same voter twice counts once
    deliver(state, { type: 'vote-response', from: '3', to: '1', term: 2, preVote: false, granted: true });
    expect(state.role).toBe('leader');
  });

  it('a majority of refusals ends the candidacy', () => {
    const state = freshNode('1', ['1', '2', '3'], { preVote: false });
    step(state, { type: 'campaign' });
    deliver(state, { type: 'vote-response', from: '2', to: '1', term: 2, preVote: false, granted: false });
    deliver(state, { type: 'vote-response', from: '3', to: '1', term: 2, preVote: false, granted: false });
    expect(state.role).toBe('follower');
    expect(state.term).toBe(2);
  });

  it('an append from a leader of the same term makes them followers', () => {
    const state = freshNode('1', ['1', '2', '3'], { preVote: false });
    step(state, { type: 'campaign' });
    deliver(state, append({ term: 2, prevIndex: 3, prevTerm: 1 }));
    expect(state).toMatchObject({ role: 'follower', leader: '2', term: 2 });
  });

  it('a new election starts if the election timeout elapses', () => {
    const state = freshNode('1', ['1', '2', '3'], { preVote: false });
    step(state, { type: 'campaign' });
    step(state, { type: 'tick', now: 2 * T });
    expect(state).toMatchObject({ role: 'candidate', term: 3 });
  });
});

describe('Figure 2, leaders', () => {
  it('announce themselves at once and send heartbeats while idle', () => {
    const cluster = leaderOfThree();
    const appends = cluster.delivered.filter((m) => m.type === 'append' && m.from === '1');
    expect(appends.length).toBeGreaterThanOrEqual(2);
    const ready = cluster.step('1', { type: 'tick', now: cluster.node('1').clock + 100 });
    expect(sent(ready).map((m) => `${m.type}->${m.to}`)).toEqual(['heartbeat->2', 'heartbeat->3']);
  });

  it('append client commands to their log and say where they landed', () => {
    const cluster = leaderOfThree();
    const ready = cluster.propose('1', 'a', 'b');
    expect(ready.proposed).toEqual({ firstIndex: 5, lastIndex: 6, term: 2 });
    expect(sent(ready).every((m) => m.type === 'append' && m.entries.length === 2)).toBe(true);
  });

  it('on a rejection move nextIndex back and retry; on success advance matchIndex and nextIndex', () => {
    const cluster = leaderOfThree();
    const leader = cluster.node('1').state;
    cluster.partition(['1'], ['3']);
    cluster.propose('1', 'a');
    cluster.propose('1', 'b');
    cluster.deliver();
    cluster.heal();
    expect(leader.progress['3']).toMatchObject({ match: 4 });
    // A probe at 6 that node 3 cannot match.
    leader.progress['3'] = { ...leader.progress['3']!, state: 'probe', next: 7, probeSent: false, inflight: [] };
    cluster.tick('1', 100);
    cluster.deliver();
    expect(leader.progress['3']).toMatchObject({ match: 6, next: 7, state: 'replicate' });
    expect(lastLogIndex(cluster.node('3').state)).toBe(6);
  });

  it('commit N once a majority holds it and log[N] is of the current term', () => {
    const state = freshNode('1', ['1', '2', '3'], { preVote: false });
    stepDurable(state, { type: 'campaign' });
    deliver(state, { type: 'vote-response', from: '2', to: '1', term: 2, preVote: false, granted: true });
    expect(state.role).toBe('leader');
    expect(state.commit).toBe(3);
    deliver(state, { type: 'append-response', from: '2', to: '1', term: 2, reject: false, index: 4, hintIndex: 0, hintTerm: 0 });
    expect(state.commit).toBe(4);
  });

  it('never commit an entry of an older term by counting replicas (Figure 8)', () => {
    // Node 1 holds 4@2 from its own earlier leadership; now leader of term 3 with no-op 5@3.
    const state = freshNode('1', ['1', '2', '3'], { preVote: false });
    deliver(state, append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2)], commit: 3 }));
    stepDurable(state, { type: 'campaign' });
    deliver(state, { type: 'vote-response', from: '3', to: '1', term: 3, preVote: false, granted: true });
    expect(state.role).toBe('leader');
    deliver(state, { type: 'append-response', from: '3', to: '1', term: 3, reject: false, index: 4, hintIndex: 0, hintTerm: 0 });
    expect(state.commit).toBe(3); // 4@2 is on a majority (1 and 3), but is not of term 3
    deliver(state, { type: 'append-response', from: '3', to: '1', term: 3, reject: false, index: 5, hintIndex: 0, hintTerm: 0 });
    expect(state.commit).toBe(5); // the term-3 no-op carries it
  });
});

describe('Figure 2, RequestVote receiver', () => {
  it('1. refuses a candidate of an older term, telling it the current term', () => {
    const state = freshNode();
    deliver(state, append({ term: 5, prevIndex: 3, prevTerm: 1 }));
    const ready = deliver(state, vote({ term: 4, lastIndex: 9, lastTerm: 4 }));
    expect(sent(ready)).toEqual([{ type: 'vote-response', from: '1', to: '2', term: 5, preVote: false, granted: false }]);
  });

  it('2. votes for at most one candidate per term, and again for the same one', () => {
    const state = freshNode('1', ['1', '2', '3'], { checkQuorum: false });
    const first = deliver(state, vote({ term: 2, lastIndex: 3, lastTerm: 1 }));
    expect(sent(first)[0]).toMatchObject({ granted: true });
    expect(first.persist?.hardState).toEqual({ term: 2, vote: '2', commit: 3 });
    expect(first.messages[0]!.afterPersist).toBe(true);
    const other = deliver(state, vote({ from: '3', term: 2, lastIndex: 3, lastTerm: 1 }));
    expect(sent(other)[0]).toMatchObject({ granted: false });
    const again = deliver(state, vote({ term: 2, lastIndex: 3, lastTerm: 1 }));
    expect(sent(again)[0]).toMatchObject({ granted: true });
  });

  it('2. grants only to a candidate whose log is at least as up-to-date (last term, then length)', () => {
    const base = () => {
      const s = freshNode('1', ['1', '2', '3'], { checkQuorum: false });
      deliver(s, append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2), entry(5, 2)] }));
      s.leader = null; // a leaderless follower, as after a timeout
      return s;
    };
    const cases: Array<[number, number, boolean]> = [
      [5, 2, true], // identical
      [6, 2, true], // longer, same last term
      [4, 2, false], // shorter, same last term
      [2, 3, true], // shorter but later last term
      [9, 1, false], // longer but older last term
    ];
    for (const [lastIndex, lastTerm, granted] of cases) {
      const ready = deliver(base(), vote({ term: 3, lastIndex, lastTerm }));
      expect(sent(ready)[0], `${lastIndex}@${lastTerm}`).toMatchObject({ granted });
    }
  });
});

describe('Figure 2, AppendEntries receiver', () => {
  it('1. refuses a leader of an older term, telling it the current term', () => {
    const state = freshNode();
    deliver(state, append({ term: 5, prevIndex: 3, prevTerm: 1 }));
    const ready = deliver(state, append({ from: '3', term: 4, prevIndex: 3, prevTerm: 1, entries: [entry(4, 4)] }));
    expect(sent(ready)[0]).toMatchObject({ type: 'append-response', term: 5, reject: true });
    expect(lastLogIndex(state)).toBe(3);
  });

  it('2. refuses when the log has no entry at prevIndex with prevTerm, with a backtracking hint', () => {
    const state = freshNode();
    const missing = deliver(state, append({ term: 2, prevIndex: 7, prevTerm: 2 }));
    expect(sent(missing)[0]).toMatchObject({ reject: true, index: 7, hintIndex: 3, hintTerm: 1 });
    deliver(state, append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2), entry(5, 2), entry(6, 2)] }));
    const wrongTerm = deliver(state, append({ term: 3, prevIndex: 6, prevTerm: 3 }));
    // Node 1's entries up to 6 have term 2 <= 3: any of them may match, so the hint is 6@2.
    expect(sent(wrongTerm)[0]).toMatchObject({ reject: true, index: 6, hintIndex: 6, hintTerm: 2 });
    const olderTerm = deliver(state, append({ term: 3, prevIndex: 6, prevTerm: 1 }));
    // Only entries with term <= 1 can match a prevTerm of 1: the hint skips the whole term-2 run.
    expect(sent(olderTerm)[0]).toMatchObject({ reject: true, index: 6, hintIndex: 3, hintTerm: 1 });
  });

  it('3. deletes a conflicting entry and all that follow it', () => {
    const state = freshNode();
    deliver(state, append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2), entry(5, 2), entry(6, 2)] }));
    const ready = deliver(state, append({ term: 3, prevIndex: 4, prevTerm: 2, entries: [entry(5, 3, 'new')] }));
    expect(lastLogIndex(state)).toBe(5);
    expect(logTerm(state, 5)).toBe(3);
    expect(ready.persist?.entries.map((e) => e.index)).toEqual([5]); // the driver truncates its log at 5
  });

  it('4. appends new entries, and a duplicate or reordered old append truncates nothing', () => {
    const state = freshNode();
    deliver(state, append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2), entry(5, 2), entry(6, 2)] }));
    const stale = deliver(state, append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2)] }));
    expect(lastLogIndex(state)).toBe(6);
    expect(stale.persist).toBeNull();
    expect(sent(stale)[0]).toMatchObject({ reject: false, index: 4 });
  });

  it('5. sets commit to min(leaderCommit, index of the last new entry)', () => {
    const state = freshNode();
    deliver(state, append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2), entry(5, 2), entry(6, 2)], commit: 3 }));
    deliver(state, append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2)], commit: 9 }));
    expect(state.commit).toBe(4); // entries 5 and 6 are not vouched for by this append
    deliver(state, append({ term: 2, prevIndex: 6, prevTerm: 2, entries: [], commit: 5 }));
    expect(state.commit).toBe(5);
  });

  it('acknowledges only after the entries are persisted', () => {
    const state = freshNode();
    const ready = step(state, { type: 'message', message: append({ term: 2, prevIndex: 3, prevTerm: 1, entries: [entry(4, 2)] }) });
    expect(ready.mustSync).toBe(true);
    expect(ready.persist?.entries.map((e) => e.index)).toEqual([4]);
    expect(ready.messages).toEqual([{ message: expect.objectContaining({ type: 'append-response', index: 4 }), afterPersist: true }]);
  });
});

describe('persistent state survives restarts, volatile state does not', () => {
  it('restart keeps term, vote and log, and replays committed entries after the snapshot', () => {
    const cluster = leaderOfThree();
    cluster.propose('1', 'a');
    cluster.deliver();
    const before = cluster.node('2').state;
    cluster.crash('2');
    cluster.restart('2');
    const after = cluster.node('2').state;
    expect({ term: after.term, vote: after.vote, commit: after.commit, last: lastLogIndex(after) }).toEqual({
      term: before.term,
      vote: before.vote,
      commit: before.commit,
      last: lastLogIndex(before),
    });
    expect(after.role).toBe('follower');
    expect(after.leader).toBeNull();
    expect(cluster.node('2').applied.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a vote survives a crash: the restarted voter refuses a second candidate in the same term', () => {
    const cluster = new Cluster({ voters: ['1', '2', '3'], raft: { preVote: false, checkQuorum: false } });
    cluster.step('1', { type: 'campaign' });
    cluster.deliver((m) => m.type === 'vote' && m.to === '2');
    expect(cluster.node('2').state.vote).toBe('1');
    cluster.crash('2');
    cluster.restart('2');
    expect(cluster.node('3').state.term).toBe(1); // so node 3's campaign is for the same term 2
    cluster.step('3', { type: 'campaign' });
    cluster.network = cluster.network.filter((m) => m.from === '3' && m.to === '2');
    cluster.deliver();
    expect(cluster.node('2').state.vote).toBe('1');
    expect(cluster.node('3').state.role).not.toBe('leader');
  });

  it('restartNode uses nothing but what the disk kept', () => {
    const disk = { hardState: { term: 4, vote: '3', commit: 2 }, snapshot: null, entries: [entry(1, 1), entry(2, 3)] };
    const state = restartNode({ id: '1' }, disk);
    expect(state).toMatchObject({ term: 4, vote: '3', commit: 2, durableIndex: 2, emittedIndex: 0 });
    const ready = step(state, { type: 'tick', now: 0 });
    expect(ready.committed.map((e) => e.index)).toEqual([1, 2]);
    // applyPersist is the driver's half of the contract; restarting from its result is the same node.
    const copy = structuredClone(disk);
    applyPersist(copy, { hardState: null, entries: [entry(2, 4)], snapshot: null, snapshotResetsLog: false });
    expect(copy.entries.map((e) => `${e.index}@${e.term}`)).toEqual(['1@1', '2@4']);
  });
});
