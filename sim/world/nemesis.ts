// The nemesis: a schedule of timed fault events, written out in a scenario or generated from the nemesis stream.
// A generated schedule is a function of the nemesis stream alone, so changing any other knob (loss rate, disk
// latency, the workload) leaves it exactly as it was.
import { linkPatchProblems, type LinkConfig, type NodeId } from './network.ts';
import type { RandomStream } from './random.ts';

export type NemesisAction =
  | { kind: 'isolate'; node: NodeId }
  | { kind: 'split'; groups: NodeId[][] }
  | { kind: 'bridge'; left: NodeId[]; right: NodeId[]; via: NodeId }
  | { kind: 'one-way'; from: NodeId; to: NodeId }
  | { kind: 'heal' }
  | { kind: 'crash'; node: NodeId; restartAfterMs?: number }
  | { kind: 'restart'; node: NodeId }
  | { kind: 'pause'; node: NodeId }
  | { kind: 'resume'; node: NodeId }
  | { kind: 'clock-jump'; node: NodeId; deltaMs: number }
  | { kind: 'clock-drift'; node: NodeId; ppm: number }
  | { kind: 'disk-slow'; node: NodeId; factor: number }
  | { kind: 'disk-faults'; node: NodeId; on: boolean }
  | { kind: 'disk-corrupt'; node: NodeId }
  | { kind: 'link'; from: NodeId | '*'; to: NodeId | '*'; config: Partial<LinkConfig> }
  /** Back to the default link settings (undoes `link` events on the matching links). */
  | { kind: 'link-reset'; from: NodeId | '*'; to: NodeId | '*' };

export type NemesisEvent = { atMs: number } & NemesisAction;

export type NemesisKind = NemesisAction['kind'];

/** One line describing an action, for traces and summaries. */
export function describeNemesis(a: NemesisAction): string {
  switch (a.kind) {
    case 'isolate':
      return `isolate ${a.node}`;
    case 'split':
      return `split ${a.groups.map((g) => `[${g.join(',')}]`).join(' | ')}`;
    case 'bridge':
      return `bridge [${a.left.join(',')}] <${a.via}> [${a.right.join(',')}]`;
    case 'one-way':
      return `cut ${a.from}->${a.to}`;
    case 'heal':
      return 'heal';
    case 'crash':
      return `crash ${a.node}${a.restartAfterMs === undefined ? '' : ` (restart after ${a.restartAfterMs}ms)`}`;
    case 'restart':
    case 'pause':
    case 'resume':
    case 'disk-corrupt':
      return `${a.kind} ${a.node}`;
    case 'clock-jump':
      return `clock-jump ${a.node} ${a.deltaMs >= 0 ? '+' : ''}${a.deltaMs}ms`;
    case 'clock-drift':
      return `clock-drift ${a.node} ${a.ppm}ppm`;
    case 'disk-slow':
      return `disk-slow ${a.node} x${a.factor}`;
    case 'disk-faults':
      return `disk-faults ${a.node} ${a.on ? 'on' : 'off'}`;
    case 'link':
      return `link ${a.from}->${a.to} ${JSON.stringify(a.config)}`;
    case 'link-reset':
      return `link-reset ${a.from}->${a.to}`;
  }
}

/**
 * Checks a written-out schedule against the world's nodes; returns one line per problem (empty when valid), so
 * a scenario file with a typo gets a clear error instead of a crash mid-run.
 */
export function validateNemesis(events: readonly unknown[], nodes: readonly NodeId[]): string[] {
  const problems: string[] = [];
  const known = new Set(nodes);
  const kinds = new Set<string>([
    'isolate', 'split', 'bridge', 'one-way', 'heal', 'crash', 'restart', 'pause', 'resume',
    'clock-jump', 'clock-drift', 'disk-slow', 'disk-faults', 'disk-corrupt', 'link', 'link-reset',
  ]);
  events.forEach((raw, i) => {
    const where = `nemesis event #${i}`;
    if (typeof raw !== 'object' || raw === null) return void problems.push(`${where}: not an object`);
    const e = raw as Record<string, unknown>;
    if (typeof e.atMs !== 'number' || !(e.atMs >= 0) || !Number.isFinite(e.atMs)) {
      problems.push(`${where}: atMs must be a finite number >= 0, got ${JSON.stringify(e.atMs)}`);
    }
    if (typeof e.kind !== 'string' || !kinds.has(e.kind)) {
      return void problems.push(`${where}: unknown kind ${JSON.stringify(e.kind)} (known: ${[...kinds].join(', ')})`);
    }
    const node = (field: string, allowStar = false): void => {
      const v = e[field];
      if (allowStar && v === '*') return;
      if (typeof v === 'string' && v.startsWith('@')) problems.push(`${where} (${e.kind}): ${field} ${JSON.stringify(v)} is a target, which only a run resolves (sim/run.ts); the world takes node ids`);
      else if (typeof v !== 'string' || !known.has(v)) problems.push(`${where} (${e.kind}): ${field} ${JSON.stringify(v)} is not a node`);
    };
    const nodeList = (field: string): void => {
      const v = e[field];
      if (!Array.isArray(v)) return void problems.push(`${where} (${e.kind}): ${field} must be a list of nodes`);
      for (const id of v) if (typeof id !== 'string' || !known.has(id)) problems.push(`${where} (${e.kind}): ${JSON.stringify(id)} in ${field} is not a node`);
    };
    const num = (field: string, ok: (x: number) => boolean, what: string, optional = false): void => {
      const v = e[field];
      if (optional && v === undefined) return;
      if (typeof v !== 'number' || !ok(v)) problems.push(`${where} (${e.kind}): ${field} must be ${what}, got ${JSON.stringify(v)}`);
    };
    switch (e.kind) {
      case 'isolate': case 'restart': case 'pause': case 'resume': case 'disk-corrupt':
        node('node');
        break;
      case 'split':
        if (!Array.isArray(e.groups)) problems.push(`${where} (split): groups must be a list of node lists`);
        else {
          for (const g of e.groups as unknown[]) {
            if (!Array.isArray(g)) { problems.push(`${where} (split): each group must be a list of nodes`); continue; }
            for (const id of g) if (typeof id !== 'string' || !known.has(id)) problems.push(`${where} (split): ${JSON.stringify(id)} is not a node`);
          }
        }
        break;
      case 'bridge':
        nodeList('left');
        nodeList('right');
        node('via');
        break;
      case 'one-way':
        node('from');
        node('to');
        break;
      case 'crash':
        node('node');
        num('restartAfterMs', (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0', true);
        break;
      case 'clock-jump':
        node('node');
        num('deltaMs', Number.isFinite, 'a finite number');
        break;
      case 'clock-drift':
        node('node');
        num('ppm', (x) => Number.isFinite(x) && Math.abs(x) <= 500_000, 'within ±500000');
        break;
      case 'disk-slow':
        node('node');
        num('factor', (x) => Number.isFinite(x) && x > 0, 'a finite number > 0');
        break;
      case 'disk-faults':
        node('node');
        if (typeof e.on !== 'boolean') problems.push(`${where} (disk-faults): on must be true or false`);
        break;
      case 'link':
        node('from', true);
        node('to', true);
        problems.push(...linkPatchProblems(e.config, `${where} (link)`));
        break;
      case 'link-reset':
        node('from', true);
        node('to', true);
        break;
    }
  });
  return problems;
}

export interface NemesisGeneratorOptions {
  nodes: readonly NodeId[];
  /** Faults start at or after this time. */
  startMs?: number;
  /** Every fault is undone by this time (crashed nodes restarted, partitions healed...). */
  endMs: number;
  /** Mean gap between the starts of two faults (exponential). */
  meanGapMs: number;
  /** Mean time a fault lasts before its recovery event (exponential, at least 1ms). */
  meanFaultMs: number;
  /** Relative weights of fault families; a family with weight 0 (or absent when weights are given) never occurs. */
  weights?: Partial<Record<NemesisFamily, number>>;
  /** Largest clock step, either way. */
  maxClockJumpMs?: number;
  maxDriftPpm?: number;
  maxDiskSlowFactor?: number;
}

/** `network` degrades every link to and from one node (loss, a long latency tail, or duplication and reordering). */
export type NemesisFamily = 'partition' | 'crash' | 'pause' | 'clock' | 'disk' | 'network';

const ALL_FAMILIES: NemesisFamily[] = ['partition', 'crash', 'pause', 'clock', 'disk', 'network'];

/**
 * A random schedule from the nemesis stream: faults separated by exponential gaps, each followed by its
 * recovery, sorted by time. Every fault started is undone by `endMs`.
 */
export function generateNemesis(rng: RandomStream, options: NemesisGeneratorOptions): NemesisEvent[] {
  const nodes = options.nodes;
  if (nodes.length === 0) throw new RangeError('nemesis: no nodes to break');
  const startMs = options.startMs ?? 0;
  const weights = options.weights ?? { partition: 3, crash: 2, pause: 1, clock: 1, disk: 1, network: 2 };
  const families = ALL_FAMILIES.filter((f) => (weights[f] ?? 0) > 0);
  const totalWeight = families.reduce((sum, f) => sum + weights[f]!, 0);
  if (families.length === 0) throw new RangeError('nemesis: every fault family has weight 0');
  const maxJump = options.maxClockJumpMs ?? 5_000;
  const maxDrift = options.maxDriftPpm ?? 200;
  const maxSlow = options.maxDiskSlowFactor ?? 50;
  const out: NemesisEvent[] = [];
  let t = startMs;
  for (;;) {
    t += rng.exponential(options.meanGapMs);
    if (t >= options.endMs) break;
    let roll = rng.uniform(0, totalWeight);
    let family = families[families.length - 1]!;
    for (const f of families) {
      roll -= weights[f]!;
      if (roll < 0) {
        family = f;
        break;
      }
    }
    const until = Math.min(options.endMs, t + Math.max(1, rng.exponential(options.meanFaultMs)));
    const node = rng.pick(nodes);
    const at = (atMs: number, action: NemesisAction): void => void out.push({ atMs, ...action } as NemesisEvent);
    switch (family) {
      case 'partition': {
        const shape = rng.int(0, 3);
        if (shape === 0 || nodes.length < 3) at(t, { kind: 'isolate', node });
        else if (shape === 1) {
          const shuffled = rng.shuffle(nodes);
          const cutAt = rng.int(1, shuffled.length - 1);
          at(t, { kind: 'split', groups: [shuffled.slice(0, cutAt), shuffled.slice(cutAt)] });
        } else if (shape === 2) {
          const others = rng.shuffle(nodes.filter((n) => n !== node));
          const half = Math.max(1, Math.floor(others.length / 2));
          at(t, { kind: 'bridge', left: others.slice(0, half), right: others.slice(half), via: node });
        } else {
          const to = rng.pick(nodes.filter((n) => n !== node));
          at(t, { kind: 'one-way', from: node, to });
        }
        at(until, { kind: 'heal' });
        break;
      }
      case 'crash':
        at(t, { kind: 'crash', node });
        at(until, { kind: 'restart', node });
        break;
      case 'pause':
        at(t, { kind: 'pause', node });
        at(until, { kind: 'resume', node });
        break;
      case 'clock':
        if (rng.bernoulli(0.5)) at(t, { kind: 'clock-jump', node, deltaMs: Math.round(rng.uniform(-maxJump, maxJump)) });
        else {
          at(t, { kind: 'clock-drift', node, ppm: Math.round(rng.uniform(-maxDrift, maxDrift)) });
          at(until, { kind: 'clock-drift', node, ppm: 0 });
        }
        break;
      case 'network': {
        const style = rng.int(0, 2);
        const config: Partial<LinkConfig> =
          style === 0
            ? { loss: Math.round(rng.uniform(0.2, 0.8) * 100) / 100 }
            : style === 1
              ? { latency: { kind: 'pareto', minMs: 20, shape: 1.3, maxMs: 3_000 } }
              : { duplicate: 0.3, reorder: 1 };
        at(t, { kind: 'link', from: node, to: '*', config });
        at(t, { kind: 'link', from: '*', to: node, config });
        at(until, { kind: 'link-reset', from: node, to: '*' });
        at(until, { kind: 'link-reset', from: '*', to: node });
        break;
      }
      case 'disk':
        if (rng.bernoulli(0.5)) {
          at(t, { kind: 'disk-slow', node, factor: 1 + Math.round(rng.uniform(1, maxSlow)) });
          at(until, { kind: 'disk-slow', node, factor: 1 });
        } else {
          at(t, { kind: 'disk-faults', node, on: true });
          at(until, { kind: 'disk-faults', node, on: false });
        }
        break;
    }
  }
  // Stable sort: recoveries scheduled for the same instant as a later fault keep generation order.
  return out.map((e, i) => [e, i] as const).sort((a, b) => a[0].atMs - b[0].atMs || a[1] - b[1]).map(([e]) => e);
}

// ---- run schedules: targets resolved when an event fires, and actions only a run can carry out ----
//
// A scenario's schedule may name nodes by role instead of by id, because who leads is decided at run time:
// `@leader` (the running member leading in the highest term), `@follower` (a running follower not named
// elsewhere in the event, preferring one no earlier event bound) and, in node lists and one-way cuts, `@others`
// (every current member not named elsewhere in the event). `@leader=old` also binds the pick to the name `old`
// for later events, which write `@old`. An event with a role target waits until the role exists; `when` adds a
// condition (`uncommitted`: the leader holds a client write that a follower has but that is not committed yet).
// sim/nemesis-targets.ts resolves them against the replicas' live state; the world itself only takes node ids.

/** Actions that go through the replicas or the clients rather than the world (sim/nemesis-targets.ts). */
export type RunOnlyAction =
  /** A new member: its process starts with an empty disk, then a member-add request goes through Raft. */
  | { kind: 'member-add'; node: NodeId }
  /** A member-remove request goes through Raft; once the configuration leaves the member out, it is stopped. */
  | { kind: 'member-remove'; node: NodeId }
  /** A service-discovery instance (a client, not a member) dies after the request it has in flight, if any:
   * it stops refreshing its registration; `restartAfterMs` later it registers afresh. */
  | { kind: 'instance-crash'; instance: number; restartAfterMs?: number };

export type RunNemesisAction = NemesisAction | RunOnlyAction;

/** `uncommitted`: the leader holds a client write a follower has too, not yet committed (the write is in flight). */
export type NemesisCondition = 'uncommitted';

export type RunNemesisEvent = { atMs: number; when?: NemesisCondition } & RunNemesisAction;

const ROLE_TARGETS = ['leader', 'follower', 'others'] as const;
export type RoleTarget = (typeof ROLE_TARGETS)[number];

/** A parsed node reference: a node id, a role (optionally binding a name), or a name bound earlier. */
export type NodeRef = { id: NodeId } | { role: RoleTarget; bind?: string } | { name: string };

export function parseNodeRef(text: string): NodeRef {
  if (!text.startsWith('@')) return { id: text };
  const [head, bind] = text.slice(1).split('=', 2) as [string, string | undefined];
  if ((ROLE_TARGETS as readonly string[]).includes(head)) return bind === undefined ? { role: head as RoleTarget } : { role: head as RoleTarget, bind };
  return { name: head };
}

/** Whether a schedule needs a run to carry it out (targets, conditions or run-only actions). */
export function needsRun(events: readonly RunNemesisEvent[]): boolean {
  return events.some((e) => e.when !== undefined || isRunOnly(e) || nodeFields(e).some((v) => v.startsWith('@')));
}

export function isRunOnly(a: RunNemesisAction): a is RunOnlyAction {
  return a.kind === 'member-add' || a.kind === 'member-remove' || a.kind === 'instance-crash';
}

/** Every node-valued field of an action, in a fixed order (lists flattened). */
export function nodeFields(a: RunNemesisAction): string[] {
  const r = a as Record<string, unknown>;
  const out: string[] = [];
  for (const field of ['node', 'from', 'to', 'via', 'left', 'right', 'groups']) {
    const v = r[field];
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) for (const x of v.flat()) if (typeof x === 'string') out.push(x);
  }
  return out;
}

export function describeRunNemesis(e: RunNemesisAction & { when?: NemesisCondition }): string {
  const when = e.when === undefined ? '' : ` when ${e.when}`;
  switch (e.kind) {
    case 'member-add':
    case 'member-remove':
      return `${e.kind} ${e.node}${when}`;
    case 'instance-crash':
      return `instance-crash ${e.instance}${e.restartAfterMs === undefined ? '' : ` (restart after ${e.restartAfterMs}ms)`}${when}`;
    default:
      return describeNemesis(e) + when;
  }
}

/**
 * Checks a run schedule: targets and bound names (a name must be bound by an earlier event), run-only actions,
 * and, with every target replaced by a real node, the world-level rules of `validateNemesis`. One line per problem.
 */
export function validateRunNemesis(events: readonly unknown[], nodes: readonly NodeId[]): string[] {
  const problems: string[] = [];
  const bound = new Set<string>();
  const added = new Set<string>();
  const order = events.map((e, i) => [e, i] as const).sort((a, b) => atOf(a[0]) - atOf(b[0]) || a[1] - b[1]);
  const stand = nodes[0] ?? 'n1';
  const worldEvents: unknown[] = [];
  for (const [raw, i] of order) {
    const where = `nemesis event #${i}`;
    if (typeof raw !== 'object' || raw === null) {
      worldEvents[i] = raw;
      continue;
    }
    const e = raw as RunNemesisEvent;
    if (e.when !== undefined && e.when !== 'uncommitted') problems.push(`${where}: when must be 'uncommitted', got ${JSON.stringify(e.when)}`);
    const refs: string[] = [];
    const visit = (v: unknown, inList: boolean): unknown => {
      if (typeof v !== 'string' || !v.startsWith('@')) return v;
      refs.push(v);
      const ref = parseNodeRef(v);
      if ('role' in ref) {
        if (ref.role === 'others' && !inList && e.kind !== 'one-way') problems.push(`${where} (${e.kind}): @others names several nodes; use it in a node list or a one-way cut`);
        if (ref.bind !== undefined) {
          if (!/^[a-z][a-z0-9-]*$/.test(ref.bind)) problems.push(`${where} (${e.kind}): bound name ${JSON.stringify(ref.bind)} must be lower-case letters, digits and dashes`);
          else if ((ROLE_TARGETS as readonly string[]).includes(ref.bind)) problems.push(`${where} (${e.kind}): ${JSON.stringify(ref.bind)} is a role, not a name to bind`);
          else bound.add(ref.bind);
        }
      } else if ('name' in ref && !bound.has(ref.name)) {
        problems.push(`${where} (${e.kind}): ${v} names no node bound by an earlier event (roles: @leader, @follower, @others; bind with @leader=name)`);
      }
      return stand;
    };
    // Run-only actions are checked here; in the world-level pass a no-op stands in for them, so that pass still
    // checks their atMs and every problem keeps its event number.
    if (e.kind === 'member-add') {
      if (typeof e.node !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(e.node)) problems.push(`${where} (member-add): node must be a new node id, got ${JSON.stringify(e.node)}`);
      else if (nodes.includes(e.node) || added.has(e.node)) problems.push(`${where} (member-add): ${e.node} already exists`);
      else added.add(e.node);
      worldEvents[i] = { atMs: e.atMs, kind: 'heal' };
      continue;
    }
    if (e.kind === 'member-remove') {
      const node = visit(e.node, false);
      if (typeof node !== 'string' || (!nodes.includes(node) && !added.has(node))) problems.push(`${where} (member-remove): node ${JSON.stringify(e.node)} is not a node`);
      worldEvents[i] = { atMs: e.atMs, kind: 'heal' };
      continue;
    }
    if (e.kind === 'instance-crash') {
      if (typeof e.instance !== 'number' || !Number.isInteger(e.instance) || e.instance < 0) problems.push(`${where} (instance-crash): instance must be an integer >= 0, got ${JSON.stringify(e.instance)}`);
      if (e.restartAfterMs !== undefined && !(typeof e.restartAfterMs === 'number' && Number.isFinite(e.restartAfterMs) && e.restartAfterMs >= 0)) {
        problems.push(`${where} (instance-crash): restartAfterMs must be a finite number >= 0, got ${JSON.stringify(e.restartAfterMs)}`);
      }
      worldEvents[i] = { atMs: e.atMs, kind: 'heal' };
      continue;
    }
    // Nodes added by an earlier member-add count as nodes; targets stand in as the first node.
    const r = { ...(e as Record<string, unknown>) };
    delete r.when;
    const known = (v: unknown): unknown => (typeof v === 'string' && added.has(v) ? stand : v);
    for (const f of ['node', 'from', 'to', 'via']) if (f in r) r[f] = known(visit(r[f], false));
    for (const f of ['left', 'right']) if (Array.isArray(r[f])) r[f] = (r[f] as unknown[]).map((v) => known(visit(v, true)));
    if (Array.isArray(r.groups)) r.groups = (r.groups as unknown[]).map((g) => (Array.isArray(g) ? g.map((v) => known(visit(v, true))) : g));
    worldEvents[i] = r;
  }
  problems.push(...validateNemesis(worldEvents, nodes));
  return problems;
}

function atOf(e: unknown): number {
  const at = typeof e === 'object' && e !== null ? (e as { atMs?: unknown }).atMs : undefined;
  return typeof at === 'number' && Number.isFinite(at) ? at : 0;
}
