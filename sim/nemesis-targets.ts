// Carries out a run's nemesis schedule when it names nodes by role (`@leader`, `@follower`, `@others`, bound
// names), waits for a condition, or asks for what only a run can do (membership changes through the replicas,
// service-discovery instances dying). Each event becomes a call in the world at its time; when it fires, its
// targets are resolved against the replicas' live state and the resulting world actions are scheduled at that
// same instant, so the trail shows both the call and the concrete fault. Picks among followers draw from the
// `nemesis/targets` stream, so a run stays a function of (config, seed).
//
// Every event leaves a record (who led, what was resolved, when it fired or why it never did): the evidence a
// scenario's test uses to show its defining fault really happened.
import type { DriverState } from './driver/replica-program.ts';
import type { MembershipClient } from './clients/membership.ts';
import { currentLeader } from './clients/membership.ts';
import {
  describeRunNemesis,
  isRunOnly,
  parseNodeRef,
  type NemesisAction,
  type NemesisEvent,
  type RunNemesisAction,
  type RunNemesisEvent,
} from './world/nemesis.ts';
import type { NodeId } from './world/network.ts';
import type { RandomStream } from './world/random.ts';
import type { ProcessStatus } from './world/world.ts';

/** The part of the world the nemesis uses. */
export interface TargetWorld {
  readonly now: number;
  readonly streams: { stream(name: string): RandomStream };
  at(atMs: number, label: string, fn: () => void): void;
  schedule(events: readonly NemesisEvent[]): void;
  addNode(id: NodeId): void;
  nodes(): readonly NodeId[];
  status(node: NodeId): ProcessStatus;
  state(node: NodeId): DriverState | undefined;
}

export interface FiredNemesis {
  /** Position in the schedule as written. */
  index: number;
  /** The event as written. */
  text: string;
  scheduledMs: number;
  /** When its targets resolved and it was carried out; null when it never could be before the run's end. */
  firedMs: number | null;
  /** The leader (highest term among running members) at that instant. */
  leader: { id: NodeId; term: number } | null;
  /** What was carried out, with node ids (one written event may become several, e.g. a cut from @others). */
  actions: RunNemesisAction[];
  /** Why it waited or was skipped. */
  note?: string;
  /** `when: 'uncommitted'`: the client write the leader held then: its index, the commit index, the followers holding it. */
  inFlight?: WriteInFlight;
}

export interface WriteInFlight {
  index: number;
  commit: number;
  holders: NodeId[];
}

export interface RunNemesisHooks {
  membership: MembershipClient;
  /** Kills a service-discovery instance; false when there is no such instance. */
  crashInstance(instance: number, restartAfterMs?: number): boolean;
  /** Events still waiting for their targets give up here. */
  untilMs: number;
}

const POLL_MS = 1;

/** Schedules every event of a run schedule; returns the record list, filled as events fire. */
export function installRunNemesis(world: TargetWorld, events: readonly RunNemesisEvent[], hooks: RunNemesisHooks): FiredNemesis[] {
  const fired: FiredNemesis[] = [];
  const bindings = new Map<string, NodeId>();
  const rng = world.streams.stream('nemesis/targets');
  events.forEach((event, index) => {
    const text = describeRunNemesis(event);
    const record: FiredNemesis = { index, text, scheduledMs: event.atMs, firedMs: null, leader: null, actions: [] };
    fired.push(record);
    const attempt = (): void => {
      const leader = currentLeader(world);
      const resolved = resolveEvent(world, event, leader, bindings, rng);
      if ('wait' in resolved) {
        record.note = resolved.wait;
        if (world.now + POLL_MS > hooks.untilMs) return;
        world.at(world.now + POLL_MS, `nemesis ${text} (waiting)`, attempt);
        return;
      }
      record.firedMs = world.now;
      record.leader = leader;
      record.actions = resolved.actions;
      if (resolved.inFlight !== undefined) record.inFlight = resolved.inFlight;
      delete record.note;
      for (const [name, id] of resolved.bindings) bindings.set(name, id);
      for (const action of resolved.actions) carryOut(world, action, hooks, record);
    };
    world.at(event.atMs, `nemesis ${text}`, attempt);
  });
  return fired;
}

function carryOut(world: TargetWorld, action: RunNemesisAction, hooks: RunNemesisHooks, record: FiredNemesis): void {
  if (!isRunOnly(action)) {
    world.schedule([{ atMs: world.now, ...action } as NemesisEvent]);
    return;
  }
  switch (action.kind) {
    case 'member-add':
      world.addNode(action.node);
      hooks.membership.add(action.node);
      return;
    case 'member-remove':
      hooks.membership.remove(action.node);
      return;
    case 'instance-crash':
      if (!hooks.crashInstance(action.instance, action.restartAfterMs)) record.note = `no discovery instance ${action.instance}`;
      return;
  }
}

type Resolution = { wait: string } | { actions: RunNemesisAction[]; bindings: Map<string, NodeId>; inFlight?: WriteInFlight };

function resolveEvent(world: TargetWorld, event: RunNemesisEvent, leader: { id: NodeId; term: number } | null, bound: ReadonlyMap<string, NodeId>, rng: RandomStream): Resolution {
  const { atMs: _at, when, ...written } = event;
  const action = written as RunNemesisAction;
  let inFlight: WriteInFlight | undefined;
  if (when === 'uncommitted') {
    if (leader === null) return { wait: 'no leader' };
    inFlight = writeInFlight(world.state(leader.id));
    if (inFlight === undefined) return { wait: `leader ${leader.id} has no replicated, uncommitted client write` };
  }
  const members = world.nodes().filter((id) => world.status(id) !== 'removed');
  const mentioned: string[] = [];
  mapNodeFields(action, (v) => {
    mentioned.push(v);
    return [v];
  });
  const named = new Set(mentioned.filter((v) => !v.startsWith('@')));
  const newBindings = new Map<string, NodeId>();
  const picked: Array<NodeId | undefined> = [];
  // Everything but @others first: @others means "every member not named elsewhere in the event".
  for (const [i, text] of mentioned.entries()) {
    if (!text.startsWith('@')) continue;
    const ref = parseNodeRef(text);
    let id: NodeId | undefined;
    if ('name' in ref) id = bound.get(ref.name) ?? newBindings.get(ref.name);
    else if ('role' in ref && ref.role === 'leader') id = leader?.id;
    else if ('role' in ref && ref.role === 'follower') {
      const taken = new Set([...bound.values(), ...newBindings.values()]);
      const followers = members.filter((m) => world.status(m) === 'running' && world.state(m)?.replica?.raft.role === 'follower' && !named.has(m));
      const fresh = followers.filter((m) => !taken.has(m));
      const candidates = fresh.length > 0 ? fresh : followers;
      id = candidates.length > 0 ? rng.pick(candidates) : undefined;
    } else continue;
    if (id === undefined) return { wait: 'role' in ref ? `no ${ref.role} to target` : `${text} is not bound` };
    named.add(id);
    picked[i] = id;
    if ('role' in ref && ref.bind !== undefined) newBindings.set(ref.bind, id);
  }
  const others = members.filter((m) => !named.has(m));
  const resolved = mapNodeFields(action, (v, i) => (!v.startsWith('@') ? [v] : picked[i] !== undefined ? [picked[i]!] : others)) as Record<string, unknown>;
  // A one-way cut from or to @others is one cut per other member.
  if (action.kind === 'one-way') {
    const froms = resolved.from as NodeId[];
    const tos = resolved.to as NodeId[];
    const actions = froms.flatMap((from) => tos.filter((to) => to !== from).map((to) => ({ kind: 'one-way', from, to }) as NemesisAction));
    return { actions, bindings: newBindings, inFlight };
  }
  for (const f of ['node', 'via']) if (Array.isArray(resolved[f])) resolved[f] = (resolved[f] as string[])[0];
  for (const f of ['from', 'to']) if (Array.isArray(resolved[f])) resolved[f] = (resolved[f] as string[])[0];
  return { actions: [resolved as unknown as RunNemesisAction], bindings: newBindings, inFlight };
}

/**
 * A copy of the action with every node-valued field mapped through `f` (single fields become lists, to be
 * flattened by the caller), visiting fields in a fixed order and numbering the references it passes.
 */
function mapNodeFields(action: RunNemesisAction, f: (value: string, i: number) => string[]): Record<string, unknown> {
  const raw = action as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { ...raw };
  let i = 0;
  const map = (v: string): string[] => (v === '*' ? [v] : f(v, i++));
  if (action.kind === 'instance-crash' || action.kind === 'member-add') return out;
  for (const field of ['node', 'from', 'to', 'via']) if (typeof raw[field] === 'string') out[field] = map(raw[field] as string);
  for (const field of ['left', 'right']) if (Array.isArray(raw[field])) out[field] = (raw[field] as string[]).flatMap(map);
  if (Array.isArray(raw.groups)) out.groups = (raw.groups as string[][]).map((g) => g.flatMap(map));
  return out;
}

/** The lowest client write the leader holds that at least one follower has appended but that is not committed. */
function writeInFlight(state: DriverState | undefined): WriteInFlight | undefined {
  const replica = state?.replica;
  if (!replica) return undefined;
  const raft = replica.raft;
  let found: WriteInFlight | undefined;
  for (const index of Object.values(replica.proposals)) {
    if (index <= raft.commit || (found !== undefined && index >= found.index)) continue;
    const holders = raft.peers.filter((peer) => (raft.progress[peer]?.match ?? 0) >= index);
    if (holders.length > 0) found = { index, commit: raft.commit, holders };
  }
  return found;
}

