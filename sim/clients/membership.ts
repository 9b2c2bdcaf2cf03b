// An operator changing the cluster's membership, as `etcdctl member add/remove` would: a members request sent to
// a member (the leader when one is known), retried until the cluster answers it, then the world catches up with
// the configuration: an added member's process was started first (with an empty disk) so it can take the log;
// a removed member's process is stopped once the leader's committed configuration leaves it out.
//
// Tokens are negative so they never collide with the client pool's.
import type { ReplicaReply } from '../../core/replica/index.ts';
import type { DriverInput, DriverState } from '../driver/replica-program.ts';
import type { NodeId } from '../world/network.ts';
import type { ProcessStatus } from '../world/world.ts';

/** The part of the world the operator uses. */
export interface MembershipWorld {
  readonly now: number;
  input(node: NodeId, input: DriverInput, atMs?: number): void;
  at(atMs: number, label: string, fn: () => void): void;
  nodes(): readonly NodeId[];
  status(node: NodeId): ProcessStatus;
  state(node: NodeId): DriverState | undefined;
  removeNode(node: NodeId): void;
}

export interface MembershipChangeRecord {
  kind: 'add' | 'remove';
  node: NodeId;
  requestedMs: number;
  /** When the leader's committed configuration first showed the change (null: never, within the run). */
  appliedMs: number | null;
  /** Requests sent (retries after a timeout, a refusal or a lost leader count). */
  attempts: number;
}

/** Give up on one attempt after this long and try again (possibly through another member). */
const ATTEMPT_TIMEOUT_MS = 2000;
const RETRY_MS = 200;
const POLL_MS = 10;

/** The running member leading in the highest term, if any. */
export function currentLeader(world: Pick<MembershipWorld, 'nodes' | 'status' | 'state'>): { id: NodeId; term: number } | null {
  let best: { id: NodeId; term: number } | null = null;
  for (const id of world.nodes()) {
    if (world.status(id) !== 'running') continue;
    const raft = world.state(id)?.replica?.raft;
    if (raft?.role === 'leader' && (best === null || raft.term > best.term)) best = { id, term: raft.term };
  }
  return best;
}

export class MembershipClient {
  readonly changes: MembershipChangeRecord[] = [];
  private readonly pending = new Map<number, { change: MembershipChangeRecord; member: NodeId }>();
  private nextToken = -1;

  constructor(
    private readonly world: MembershipWorld,
    /** Polling for the configuration stops here (virtual ms). */
    private readonly untilMs: number,
  ) {}

  /** Asks the cluster to add `node` as a voter; its process must already exist in the world. */
  add(node: NodeId): MembershipChangeRecord {
    return this.begin('add', node);
  }

  /** Asks the cluster to remove `node`; its process is stopped once the configuration leaves it out. */
  remove(node: NodeId): MembershipChangeRecord {
    return this.begin('remove', node);
  }

  owns(token: number): boolean {
    return token < 0;
  }

  onReply(token: number, reply: ReplicaReply): void {
    const p = this.pending.get(token);
    if (p === undefined) return;
    this.pending.delete(token);
    const body = reply.body;
    // An earlier attempt that applied makes a retry fail with "ID exists" (add) or "member not found" (remove).
    const alreadyDone = body.type === 'member-error' && (body.status === (p.change.kind === 'add' ? 409 : 404));
    if (reply.outcome === 'ok' || alreadyDone) this.awaitConfiguration(p.change);
    else this.world.at(this.world.now + RETRY_MS, `member ${p.change.kind} ${p.change.node} retry`, () => this.send(p.change));
  }

  /** The member the request went to was down. */
  onRefused(token: number): void {
    const p = this.pending.get(token);
    if (p === undefined) return;
    this.pending.delete(token);
    this.world.at(this.world.now + RETRY_MS, `member ${p.change.kind} ${p.change.node} retry`, () => this.send(p.change));
  }

  private begin(kind: 'add' | 'remove', node: NodeId): MembershipChangeRecord {
    const change: MembershipChangeRecord = { kind, node, requestedMs: this.world.now, appliedMs: null, attempts: 0 };
    this.changes.push(change);
    this.send(change);
    return change;
  }

  private send(change: MembershipChangeRecord): void {
    if (this.world.now >= this.untilMs) return;
    const running = this.world.nodes().filter((id) => this.world.status(id) === 'running' && id !== (change.kind === 'add' ? change.node : ''));
    const member = currentLeader(this.world)?.id ?? running[change.attempts % Math.max(1, running.length)];
    if (member === undefined) {
      this.world.at(this.world.now + RETRY_MS, `member ${change.kind} ${change.node} retry`, () => this.send(change));
      return;
    }
    change.attempts++;
    const token = this.nextToken--;
    this.pending.set(token, { change, member });
    const input: DriverInput =
      change.kind === 'add'
        ? { kind: 'member-add', token, member: { id: change.node, name: change.node, peerURLs: [`http://${change.node}:2380`], clientURLs: [`http://${change.node}:2379`] } }
        : { kind: 'member-remove', token, memberId: change.node };
    this.world.input(member, input);
    this.world.at(this.world.now + ATTEMPT_TIMEOUT_MS, `member ${change.kind} ${change.node} timeout`, () => {
      if (!this.pending.delete(token)) return;
      this.world.input(member, { kind: 'cancel', token });
      this.send(change);
    });
  }

  /** Polls the leader's committed configuration until it shows the change; a removed member is then stopped. */
  private awaitConfiguration(change: MembershipChangeRecord): void {
    const leader = currentLeader(this.world);
    const raft = leader === null ? undefined : this.world.state(leader.id)?.replica?.raft;
    if (raft !== undefined && raft.membershipIndex <= raft.commit) {
      const present = raft.membership.voters.includes(change.node) || raft.membership.learners.includes(change.node);
      if (present === (change.kind === 'add')) {
        change.appliedMs = this.world.now;
        if (change.kind === 'remove' && this.world.status(change.node) !== 'removed') this.world.removeNode(change.node);
        return;
      }
    }
    if (this.world.now + POLL_MS > this.untilMs) return;
    this.world.at(this.world.now + POLL_MS, `member ${change.kind} ${change.node} await`, () => this.awaitConfiguration(change));
  }
}
