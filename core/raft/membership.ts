// Single-server membership changes: validating one change against a configuration and applying it.
import type { ConfChange, Entry, Membership, NodeId } from './types.ts';

export const EMPTY_MEMBERSHIP: Membership = { voters: [], learners: [] };

function without(list: NodeId[], id: NodeId): NodeId[] {
  return list.filter((x) => x !== id);
}

function withAdded(list: NodeId[], id: NodeId): NodeId[] {
  return [...list, id].sort();
}

/** Why `change` cannot apply to `membership`, or null when it can. */
export function confChangeProblem(membership: Membership, change: ConfChange): string | null {
  const { type, node } = change;
  if (typeof node !== 'string' || node.length === 0) return 'the node id must be a non-empty string';
  const voter = membership.voters.includes(node);
  const learner = membership.learners.includes(node);
  switch (type) {
    case 'add-voter':
      if (voter) return `${node} is already a voter`;
      if (learner) return `${node} is a learner: promote it instead`;
      return null;
    case 'add-learner':
      if (voter || learner) return `${node} is already a member`;
      return null;
    case 'promote':
      if (!learner) return `${node} is not a learner`;
      return null;
    case 'remove':
      if (!voter && !learner) return `${node} is not a member`;
      if (voter && membership.voters.length === 1) return `${node} is the last voter`;
      return null;
    default:
      return `unknown change type ${String(type)}`;
  }
}

/** The membership after `change` (a new object; the input is left alone because snapshots share it). */
export function applyConfChange(membership: Membership, change: ConfChange): Membership {
  const { node } = change;
  switch (change.type) {
    case 'add-voter':
      return { voters: withAdded(membership.voters, node), learners: without(membership.learners, node) };
    case 'add-learner':
      return { voters: without(membership.voters, node), learners: withAdded(membership.learners, node) };
    case 'promote':
      return { voters: withAdded(membership.voters, node), learners: without(membership.learners, node) };
    case 'remove':
      return { voters: without(membership.voters, node), learners: without(membership.learners, node) };
  }
}

/** Replays the conf entries of `entries` (up to index `upTo`) on top of `base`. */
export function replayMembership(
  base: Membership,
  baseIndex: number,
  entries: Entry[],
  upTo: number,
): { membership: Membership; index: number } {
  let membership = base;
  let index = baseIndex;
  for (const entry of entries) {
    if (entry.index > upTo) break;
    if (entry.kind === 'conf' && entry.conf !== null) {
      membership = applyConfChange(membership, entry.conf);
      index = entry.index;
    }
  }
  return { membership, index };
}

export function peersOf(membership: Membership, self: NodeId): NodeId[] {
  const peers: NodeId[] = [];
  for (const id of membership.voters) if (id !== self) peers.push(id);
  for (const id of membership.learners) if (id !== self) peers.push(id);
  return peers.sort();
}
