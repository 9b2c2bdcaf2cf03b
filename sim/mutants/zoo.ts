// The bug zoo: historical and plausible Raft / etcd bugs, each a mutant of this tree (sim/mutants/) together with
// the simulated run that catches it. A sweep over seeds of that run, with the mutant applied, must find a run
// whose checks fail; `bench/zoo.ts` measures how many seeds and how long that takes, and how small `raftsim
// shrink` makes the failing run. An entry no run can catch is a defect of the simulator, not of the entry.
//
// The configs provoke their bug on purpose: short runs of 3 or 5 members with the faults that open the bug's
// window (crashes racing slow disks for persistence bugs, the leader isolated in turn for leader-change bugs,
// a heavy latency tail for stale messages, lapsed TTL refreshes for expiry bugs). With the real code each of
// them passes every check (test/sim/mutants/zoo.test.ts).
import { performance } from 'node:perf_hooks';
import type { CheckerName } from '../../scenarios/types.ts';
import type { PartialRunConfig } from '../config.ts';
import type { RunSimulation } from '../trace/record.ts';
import type { NemesisEvent } from '../world/nemesis.ts';
import { mutantNamed, type Mutant } from './index.ts';

export interface ZooBug {
  /** The mutant's name: the name `--mutant`, traces and the bench use. */
  name: string;
  /** A short title for tables. */
  title: string;
  /** Where the bug comes from, in a sentence or two. */
  history: string;
  /** The run that catches it (merged over sim/config.ts's defaults); sweeps vary only the seed. */
  config: PartialRunConfig;
  /** The check that catches it (others may fail too). */
  caughtBy: CheckerName;
  /** How that check sees it, in a phrase. */
  how: string;
}

/** Isolates each member in turn (n1, n2, ...), so whoever leads is isolated within `nodes` rounds. */
export function isolateInTurn(nodes: number, options: { fromMs: number; everyMs: number; untilMs: number; forMs: number }): NemesisEvent[] {
  const events: NemesisEvent[] = [];
  for (let t = options.fromMs, i = 0; t < options.untilMs; t += options.everyMs, i++) {
    events.push({ atMs: t, kind: 'isolate', node: `n${(i % nodes) + 1}` }, { atMs: t + options.forMs, kind: 'heal' });
  }
  return events;
}

/**
 * Rounds over every ordering (a, b, c) of three members: cut a off (it falls behind), then cut b off from a and c
 * (if b led, c takes over with a's vote and must catch a up from an older term's entries), then heal.
 */
export function laggardMeetsNewLeader(options: { fromMs: number; untilMs: number; roundMs: number; lagMs: number; cutMs: number }): NemesisEvent[] {
  const orders = [['n1', 'n2', 'n3'], ['n1', 'n3', 'n2'], ['n2', 'n1', 'n3'], ['n2', 'n3', 'n1'], ['n3', 'n1', 'n2'], ['n3', 'n2', 'n1']] as const;
  const events: NemesisEvent[] = [];
  for (let t = options.fromMs, k = 0; t < options.untilMs; t += options.roundMs, k++) {
    const [a, b, c] = orders[k % orders.length]!;
    events.push(
      { atMs: t, kind: 'isolate', node: a },
      { atMs: t + options.lagMs, kind: 'split', groups: [[b], [a, c]] },
      { atMs: t + options.lagMs + options.cutMs, kind: 'heal' },
    );
  }
  return events;
}

const SHORT = { nodes: 3, durationMs: 3000, settleMs: 1000 } as const;
/** Fast elections: a fault turns into a new leader within a few hundred ms. */
const FAST_RAFT = { electionTimeoutMs: 150, heartbeatIntervalMs: 30 } as const;
/** Elections that nothing damps (no pre-vote, no leader lease): more of them, and candidates in the same term. */
const RAW_RAFT = { ...FAST_RAFT, preVote: false, checkQuorum: false } as const;

const PARTITIONS_AND_CRASHES: PartialRunConfig = {
  ...SHORT,
  workload: { kind: 'register', clients: 4, quorumReads: 1 },
  nemesis: { meanGapMs: 500, meanFaultMs: 400, weights: { partition: 3, crash: 2 } },
};

/** Crashes racing slow syncs: what a node said before its disk had it is what a crash takes away. */
const CRASHES_RACING_SYNCS: PartialRunConfig = {
  ...SHORT,
  disk: { syncLatency: { kind: 'uniform', minMs: 30, maxMs: 150 } },
  raft: RAW_RAFT,
  network: { latency: { kind: 'uniform', minMs: 10, maxMs: 120 }, loss: 0.05 },
  nemesis: { meanGapMs: 200, meanFaultMs: 60, weights: { crash: 5, partition: 1 } },
  workload: { kind: 'register', clients: 3 },
};

const LEADER_ISOLATED_IN_TURN: PartialRunConfig = {
  nodes: 3,
  durationMs: 4000,
  settleMs: 1000,
  disk: { syncLatency: { kind: 'uniform', minMs: 20, maxMs: 150 } },
  raft: FAST_RAFT,
  network: { latency: { kind: 'uniform', minMs: 5, maxMs: 50 }, loss: 0 },
  nemesis: { kind: 'schedule', events: isolateInTurn(3, { fromMs: 500, everyMs: 600, untilMs: 4000, forMs: 400 }) },
  workload: { kind: 'register', clients: 3, quorumReads: 1, readFraction: 0.5, thinkMs: 5 },
};

const DISCOVERY_WITH_FAULTS: PartialRunConfig = {
  nodes: 3,
  durationMs: 4000,
  settleMs: 1000,
  workload: { kind: 'discovery', instances: 2, watchers: 1, ttlSeconds: 1, refreshMs: 400, quorumReads: 1 },
  nemesis: { meanGapMs: 600, meanFaultMs: 500, weights: { partition: 2, crash: 1, clock: 2 } },
};

const WATCHED_KEYS: PartialRunConfig = {
  ...SHORT,
  workload: { kind: 'multi-key', clients: 3, watchers: 2, keys: 3 },
  nemesis: { meanGapMs: 500, meanFaultMs: 400, weights: { partition: 3, crash: 2 } },
};

/** Watched keys while the leader is cut off in turn, with no crash or pause, and long enough for a watch to give
 * up (5 s): a watch that waited on a member that ran throughout was owed every matching event it applied. */
const WATCHES_ACROSS_LEADER_CHANGES: PartialRunConfig = {
  nodes: 3,
  durationMs: 7000,
  settleMs: 500,
  raft: FAST_RAFT,
  workload: { kind: 'multi-key', clients: 3, watchers: 2, keys: 3 },
  nemesis: { kind: 'schedule', events: isolateInTurn(3, { fromMs: 500, everyMs: 600, untilMs: 3000, forMs: 400 }) },
};

export const zoo: readonly ZooBug[] = [
  {
    name: 'replica-quorum-read-served-locally',
    title: 'etcd 2014 stale read',
    history:
      "Jepsen's 2014 etcd analysis (etcd-io/etcd#741): a node that believed itself leader answered consistent reads from its own state, so a deposed leader served values a newer leader had already overwritten; etcd 2.0 added quorum=true reads that go through Raft.",
    config: PARTITIONS_AND_CRASHES,
    caughtBy: 'linearizability',
    how: 'a quorum read returns a value older than a write that completed before it began',
  },
  {
    name: 'vote-sent-before-sync',
    title: 'vote replied before it is durable',
    history:
      "Raft's Figure 2 requires currentTerm and votedFor on stable storage before answering a RequestVote; a voter that replies first and crashes forgets its vote and can vote again in the same term, the two-leaders-in-a-term outcome that lost votes have caused elsewhere (camunda#5356 dropped a vote once the leader was known).",
    config: CRASHES_RACING_SYNCS,
    caughtBy: 'raft-safety',
    how: 'two leaders in one term (election safety, or the second leader\'s append reaching the first)',
  },
  {
    name: 'vote-twice-in-a-term',
    title: 'two votes in one term',
    history:
      "Figure 2's votedFor allows one vote per term; a voter that grants a second candidate of the same term (hazelcast#16643 cleared a stepping-down leader's own vote; nebula#2405 reset the term it had voted in and voted again) lets two candidates each count a majority.",
    config: CRASHES_RACING_SYNCS,
    caughtBy: 'raft-safety',
    how: 'two leaders in one term (election safety; the members assert when they meet)',
  },
  {
    name: 'replica-sends-before-persist',
    title: 'acknowledge before persist',
    history:
      "Every Raft message that promises something (a vote, an append acknowledgement) must leave only after the state it promises is synced; a driver that drops the wait lets a follower acknowledge entries a crash then loses, so a 'majority' holds an entry no majority has.",
    config: CRASHES_RACING_SYNCS,
    caughtBy: 'invariants',
    how: 'a node asserts: a commit index past its own log',
  },
  {
    name: 'commit-old-term-by-counting',
    title: 'Figure 8: commit an old-term entry by counting',
    history:
      "The Raft paper's Figure 8: a leader may not count replicas of an entry from an earlier term as committed, because a later leader can still overwrite it; only entries of its own term commit by counting (§5.4.2).",
    config: {
      nodes: 3,
      durationMs: 4500,
      settleMs: 500,
      disk: { syncLatency: { kind: 'uniform', minMs: 2, maxMs: 20 } },
      // Small appends: a follower catching up acknowledges a few entries at a time, so its acknowledgements
      // land inside the earlier term's entries the new leader inherited.
      raft: { ...FAST_RAFT, maxEntriesPerMessage: 2 },
      network: { latency: { kind: 'uniform', minMs: 2, maxMs: 30 }, loss: 0 },
      nemesis: { kind: 'schedule', events: laggardMeetsNewLeader({ fromMs: 300, untilMs: 4500, roundMs: 1100, lagMs: 700, cutMs: 300 }) },
      workload: { kind: 'register', clients: 4, quorumReads: 1, readFraction: 0.2, thinkMs: 5 },
    },
    caughtBy: 'raft-safety',
    how: 'a leader moves its commit index onto an entry of an earlier term (current-term commit rule); played out further, a later leader overwrites it',
  },
  {
    name: 'skip-log-consistency-check',
    title: 'append without the prevTerm check',
    history:
      "AppendEntries' consistency check (the term at prevLogIndex must match) is what makes the Log Matching Property hold; skipping the term comparison splices a new leader's entries onto a diverged prefix.",
    config: {
      ...SHORT,
      disk: { syncLatency: { kind: 'uniform', minMs: 5, maxMs: 80 } },
      raft: RAW_RAFT,
      network: { latency: { kind: 'uniform', minMs: 5, maxMs: 60 }, loss: 0.05 },
      // Leaders come and go faster than they replicate: followers are left holding different uncommitted tails.
      nemesis: { meanGapMs: 150, meanFaultMs: 200, weights: { crash: 4, partition: 2, disk: 2 } },
      workload: { kind: 'register', clients: 2, quorumReads: 1 },
    },
    caughtBy: 'raft-safety',
    how: 'two members agree on an entry but not on the log before it (log matching)',
  },
  {
    name: 'leader-counts-undurable-own-log',
    title: 'leader counts its unsynced log',
    history:
      "etcd's raft lets a leader write to its disk in parallel with replication (thesis §10.2.1), but it may count itself toward a commit quorum only for entries it has synced; counting the unsynced tail commits entries a leader crash can take away.",
    config: {
      ...SHORT,
      disk: { syncLatency: { kind: 'uniform', minMs: 20, maxMs: 200 } },
      raft: FAST_RAFT,
      nemesis: { meanGapMs: 200, meanFaultMs: 100, weights: { crash: 5, disk: 1 } },
      workload: { kind: 'register', clients: 4, quorumReads: 1 },
    },
    caughtBy: 'raft-safety',
    how: 'an acknowledged write ends up on a minority, or a later leader lacks a committed entry',
  },
  {
    name: 'read-index-before-leader-commits',
    title: 'ReadIndex before the leader commits in its term',
    history:
      "Raft thesis §6.4: a new leader does not know its commit index is current until it commits an entry of its own term, so ReadIndex must wait for that; serving reads at the inherited commit index can miss a write the previous leader acknowledged.",
    config: LEADER_ISOLATED_IN_TURN,
    caughtBy: 'linearizability',
    how: 'a quorum read, just after a leader change, misses an acknowledged write',
  },
  {
    name: 'accept-stale-term-append',
    title: 'append from a deposed leader',
    history:
      'A follower must refuse AppendEntries from an older term; one that processes a deposed leader\'s delayed append lets two leaders write the same indexes (election safety, Figure 3).',
    config: {
      ...SHORT,
      durationMs: 4000,
      raft: RAW_RAFT,
      // A heavy latency tail: an append can arrive long after its leader was deposed.
      network: { latency: { kind: 'pareto', minMs: 2, shape: 1.1, maxMs: 1500 }, loss: 0.02 },
      nemesis: { kind: 'none' },
      workload: { kind: 'register', clients: 3, quorumReads: 1, thinkMs: 5 },
    },
    caughtBy: 'invariants',
    how: 'a leader receives an append from another leader of its term and asserts',
  },
  {
    name: 'step-down-without-term-update',
    title: 'step down without adopting the term',
    history: 'Figure 2: a server that sees a higher term must adopt it before anything else; becoming a follower of the new leader while keeping the old term lets it accept entries from a term it never entered.',
    config: PARTITIONS_AND_CRASHES,
    caughtBy: 'invariants',
    how: 'a node asserts: an entry with a term above its own',
  },
  {
    name: 'quorum-too-small',
    title: 'quorum off by one',
    history: 'A quorum of floor(n/2) instead of floor(n/2)+1: two disjoint halves of an even split, or one node and its vote in a three-node cluster, elect leaders in the same term.',
    config: PARTITIONS_AND_CRASHES,
    caughtBy: 'raft-safety',
    how: 'two leaders in one term',
  },
  {
    name: 'heartbeat-commit-beyond-match',
    title: 'heartbeat commit beyond the follower\'s log',
    history:
      "etcd's raft clamps the commit index a heartbeat carries to the follower's known match (etcd-io/raft#138 explains why): a follower told to commit past the end of its log either crashes or, worse, commits entries it does not have.",
    config: PARTITIONS_AND_CRASHES,
    caughtBy: 'invariants',
    how: 'a node asserts: a commit index past its own log',
  },
  {
    name: 'restart-forgets-commit',
    title: 'restart forgets the commit index',
    history: 'A restarted node that ignores the commit index in its persisted hard state starts from zero: harmless for safety in Raft\'s model, but its applied state moves backwards and it serves reads from before its crash.',
    config: CRASHES_RACING_SYNCS,
    caughtBy: 'raft-safety',
    how: 'a restarted node\'s commit index goes below what it had persisted (commit monotonic)',
  },
  {
    name: 'apply-before-commit',
    title: 'apply before commit',
    history: 'Entries reach the state machine only once committed; applying what is merely durable locally applies entries a new leader later overwrites, and members disagree on the store.',
    config: CRASHES_RACING_SYNCS,
    caughtBy: 'raft-safety',
    how: 'a node applies past its commit index; members apply different events at one store index',
  },
  {
    name: 'replica-reply-before-commit',
    title: 'reply before commit',
    history: 'A write acknowledged when handed to the leader rather than when committed: the acknowledgement survives a leader change the write does not, the classic lost-update window.',
    config: PARTITIONS_AND_CRASHES,
    caughtBy: 'linearizability',
    how: 'an acknowledged write is never visible, or visible out of order',
  },
  {
    name: 'replica-no-dedupe',
    title: 'retried write applied twice',
    history:
      'Raft thesis §6.3: without client sessions a retried or duplicated command applies twice; etcd v2 clients retry on timeouts, and a network that duplicates a forwarded proposal gets it proposed again.',
    config: {
      ...SHORT,
      // Half the messages arrive twice, in any order: forwarded proposals among them.
      network: { latency: { kind: 'lognormal', medianMs: 2, sigma: 0.5, maxMs: 50 }, loss: 0.05, duplicate: 0.5, reorder: 0.5 },
      workload: { kind: 'register', clients: 2, quorumReads: 1, thinkMs: 5 },
      nemesis: { kind: 'none' },
    },
    caughtBy: 'linearizability',
    how: 'a compare-and-swap or write takes effect twice',
  },
  {
    name: 'kv-cas-ignores-prev-index',
    title: 'compare-and-swap ignores prevIndex',
    history: "etcd v2's compare-and-swap by prevIndex is how clients build locks and leader election on the key-value API; a store that treats every index as matching turns every CAS into a blind write.",
    config: WATCHED_KEYS,
    caughtBy: 'linearizability',
    how: 'a compare-and-delete or compare-and-swap succeeds against a stale index',
  },
  {
    name: 'replica-watch-skips-event-on-leader-change',
    title: 'watch skips an event on leader change',
    history:
      'A watch must resume exactly where it left off: etcd-io/etcd#4502 was a v3 watcher that, reconnecting before it had seen an event, resumed from the current revision and missed the events in between. Here a member drops the next event for its open watches whenever it sees the leader change.',
    config: WATCHES_ACROSS_LEADER_CHANGES,
    caughtBy: 'watch',
    how: 'a watch that gave up unanswered on a member that ran throughout never got an event that member applied (watch-missing)',
  },
  {
    name: 'kv-refresh-wakes-watchers',
    title: 'TTL refresh wakes watchers',
    history:
      'Before etcd 2.3 every TTL refresh was an ordinary write that woke every watcher (etcd-io/etcd#1232); refresh=true (etcd-io/etcd#4164) was added so heartbeating services stop flooding their watchers.',
    config: DISCOVERY_WITH_FAULTS,
    caughtBy: 'watch',
    how: 'a watcher receives an update the committed history marks as a refresh',
  },
  {
    name: 'replica-expiry-on-follower-clock',
    title: 'TTL expiry on the local clock',
    history:
      "etcd v2 expires keys only through the leader's SYNC entries carrying the leader's clock, so every member expires the same keys at the same index; a follower that expires by its own clock diverges from the leader as soon as clocks drift or jump.",
    config: DISCOVERY_WITH_FAULTS,
    caughtBy: 'store-agreement',
    how: 'members apply different events at one store index (and their state hashes differ)',
  },
  {
    name: 'kv-expiry-ignores-command-time',
    title: 'expiry half a second early',
    history: 'An expiry tick must compare deadlines with the time it carries, not a time ahead of it; expiring "almost due" keys early drops a service registration its owner refreshed in time.',
    config: {
      nodes: 3,
      durationMs: 4000,
      settleMs: 1000,
      clocks: { maxOffsetMs: 5, maxDriftPpm: 10 },
      // Refreshes that lapse under partitions let one key fall due while the others are refreshed: the tick that
      // removes it then removes the nearly-due ones too.
      workload: { kind: 'discovery', instances: 2, watchers: 1, ttlSeconds: 1, refreshMs: 900, quorumReads: 1, thinkMs: 20 },
      nemesis: { meanGapMs: 500, meanFaultMs: 600, weights: { partition: 3, pause: 1 } },
    },
    caughtBy: 'ttl',
    how: 'a quorum read finds a key gone before its TTL could have run out (early expiry)',
  },
  {
    name: 'fixed-election-timeout',
    title: 'election timeout not randomized',
    history:
      "Raft's own argument for randomized timeouts (§5.2 of the paper): members that time out together all campaign, split the vote, and time out together again. Real clusters break the tie by accident (clock offsets, network jitter), which is why the bug survives testing; a cluster without those accidents never elects anyone.",
    config: {
      nodes: 3,
      durationMs: 3000,
      settleMs: 2000,
      // A symmetric cluster: identical clocks, links and disks, so nothing but the timeout's randomness tells
      // the members apart. With the real code a leader is elected within a few hundred ms, and again after its crash.
      clocks: { maxOffsetMs: 0, maxDriftPpm: 0 },
      network: { latency: { kind: 'fixed', ms: 2 }, loss: 0, duplicate: 0, reorder: 0 },
      disk: { syncLatency: { kind: 'fixed', ms: 1 } },
      workload: { kind: 'register', clients: 3, quorumReads: 1 },
      nemesis: { kind: 'schedule', events: [{ atMs: 1500, kind: 'crash', node: '@leader', restartAfterMs: 500 }] },
    },
    caughtBy: 'liveness',
    how: 'no leader at the end of the run: every member pre-campaigning in the same term, seconds after the last fault',
  },
];

/**
 * The Raft core's mutants (sim/mutants/raft.ts) that are not zoo bugs, and why no whole simulated run judges them;
 * the Raft property suite (test/core/raft/mutants.test.ts) catches every one of them.
 */
export const notInZoo: ReadonlyArray<{ name: string; why: string }> = [
  {
    name: 'conf-change-before-leader-commits',
    why:
      "unreachable through the replica: a membership request is committed as an ordinary entry into a replicated queue, and whichever leader proposes a change proposes that queue's head, so two leaders never propose different changes from one configuration (Ongaro's bug needs exactly that); the core's guard is defence in depth, and the property suite, which proposes changes directly, catches its removal",
  },
  {
    name: 'vote-not-persisted',
    why: 'the vote goes unpersisted only when the voter already knew the term, so losing it needs a refusal and a grant in one term, a crash before the next sync and a third candidate of that term; no catching run found it in hundreds of seeds (vote-sent-before-sync is the zoo\'s vote-persistence bug)',
  },
  { name: 'apply-before-durable', why: 'applying a committed entry before the local copy is synced changes nothing a client can see: the entry is committed, so a majority holds it' },
  { name: 'election-jitter-outside-state', why: 'a replay bug of a checkpointed node; whole runs never checkpoint and restore a node mid-run' },
  { name: 'append-ignores-entry-limit', why: 'one entry more per message than the limit: no safety consequence, a limits property' },
  { name: 'non-voter-lease-never-expires', why: 'concerns learners and removed voters, which simulated runs do not create' },
  { name: 'learners-count-toward-commit', why: 'concerns learners, which simulated runs do not create' },
];

export function zooBugNamed(name: string): ZooBug | undefined {
  return zoo.find((b) => b.name === name);
}

/** The zoo entry's mutant; throws if the entry names a mutant that does not exist. */
export function zooMutant(bug: ZooBug): Mutant {
  const m = mutantNamed(bug.name);
  if (m === undefined) throw new Error(`zoo entry ${bug.name} names no mutant of sim/mutants/`);
  return m;
}

/** The config a zoo entry's runs use: its own, named after the bug. */
export function zooConfig(bug: ZooBug): PartialRunConfig {
  return { ...bug.config, name: bug.name };
}

export interface ZooCatch {
  /** The first seed whose run failed a check, or null when none did within the budget. */
  seed: number | null;
  seedsRun: number;
  wallMs: number;
  /** Checkers that failed in that run (with a violation; a timed-out search is not a failure). */
  failed: string[];
}

/**
 * Runs seeds first, first+1, ... of the bug's config with `run` (the mutant's runSimulation, see
 * sim/trace/record.ts withRunner) until a run fails a check, at most `maxSeeds` runs or `budgetMs` of wall time.
 */
export function catchBug(bug: ZooBug, run: RunSimulation, options: { firstSeed?: number; maxSeeds?: number; budgetMs?: number } = {}): ZooCatch {
  const started = performance.now();
  const first = options.firstSeed ?? 1;
  const maxSeeds = options.maxSeeds ?? 200;
  const budgetMs = options.budgetMs ?? 60_000;
  const config = zooConfig(bug);
  let seedsRun = 0;
  for (let seed = first; seed < first + maxSeeds && performance.now() - started < budgetMs; seed++) {
    const result = run({ seed, config });
    seedsRun++;
    const failed = result.verdicts.filter((v) => !v.ok && v.violations.length > 0).map((v) => v.checker);
    if (failed.length > 0) return { seed, seedsRun, wallMs: performance.now() - started, failed };
  }
  return { seed: null, seedsRun, wallMs: performance.now() - started, failed: [] };
}
