// What `raftsim view` draws, taken out of a trace as compact columns: one lane per node (role and term over
// time, commit index, crashes), the fault schedule as spans with the nodes each one hits, the message
// deliveries (for arrows), the client operations (bars per client) and the linearizability failure.
//
// Only what the page draws is embedded, as flat number arrays (times rounded to the microsecond, messages
// delta-encoded), so a 35-second run becomes a page of a few megabytes that draws in milliseconds.
import { etcdModel } from '../check/models/etcd.ts';
import { describeRunNemesis, type RunNemesisEvent, type NemesisFamily } from '../world/nemesis.ts';
import { describeExpectation } from '../../scenarios/types.ts';
import type { NodeChange, Trace, TraceVerdict } from './format.ts';

/** Lane colours are indexed by these codes in the page; `down` is a crashed node, `removed` one that left the cluster. */
export const ROLE_CODES = ['follower', 'pre-candidate', 'candidate', 'leader', 'down', 'removed'] as const;
export const ROLE_DOWN = 4;
export const ROLE_REMOVED = 5;
export const OUTCOME_CODES = ['ok', 'fail', 'info'] as const;
/** What happened to a delivered message (the world's outcome of the deliver event). */
export const DELIVERY_CODES = ['handled', 'cut', 'down', 'parked'] as const;
/** How an operation figures in the linearizability failure. */
export const MARK = { none: 0, prefix: 1, window: 2, blocked: 3 } as const;
/** Added to a mark: a read the checker needed to prove the violation. */
export const MARK_ESSENTIAL = 4;

/** Deliveries embedded at most, by default: about 20 bytes each in the page. */
export const DEFAULT_MAX_MESSAGES = 200_000;
/** Arrows are drawn only when at most this many messages are in view: more is a solid smear, and slow. */
export const DEFAULT_MAX_ARROWS = 3000;

/** One node's lane. Flat arrays: `roles` is [time, roleCode, term]*, `commits` [time, commitIndex]*. */
export interface LaneData {
  node: string;
  roles: number[];
  commits: number[];
  /** [time, 0 = crash | 1 = restart]* */
  marks: number[];
}

/** The nemesis families, plus membership changes (members added or removed through Raft). */
export type FaultFamily = NemesisFamily | 'membership';

/** A fault from its start to its recovery (`end === start` for an instant such as a clock jump). */
export interface FaultSpan {
  family: FaultFamily;
  label: string;
  start: number;
  end: number;
  /** Never recovered in the schedule: it lasts to the end of the run. */
  open: boolean;
  /** Node indexes the fault hits, and per node what part it plays (`A`, `B` for the sides of a split...). */
  nodes: number[];
  roles: string[];
  /** Row of the fault band it is drawn in (spans of one row do not overlap). */
  row: number;
}

/** Deliveries in the order they happened. */
export interface MessageColumns {
  /** Delivery time in µs, each relative to the previous one (the first to 0). */
  recv: number[];
  /** Delivery time minus send time, µs. */
  latency: number[];
  /** `(outcome * n + from) * n + to` for n nodes, outcome a DELIVERY_CODES index. */
  link: number[];
  bytes: number[];
  /** Deliveries in the trace, and how many of them are embedded (the ones nearest the focus). */
  total: number;
  embedded: number;
  /** Time range the embedded ones cover (ms), null when none are. */
  range: [number, number] | null;
  /** False for traces written before deliveries carried their send time: no arrows can be drawn. */
  sendTimes: boolean;
}

/** Operations sorted by lane, then invocation; lane `l` holds indexes laneStart[l] .. laneStart[l+1]-1. */
export interface OpColumns {
  laneStart: number[];
  id: number[];
  call: number[];
  ret: number[];
  outcome: number[];
  key: number[];
  /** Member contacted, -1 when unknown. */
  member: number[];
  mark: number[];
  label: string[];
}

export interface ViewFailure {
  checker: 'linearizability';
  key: string;
  windowStart: number;
  windowEnd: number;
  blocked: number;
  blockedLabel: string;
  blockedClient: string;
  /** The longest linearizable prefix (operation ids in order) and the state it leaves. */
  linearized: number[];
  finalState: string;
  window: number[];
  essential: number[];
}

export interface ViewData {
  title: string;
  scenario: string;
  seed: number;
  mutant: string | null;
  raftsim: string;
  expect: string;
  asExpected: boolean;
  ok: boolean;
  simulatedMs: number;
  events: number;
  hash: string;
  verdicts: TraceVerdict[];
  nodes: string[];
  lanes: LaneData[];
  faults: FaultSpan[];
  faultRows: number;
  /** Lane names of the operation rows: `client 3`, or `expiries` for the store's own TTL expirations. */
  clients: string[];
  keys: string[];
  ops: OpColumns;
  messages: MessageColumns;
  maxArrows: number;
  failure: ViewFailure | null;
  /** Where the page opens: the failure's window with context, or null for the whole run. */
  focus: [number, number] | null;
  /** Commands to re-run and re-draw the trace. */
  replay: string;
}

export interface ViewOptions {
  /** The trace's path as the user named it, for the replay command. */
  tracePath: string;
  maxMessages?: number;
  maxArrows?: number;
}

const us = (ms: number): number => Math.round(ms * 1000);
const roundUs = (ms: number): number => Math.round(ms * 1000) / 1000;

// ---- lanes ----

/**
 * One lane per node from the sampled changes. A node is down from its crash (the fault schedule's time; the
 * samples only learn of a crash when the node boots again) until its restart sample, and removed from the time
 * the cluster's committed configuration left it out (its process stopped then) to the end.
 */
export function nodeLanes(nodes: readonly string[], changes: readonly NodeChange[], faults: readonly FaultSpan[]): LaneData[] {
  const lanes: LaneData[] = nodes.map((node) => ({ node, roles: [], commits: [], marks: [] }));
  const role = new Map<string, number>(ROLE_CODES.map((r, i) => [r, i]));
  const downs: Array<Array<[number, number]>> = nodes.map(() => []);
  for (const f of faults) if (f.family === 'crash') for (const k of f.nodes) downs[k]!.push([roundUs(f.start), roundUs(f.end)]);
  const entries: Array<Array<{ time: number; code: number; term: number }>> = nodes.map(() => []);
  // A member removed from the cluster is drawn as removed from then on, whatever the schedule still aims at it.
  const removedAt: number[] = nodes.map(() => Infinity);
  for (const c of changes) if (c.event === 'removed' && lanes[c.node] !== undefined) removedAt[c.node] = Math.min(removedAt[c.node]!, roundUs(c.time));
  for (const c of changes) {
    const lane = lanes[c.node];
    if (lane === undefined || c.event === 'crash' || c.event === 'removed' || roundUs(c.time) > removedAt[c.node]!) continue;
    const t = roundUs(c.time);
    if (c.event === 'restart') lane.marks.push(t, 1);
    entries[c.node]!.push({ time: t, code: role.get(c.role) ?? 0, term: c.term });
    const m = lane.commits.length;
    if (m === 0 || lane.commits[m - 1] !== c.commit) lane.commits.push(t, c.commit);
  }
  lanes.forEach((lane, k) => {
    const removed = removedAt[k]!;
    const nodeDowns = downs[k]!.filter(([start]) => start < removed).map(([start, end]): [number, number] => [start, Math.min(end, removed)]);
    for (const [start] of nodeDowns) lane.marks.push(start, 0);
    const inside = (t: number): boolean => nodeDowns.some(([s, e]) => s < t && t < e);
    const merged = entries[k]!.filter((e) => !inside(e.time));
    for (const [start] of nodeDowns) {
      const before = merged.filter((e) => e.time <= start).at(-1);
      merged.push({ time: start, code: ROLE_DOWN, term: before?.term ?? 0 });
    }
    if (removed !== Infinity) merged.push({ time: removed, code: ROLE_REMOVED, term: merged.filter((e) => e.time <= removed).at(-1)?.term ?? 0 });
    // Stable: a down marker sorts after a sample at the same instant, a restart sample after the down.
    merged.sort((a, b) => a.time - b.time);
    for (const e of merged) {
      const n = lane.roles.length;
      if (n === 0 || lane.roles[n - 2] !== e.code || lane.roles[n - 1] !== e.term) lane.roles.push(e.time, e.code, e.term);
    }
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < lane.marks.length; i += 2) pairs.push([lane.marks[i]!, lane.marks[i + 1]!]);
    lane.marks = pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]).flat();
  });
  return lanes;
}

// ---- faults ----

/** The fault family of a nemesis action, for colours and the legend. */
export function faultFamily(kind: RunNemesisEvent['kind']): FaultFamily {
  switch (kind) {
    case 'isolate': case 'split': case 'bridge': case 'one-way': case 'heal':
      return 'partition';
    case 'crash': case 'restart':
      return 'crash';
    case 'pause': case 'resume':
      return 'pause';
    case 'clock-jump': case 'clock-drift':
      return 'clock';
    case 'disk-slow': case 'disk-faults': case 'disk-corrupt':
      return 'disk';
    case 'link': case 'link-reset':
      return 'network';
    case 'member-add': case 'member-remove':
      return 'membership';
    case 'instance-crash':
      return 'crash';
  }
}

/**
 * The schedule as spans from each fault to its recovery: a partition lasts until the next heal, a crash until
 * the node's restart (or its automatic restart), a pause until its resume, a drift, a slow disk or disk faults
 * until the node's next setting of the same knob, a link setting until a link-reset covering it. Clock jumps
 * and disk corruption are instants. Faults never recovered last until `endMs`.
 */
export function faultSpans(schedule: readonly RunNemesisEvent[], nodes: readonly string[], endMs: number): FaultSpan[] {
  const index = new Map(nodes.map((n, i) => [n, i]));
  const spans: FaultSpan[] = [];
  const open = new Map<string, FaultSpan>();
  const partitions: FaultSpan[] = [];
  const start = (key: string | null, e: RunNemesisEvent, hit: Array<[string, string]>, label = describeRunNemesis(e)): FaultSpan => {
    const span: FaultSpan = { family: faultFamily(e.kind), label, start: e.atMs, end: endMs, open: true, nodes: [], roles: [], row: 0 };
    for (const [node, role] of hit) {
      const i = index.get(node);
      if (i !== undefined && !span.nodes.includes(i)) {
        span.nodes.push(i);
        span.roles.push(role);
      }
    }
    spans.push(span);
    if (key !== null) open.set(key, span);
    return span;
  };
  const close = (key: string, at: number): void => {
    const span = open.get(key);
    if (span === undefined) return;
    span.end = Math.max(at, span.start);
    span.open = false;
    open.delete(key);
  };
  const instant = (e: RunNemesisEvent, node: string | null, role = ''): void => {
    const span = start(null, e, node === null ? [] : [[node, role]]);
    span.end = span.start;
    span.open = false;
  };
  const ordered = schedule.map((e, i) => [e, i] as const).sort((a, b) => a[0].atMs - b[0].atMs || a[1] - b[1]).map(([e]) => e);
  for (const e of ordered) {
    switch (e.kind) {
      case 'isolate':
        partitions.push(start(null, e, [[e.node, 'isolated']]));
        break;
      case 'split':
        partitions.push(start(null, e, e.groups.flatMap((g, side) => g.map((n): [string, string] => [n, String.fromCharCode(65 + side)]))));
        break;
      case 'bridge':
        partitions.push(start(null, e, [...e.left.map((n): [string, string] => [n, 'left']), ...e.right.map((n): [string, string] => [n, 'right']), [e.via, 'bridge']]));
        break;
      case 'one-way':
        partitions.push(start(null, e, [[e.from, 'cannot send'], [e.to, 'cannot hear']]));
        break;
      case 'heal':
        for (const p of partitions.splice(0)) {
          p.end = Math.max(e.atMs, p.start);
          p.open = false;
        }
        break;
      case 'crash':
        close(`crash ${e.node}`, e.atMs);
        start(`crash ${e.node}`, e, [[e.node, 'down']]);
        if (e.restartAfterMs !== undefined) close(`crash ${e.node}`, e.atMs + e.restartAfterMs);
        break;
      case 'restart':
        close(`crash ${e.node}`, e.atMs);
        break;
      case 'pause':
        close(`pause ${e.node}`, e.atMs);
        start(`pause ${e.node}`, e, [[e.node, 'paused']]);
        break;
      case 'resume':
        close(`pause ${e.node}`, e.atMs);
        break;
      case 'clock-jump':
      case 'disk-corrupt':
        instant(e, e.node);
        break;
      case 'clock-drift':
        close(`drift ${e.node}`, e.atMs);
        if (e.ppm !== 0) start(`drift ${e.node}`, e, [[e.node, `${e.ppm}ppm`]]);
        break;
      case 'disk-slow':
        close(`disk-slow ${e.node}`, e.atMs);
        if (e.factor !== 1) start(`disk-slow ${e.node}`, e, [[e.node, `x${e.factor}`]]);
        break;
      case 'disk-faults':
        close(`disk-faults ${e.node}`, e.atMs);
        if (e.on) start(`disk-faults ${e.node}`, e, [[e.node, 'faulty']]);
        break;
      case 'link': {
        const key = `link ${e.from}->${e.to}`;
        close(key, e.atMs);
        // The named node is the one hit; `*` means the links of everyone, drawn only when nobody is named.
        const hit: Array<[string, string]> = [];
        if (e.from !== '*') hit.push([e.from, 'outgoing']);
        if (e.to !== '*') hit.push([e.to, 'incoming']);
        start(key, e, hit.length > 0 ? hit : nodes.map((n): [string, string] => [n, 'every link']));
        break;
      }
      case 'member-add':
        instant(e, e.node, 'added');
        break;
      case 'member-remove':
        instant(e, e.node, 'removed');
        break;
      case 'instance-crash':
        instant(e, null);
        break;
      case 'link-reset':
        for (const key of [...open.keys()]) {
          const m = /^link (\S+)->(\S+)$/.exec(key);
          if (m && (e.from === '*' || e.from === m[1]) && (e.to === '*' || e.to === m[2])) close(key, e.atMs);
        }
        break;
    }
  }
  return packRows(mergeTwins(spans), endMs);
}

/** A fault applied both ways at once (a degraded node's links to and from everyone) becomes one span. */
function mergeTwins(spans: FaultSpan[]): FaultSpan[] {
  const out: FaultSpan[] = [];
  for (const s of spans) {
    const twin = out.find((o) => o.family === s.family && o.family === 'network' && o.start === s.start && o.end === s.end);
    if (twin === undefined) {
      out.push(s);
      continue;
    }
    twin.label = `${twin.label}; ${s.label}`;
    s.nodes.forEach((n, i) => {
      const at = twin.nodes.indexOf(n);
      if (at < 0) {
        twin.nodes.push(n);
        twin.roles.push(s.roles[i]!);
      } else if (twin.roles[at] !== s.roles[i]) twin.roles[at] = 'both ways';
    });
  }
  return out;
}

/**
 * Greedy interval packing. A span keeps its row free for at least 1/12 of the run, the room its label takes
 * when the whole run is in view (an instant's label is drawn beside it).
 */
function packRows(spans: FaultSpan[], endMs: number): FaultSpan[] {
  const minWidth = Math.max(endMs, 1) / 12;
  const rowEnds: number[] = [];
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  for (const s of sorted) {
    const reach = Math.max(s.end, s.start + minWidth);
    let row = rowEnds.findIndex((end) => end <= s.start);
    if (row < 0) row = rowEnds.push(0) - 1;
    rowEnds[row] = reach;
    s.row = row;
  }
  return sorted;
}

// ---- messages ----

const DELIVER = /^t=\S+ deliver (\S+)->(\S+) (\d+)B #[0-9a-f]+(?: sent=(\S+))? -> (\w+)$/;

interface Delivery {
  time: number;
  sent: number | null;
  from: number;
  to: number;
  bytes: number;
  outcome: number;
}

export function deliveries(trace: Pick<Trace, 'events'>, nodes: readonly string[]): Delivery[] {
  const index = new Map(nodes.map((n, i) => [n, i]));
  const outcomes = new Map<string, number>(DELIVERY_CODES.map((o, i) => [o, i]));
  const out: Delivery[] = [];
  for (const e of trace.events) {
    // Cheap test first: most events are timers, syncs and client calls.
    if (e.text.indexOf(' deliver ') < 0) continue;
    const m = DELIVER.exec(e.text);
    if (m === null) continue;
    const from = index.get(m[1]!);
    const to = index.get(m[2]!);
    const outcome = outcomes.get(m[5]!);
    if (from === undefined || to === undefined || outcome === undefined) continue;
    out.push({ time: e.time, sent: m[4] === undefined ? null : Number(m[4]), from, to, bytes: Number(m[3]), outcome });
  }
  return out;
}

/** The deliveries as columns; over the budget, the `max` nearest `focus` in time (a contiguous stretch). */
export function messageColumns(all: readonly Delivery[], nodeCount: number, max: number, focus: number | null): MessageColumns {
  const sendTimes = all.length > 0 && all.every((d) => d.sent !== null);
  const columns: MessageColumns = { recv: [], latency: [], link: [], bytes: [], total: all.length, embedded: 0, range: null, sendTimes };
  if (!sendTimes || max <= 0) return columns;
  let from = 0;
  if (all.length > max) {
    const centre = focus === null ? 0 : lowerBound(all, focus);
    from = Math.min(Math.max(0, centre - Math.floor(max / 2)), all.length - max);
  }
  const chosen = all.slice(from, from + max);
  let previous = 0;
  for (const d of chosen) {
    const recv = us(d.time);
    columns.recv.push(recv - previous);
    previous = recv;
    columns.latency.push(Math.max(0, recv - us(d.sent!)));
    columns.link.push((d.outcome * nodeCount + d.from) * nodeCount + d.to);
    columns.bytes.push(d.bytes);
  }
  columns.embedded = chosen.length;
  if (chosen.length > 0) columns.range = [chosen.reduce((t, d) => Math.min(t, d.sent!), Infinity), chosen.at(-1)!.time];
  return columns;
}

function lowerBound(all: readonly Delivery[], time: number): number {
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (all[mid]!.time < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---- operations ----

type TraceOp = Trace['end']['operations'][number];

const clientLane = (op: TraceOp): string => (op.input.f === 'expire' ? 'expiries' : `client ${op.client}`);

export function opColumns(operations: readonly TraceOp[], failure: Trace['end']['failure']): { clients: string[]; keys: string[]; ops: OpColumns } {
  const laneNames = [...new Set(operations.map(clientLane))];
  const laneOrder = (name: string): number => (name === 'expiries' ? Number.MAX_SAFE_INTEGER : Number(name.slice('client '.length)));
  laneNames.sort((a, b) => laneOrder(a) - laneOrder(b));
  const lane = new Map(laneNames.map((n, i) => [n, i]));
  const keys: string[] = [];
  const keyIndex = new Map<string, number>();
  const marks = new Map<number, number>();
  if (failure !== null) {
    for (const id of failure.linearized) marks.set(id, MARK.prefix);
    for (const id of failure.window) marks.set(id, MARK.window);
    marks.set(failure.blocked, MARK.blocked);
    for (const id of failure.essentialReads ?? []) marks.set(id, (marks.get(id) ?? MARK.none) + MARK_ESSENTIAL);
  }
  const sorted = operations
    .map((op) => ({ op, lane: lane.get(clientLane(op))! }))
    .sort((a, b) => a.lane - b.lane || a.op.call - b.op.call || a.op.id - b.op.id);
  const ops: OpColumns = { laneStart: [], id: [], call: [], ret: [], outcome: [], key: [], member: [], mark: [], label: [] };
  let current = -1;
  sorted.forEach(({ op, lane: l }, i) => {
    while (current < l) {
      ops.laneStart.push(i);
      current++;
    }
    let k = keyIndex.get(op.key);
    if (k === undefined) {
      k = keys.push(op.key) - 1;
      keyIndex.set(op.key, k);
    }
    ops.id.push(op.id);
    ops.call.push(roundUs(op.call));
    ops.ret.push(roundUs(op.ret));
    ops.outcome.push(OUTCOME_CODES.indexOf(op.outcome));
    ops.key.push(k);
    ops.member.push(op.meta?.member ?? -1);
    ops.mark.push(failure !== null && op.key === failure.key ? (marks.get(op.id) ?? MARK.none) : MARK.none);
    ops.label.push(etcdModel.describeOperation(op.input, op.outcome === 'ok' ? op.output : null));
  });
  ops.laneStart.push(sorted.length);
  return { clients: laneNames, keys, ops };
}

// ---- the whole page's data ----

/** Context shown around the failing window when the page opens: the window is the middle third. */
function focusOf(failure: ViewFailure | null, endMs: number): [number, number] | null {
  if (failure === null) return null;
  const width = Math.max(failure.windowEnd - failure.windowStart, 1);
  return [Math.max(0, failure.windowStart - width), Math.min(endMs, failure.windowEnd + width)];
}

export function viewData(trace: Trace, options: ViewOptions): ViewData {
  const { header, end } = trace;
  const nodes = end.nodes;
  const endMs = Math.max(end.simulatedMs, ...trace.events.slice(-1).map((e) => e.time));
  const { clients, keys, ops } = opColumns(end.operations, end.failure);
  let failure: ViewFailure | null = null;
  if (end.failure !== null) {
    const f = end.failure;
    const blocked = end.operations.find((op) => op.id === f.blocked);
    failure = {
      checker: 'linearizability',
      key: f.key,
      windowStart: f.windowStart,
      windowEnd: f.windowEnd,
      blocked: f.blocked,
      blockedLabel: blocked === undefined ? `#${f.blocked}` : etcdModel.describeOperation(blocked.input, blocked.outcome === 'ok' ? blocked.output : null),
      blockedClient: blocked === undefined ? '?' : clientLane(blocked),
      linearized: f.linearized,
      finalState: f.states.at(-1) ?? f.initialState,
      window: f.window,
      essential: f.essentialReads ?? [],
    };
  }
  const focus = focusOf(failure, endMs);
  const faults = faultSpans(end.faults, nodes, endMs);
  const centre = focus === null ? null : (focus[0] + focus[1]) / 2;
  const mutant = header.mutant === null ? '' : ` (mutant ${header.mutant})`;
  return {
    title: `raftsim trace: ${header.scenario} seed ${header.seed}${mutant}`,
    scenario: header.scenario,
    seed: header.seed,
    mutant: header.mutant,
    raftsim: header.raftsim,
    expect: describeExpectation(header.expect),
    asExpected: end.asExpected,
    ok: end.ok,
    simulatedMs: endMs,
    events: end.events,
    hash: end.hash,
    verdicts: end.verdicts,
    nodes,
    lanes: nodeLanes(nodes, end.changes, faults),
    faults,
    faultRows: faults.reduce((rows, f) => Math.max(rows, f.row + 1), 0),
    clients,
    keys,
    ops,
    messages: messageColumns(deliveries(trace, nodes), nodes.length, options.maxMessages ?? DEFAULT_MAX_MESSAGES, centre),
    maxArrows: options.maxArrows ?? DEFAULT_MAX_ARROWS,
    failure,
    focus,
    replay: `raftsim replay ${options.tracePath}`,
  };
}
