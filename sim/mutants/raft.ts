// The Raft bug zoo: deliberately broken variants of core/raft, each one a classic mistake a Raft
// implementation makes. The property suite (test/core/raft/mutants.test.ts) must catch every one; the
// simulator reuses them to show its checkers catch them too. Each edit matches exactly once in the current
// core, so a refactor that moves the code makes the mutant fail loudly rather than silently test nothing.
import type { Mutant } from './mutate.ts';

const NODE = 'core/raft/node.ts';

export const raftMutants: Mutant[] = [
  {
    name: 'vote-twice-in-a-term',
    description: 'a voter that has already voted in this term grants its vote to a second candidate (while it knows no leader)',
    edits: [{ file: NODE, find: '(state.vote === null && state.leader === null)', replace: '(state.leader === null)' }],
  },
  {
    name: 'commit-old-term-by-counting',
    description:
      'the leader commits an entry of an earlier term once a quorum holds it (Figure 8), instead of only entries of its own term',
    edits: [
      {
        file: NODE,
        find: 'if (candidate <= state.commit || logTerm(state, candidate) !== state.term) return false;',
        replace: 'if (candidate <= state.commit) return false;',
      },
    ],
  },
  {
    name: 'skip-log-consistency-check',
    description: 'a follower accepts an append whose prevIndex it holds without checking that the term there matches prevTerm',
    edits: [{ file: NODE, find: 'if (logTerm(state, m.prevIndex) !== m.prevTerm) {', replace: 'if (logTerm(state, m.prevIndex) === null) {' }],
  },
  {
    name: 'vote-not-persisted',
    description: 'granting a vote does not mark the hard state for persistence, so the vote leaves before (or without) reaching the disk',
    edits: [
      {
        file: NODE,
        find: '    state.vote = m.from;\n    state.hardStateChanged = true;\n    state.termOrVoteChanged = true;',
        replace: '    state.vote = m.from;',
      },
    ],
  },
  {
    name: 'step-down-without-term-update',
    description: 'a node that sees a higher term becomes a follower but keeps its old term',
    edits: [
      {
        file: NODE,
        find: "  if (state.role === 'leader') failPendingReads(state);\n  setTerm(state, term);",
        replace: "  if (state.role === 'leader') failPendingReads(state);",
      },
    ],
  },
  {
    name: 'apply-before-durable',
    description: 'committed entries are handed to the application before they are durable on the local disk',
    edits: [{ file: NODE, find: 'const applicable = Math.min(state.commit, state.durableIndex);', replace: 'const applicable = state.commit;' }],
  },
  {
    name: 'apply-before-commit',
    description: 'entries are handed to the application as soon as they are durable locally, before they are committed',
    edits: [
      {
        file: NODE,
        find: 'const applicable = Math.min(state.commit, state.durableIndex);',
        replace: 'const applicable = Math.max(state.commit, state.durableIndex);',
      },
    ],
  },
  {
    name: 'read-index-before-leader-commits',
    description: 'a new leader serves ReadIndex reads at its commit index before it has committed an entry of its own term',
    edits: [
      {
        file: NODE,
        find: 'if (state.commit < state.leaderStartIndex) {\n    state.readsAwaitingCommit.push',
        replace: 'if (state.commit < 0) {\n    state.readsAwaitingCommit.push',
      },
    ],
  },
  {
    name: 'conf-change-before-leader-commits',
    description:
      "a new leader proposes a membership change before committing an entry of its term (without Ongaro's single-server fix)",
    edits: [
      {
        file: NODE,
        find: "if (state.commit < state.leaderStartIndex) {\n    return reject(state, 'propose-conf', 'leader-not-ready'",
        replace: "if (state.commit < 0) {\n    return reject(state, 'propose-conf', 'leader-not-ready'",
      },
    ],
  },
  {
    name: 'fixed-election-timeout',
    description: 'the election timeout is not randomized, so nodes whose clocks agree time out together and split the vote forever',
    edits: [
      {
        file: NODE,
        find: 'state.randomizedElectionTimeoutMs = state.options.electionTimeoutMs + (value % state.options.electionTimeoutMs);',
        replace: 'state.randomizedElectionTimeoutMs = state.options.electionTimeoutMs + 0 * value;',
      },
    ],
  },
  {
    name: 'accept-stale-term-append',
    description: 'a follower processes an append from a leader of an older term instead of refusing it',
    edits: [
      {
        file: NODE,
        find: '} else if (m.term < state.term) {',
        replace: "} else if (m.term < state.term && m.type !== 'append') {",
      },
    ],
  },
  {
    name: 'leader-counts-undurable-own-log',
    description: 'the leader counts its own log toward a commit quorum before its entries are durable locally',
    edits: [{ file: NODE, find: 'voter === state.id ? state.durableIndex :', replace: 'voter === state.id ? lastLogIndex(state) :' }],
  },
  {
    name: 'heartbeat-commit-beyond-match',
    description: "a heartbeat tells a follower the leader's full commit index, past what the follower is known to match",
    edits: [
      {
        file: NODE,
        find: 'commit: Math.min(pr.match, state.commit), context',
        replace: 'commit: state.commit, context',
      },
    ],
  },
  {
    name: 'election-jitter-outside-state',
    description: 'the election-timeout PRNG lives in a module variable instead of the node state, so a checkpointed node replays differently',
    edits: [
      {
        file: NODE,
        find: 'function resetElectionTimer(state: RaftState): void {\n  const [rng, value] = nextRandom(state.rng);\n  state.rng = rng;',
        replace:
          'let hiddenRng = 1;\nfunction resetElectionTimer(state: RaftState): void {\n  const [rng, value] = nextRandom(hiddenRng);\n  hiddenRng = rng + state.rng * 0;',
      },
    ],
  },
  {
    name: 'quorum-too-small',
    description: 'a quorum is half the voters rounded down instead of a strict majority, so two disjoint halves can both decide',
    edits: [{ file: 'core/raft/log.ts', find: 'return Math.floor(voterCount / 2) + 1;', replace: 'return Math.max(1, Math.floor(voterCount / 2));' }],
  },
  {
    name: 'learners-count-toward-commit',
    description: 'the leader counts learners (non-voting members) when it looks for a quorum holding an entry',
    edits: [
      {
        file: NODE,
        find: 'const voters = state.membership.voters;\n  if (voters.length === 0) return false;',
        replace: 'const voters = [...state.membership.voters, ...state.membership.learners];\n  if (voters.length === 0) return false;',
      },
    ],
  },
  {
    name: 'append-ignores-entry-limit',
    description: 'an append carries one entry more than maxEntriesPerMessage allows',
    edits: [
      {
        file: NODE,
        find: 'while (end < last && end - prevIndex < maxEntriesPerMessage) {',
        replace: 'while (end < last && end - prevIndex <= maxEntriesPerMessage) {',
      },
    ],
  },
  {
    name: 'non-voter-lease-never-expires',
    description: "a node that may not campaign restarts its election clock on every timeout, so its leader lease never expires and it ignores vote requests forever",
    edits: [
      {
        file: NODE,
        find: '  if (!mayCampaign(state)) {\n',
        replace: '  if (!mayCampaign(state)) {\n    state.electionElapsedMs = 0;\n    if (state.electionElapsedMs === 0) return;\n',
      },
    ],
  },
  {
    name: 'restart-forgets-commit',
    description: 'a restarted node ignores the commit index in its persisted hard state',
    edits: [{ file: NODE, find: 'state.commit = Math.max(hardState.commit, base);', replace: 'state.commit = base;' }],
  },
  {
    name: 'vote-sent-before-sync',
    description: 'a granted vote (and the term it adopts) leaves at once instead of waiting until the hard state recording it is synced',
    edits: [
      {
        file: NODE,
        find: "preVote: m.preVote, granted,\n  };\n  send(response, true);",
        replace: "preVote: m.preVote, granted,\n  };\n  send(response, false);",
      },
      {
        file: NODE,
        find: 'for (const out of outMessages) out.afterPersist = true;',
        replace: "for (const out of outMessages) if (out.message.type !== 'vote-response') out.afterPersist = true;",
      },
    ],
  },
];

export function raftMutantNamed(name: string): Mutant {
  const m = raftMutants.find((x) => x.name === name);
  if (!m) throw new Error(`no raft mutant named ${name}`);
  return m;
}
