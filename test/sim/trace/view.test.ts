// The trace viewer's data, without a browser: what each lane, fault span, message and operation becomes, and
// that the page is one self-contained file whose script parses and whose embedded data cannot break out of
// its <script> element. The browser half is view-browser.test.ts.
import { Script } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { NodeChange, Trace } from '../../../sim/trace/format.ts';
import { nodeChanges, recordTrace } from '../../../sim/trace/record.ts';
import { renderView } from '../../../sim/trace/view.ts';
import {
  deliveries,
  faultSpans,
  MARK,
  MARK_ESSENTIAL,
  messageColumns,
  nodeLanes,
  opColumns,
  ROLE_DOWN,
  ROLE_REMOVED,
  viewData,
} from '../../../sim/trace/view-model.ts';
import { recordViewTraces, VIEW_SCHEDULE } from './view-traces.ts';

const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];

let failing: Trace;
let healthy: Trace;

beforeAll(async () => {
  ({ failing, healthy } = await recordViewTraces());
});

describe('fault spans', () => {
  const spans = faultSpans(VIEW_SCHEDULE, NODES, 1500);
  const byLabel = (prefix: string) => spans.filter((s) => s.label.startsWith(prefix));

  it('runs each fault from its start to its recovery, with the nodes it hits', () => {
    expect(byLabel('isolate n3')).toMatchObject([{ family: 'partition', start: 500, end: 800, open: false, nodes: [2], roles: ['isolated'] }]);
    expect(byLabel('crash n4')).toMatchObject([{ family: 'crash', start: 600, end: 900, nodes: [3] }]);
    expect(byLabel('pause n1')).toMatchObject([{ family: 'pause', start: 750, end: 850, nodes: [0] }]);
    expect(byLabel('disk-slow n5')).toMatchObject([{ family: 'disk', start: 200, end: 950, roles: ['x5'] }]);
    // An instant is a span of no length.
    expect(byLabel('clock-jump n4')).toMatchObject([{ family: 'clock', start: 150, end: 150, open: false }]);
  });

  it('lets faults nobody recovers last to the end of the run, marked open', () => {
    expect(byLabel('split')).toMatchObject([{ start: 1000, end: 1500, open: true, nodes: [0, 1, 2, 3, 4], roles: ['A', 'A', 'B', 'B', 'B'] }]);
    expect(byLabel('clock-drift n3')).toMatchObject([{ start: 1100, end: 1500, open: true, roles: ['300ppm'] }]);
  });

  it('merges a link degraded both ways at once into one span on the named node', () => {
    const links = spans.filter((s) => s.family === 'network');
    expect(links).toHaveLength(1);
    expect(links[0]).toMatchObject({ start: 250, end: 700, nodes: [1], roles: ['both ways'] });
    expect(links[0]!.label).toContain('link n2->*');
    expect(links[0]!.label).toContain('link *->n2');
  });

  it('packs spans into rows that never overlap', () => {
    for (const a of spans) {
      for (const b of spans) {
        if (a === b || a.row !== b.row) continue;
        expect(a.end <= b.start || b.end <= a.start, `${a.label} and ${b.label} share row ${a.row}`).toBe(true);
      }
    }
  });
});

describe('node lanes', () => {
  const change = (node: number, time: number, role: string, term: number, commit: number, event?: NodeChange['event']): NodeChange => ({ node, time, role, term, commit, ...(event ? { event } : {}) });

  it('colours a node down from the crash in the schedule to its restart, though the samples learn of the crash only at the restart', () => {
    const crash = faultSpans([{ atMs: 100, kind: 'crash', node: 'n2' }, { atMs: 300, kind: 'restart', node: 'n2' }], NODES.slice(0, 2), 500);
    const lanes = nodeLanes(NODES.slice(0, 2), [
      change(0, 0, 'follower', 1, 0),
      change(1, 0, 'follower', 1, 0),
      change(1, 50, 'leader', 2, 3),
      change(1, 300, 'leader', 2, 3, 'crash'),
      change(1, 300, 'follower', 2, 3, 'restart'),
      change(1, 320, 'follower', 2, 5),
    ], crash);
    expect(lanes.map((l) => l.node)).toEqual(['n1', 'n2']);
    expect(lanes[0]!.roles).toEqual([0, 0, 1]);
    expect(lanes[1]!.roles).toEqual([0, 0, 1, 50, 3, 2, 100, ROLE_DOWN, 2, 300, 0, 2]);
    expect(lanes[1]!.commits).toEqual([0, 0, 50, 3, 320, 5]);
    expect(lanes[1]!.marks).toEqual([100, 0, 300, 1]);
  });

  it('shows a member removed from the cluster as removed to the end, though the schedule still crashes it afterwards', () => {
    const crash = faultSpans([{ atMs: 400, kind: 'crash', node: 'n2' }, { atMs: 450, kind: 'restart', node: 'n2' }], NODES.slice(0, 2), 500);
    const lanes = nodeLanes(NODES.slice(0, 2), [
      change(0, 0, 'leader', 1, 0),
      change(1, 0, 'follower', 1, 0),
      change(1, 200, 'follower', 1, 4),
      change(1, 300, 'follower', 1, 4, 'removed'),
      change(1, 450, 'follower', 1, 4, 'restart'),
    ], crash);
    expect(lanes[0]!.roles).toEqual([0, 3, 1]);
    expect(lanes[1]!.roles).toEqual([0, 0, 1, 300, ROLE_REMOVED, 1]);
    expect(lanes[1]!.marks).toEqual([]);
  });

  it('places a removal after the samples of its instant, with the last role the member had', () => {
    const sample = (node: number, time: number, role: 'follower' | 'leader') => ({ node, time, role, term: 2, commitIndex: 7, lastIndex: 7, applied: 7 });
    const changes = nodeChanges([sample(0, 0, 'follower'), sample(1, 0, 'leader'), sample(0, 90, 'leader'), sample(1, 90, 'follower')], [{ node: 1, time: 90 }]);
    expect(changes.map((c) => [c.node, c.time, c.role, c.event ?? ''])).toEqual([
      [0, 0, 'follower', ''],
      [1, 0, 'leader', ''],
      [0, 90, 'leader', ''],
      [1, 90, 'follower', ''],
      [1, 90, 'follower', 'removed'],
    ]);
  });
});

describe('messages', () => {
  const at = (time: number, text: string) => ({ time, text: `t=${time} ${text}`, hash: '0'.repeat(16) });

  it('reads deliveries with their send times and outcomes, and skips every other event', () => {
    const events = [at(1, 'timer n1 tick (id 1) -> handled'), at(2.5, 'deliver n1->n3 96B #5c1e0a3f sent=1.25 -> handled'), at(3, 'deliver n3->n2 10B #1 sent=2 -> cut')];
    const all = deliveries({ events }, NODES);
    expect(all).toEqual([
      { time: 2.5, sent: 1.25, from: 0, to: 2, bytes: 96, outcome: 0 },
      { time: 3, sent: 2, from: 2, to: 1, bytes: 10, outcome: 1 },
    ]);
    const columns = messageColumns(all, 5, 100, null);
    expect(columns).toMatchObject({ recv: [2500, 500], latency: [1250, 1000], bytes: [96, 10], total: 2, embedded: 2, sendTimes: true, range: [1.25, 3] });
    expect(columns.link).toEqual([(0 * 5 + 0) * 5 + 2, (1 * 5 + 2) * 5 + 1]);
  });

  it('embeds nothing from a trace whose deliveries carry no send time, and says so', () => {
    const all = deliveries({ events: [at(2, 'deliver n1->n2 96B #5c1e0a3f -> handled')] }, NODES);
    expect(messageColumns(all, 5, 100, null)).toMatchObject({ total: 1, embedded: 0, sendTimes: false, recv: [] });
  });

  it('over budget keeps the stretch of deliveries around the focus', () => {
    const all = Array.from({ length: 1000 }, (_, i) => ({ time: i, sent: i - 0.5, from: 0, to: 1, bytes: 1, outcome: 0 }));
    const kept = messageColumns(all, 2, 100, 700);
    expect(kept.embedded).toBe(100);
    expect(kept.range![0]).toBeLessThanOrEqual(700);
    expect(kept.range![1]).toBeGreaterThanOrEqual(700);
    expect(kept.range![1] - kept.range![0]).toBeLessThan(101);
    expect(messageColumns(all, 2, 100, null).range).toEqual([-0.5, 99]);
  });
});

describe('operations', () => {
  it('puts each client on its lane in time order, expiries last, and marks the failure', () => {
    const op = (id: number, client: number, call: number, f: 'get' | 'set' | 'expire', key = '/r') => ({
      id, client, key, call, ret: call + 1, outcome: 'ok' as const,
      input: f === 'set' ? { f, value: 'x' } : { f },
      output: { index: id, ...(f === 'get' ? { value: 'x' } : {}) },
    });
    const ops = [op(0, 2, 5, 'set'), op(1, 1_000_000, 1, 'expire'), op(2, 0, 3, 'get'), op(3, 2, 1, 'get'), op(4, 0, 9, 'get', '/other'), op(5, 0, 10, 'get')];
    const failure = { key: '/r', linearized: [3, 0], states: ['a', 'b'], initialState: '', blocked: 5, windowStart: 4, windowEnd: 11, window: [0, 2, 5], essentialReads: [5] };
    const { clients, keys, ops: columns } = opColumns(ops, failure);
    expect(clients).toEqual(['client 0', 'client 2', 'expiries']);
    expect(columns.laneStart).toEqual([0, 3, 5, 6]);
    expect(columns.id).toEqual([2, 4, 5, 3, 0, 1]);
    expect(columns.label[0]).toBe('get() -> "x" @2');
    expect(keys[columns.key[1]!]).toBe('/other');
    const mark = (id: number) => columns.mark[columns.id.indexOf(id)];
    expect(mark(5)).toBe(MARK.blocked + MARK_ESSENTIAL);
    expect(mark(0)).toBe(MARK.window);
    expect(mark(3)).toBe(MARK.prefix);
    expect(mark(4)).toBe(MARK.none);
  });
});

describe('a recorded run', () => {
  it('a failing run opens on its violation: the failing key, the blocked operation, the window in focus', () => {
    const d = viewData(failing, { tracePath: 'f.trace' });
    const f = failing.end.failure!;
    expect(d.failure).toMatchObject({ key: f.key, blocked: f.blocked, windowStart: f.windowStart, windowEnd: f.windowEnd });
    expect(d.focus![0]).toBeLessThanOrEqual(f.windowStart);
    expect(d.focus![1]).toBeGreaterThanOrEqual(f.windowEnd);
    expect(d.mutant).toBe('replica-quorum-read-served-locally');
    expect(d.replay).toBe('raftsim replay f.trace');
    expect(d.ops.mark[d.ops.id.indexOf(f.blocked)]! % MARK_ESSENTIAL).toBe(MARK.blocked);
  });

  it('has a lane per node, every delivery as a message, every operation as a bar', () => {
    const d = viewData(healthy, { tracePath: 'h.trace' });
    expect(d.failure).toBeNull();
    expect(d.focus).toBeNull();
    expect(d.lanes.map((l) => l.node)).toEqual(NODES);
    expect(d.lanes.some((l) => l.roles.some((v, i) => i % 3 === 1 && v === 3))).toBe(true);
    expect(d.lanes[3]!.roles).toContain(ROLE_DOWN);
    const delivered = healthy.events.filter((e) => / deliver /.test(e.text)).length;
    expect(d.messages).toMatchObject({ total: delivered, embedded: delivered, sendTimes: true });
    expect(d.ops.id).toHaveLength(healthy.end.operations.length);
    expect(d.faults.map((f) => f.family).sort()).toEqual(['clock', 'clock', 'crash', 'disk', 'network', 'partition', 'partition', 'pause']);
  });

  it('draws a member removed through Raft as removed from the moment its process stopped', async () => {
    const { trace, result } = await recordTrace({
      scenario: 'view-member-remove',
      seed: 1,
      config: {
        name: 'view-member-remove',
        nodes: 3,
        durationMs: 1500,
        settleMs: 300,
        workload: { kind: 'register', clients: 3 },
        nemesis: { kind: 'schedule', meanGapMs: 1000, meanFaultMs: 500, weights: {}, maxClockJumpMs: 1000, events: [{ atMs: 400, kind: 'member-remove', node: 'n3' }] },
      },
      expect: { kind: 'pass' },
    });
    const removedMs = result.membershipChanges.find((c) => c.kind === 'remove')?.appliedMs;
    expect(removedMs).toBeGreaterThan(400);
    expect(trace.end.changes.filter((c) => c.event === 'removed').map((c) => [c.node, c.time])).toEqual([[2, removedMs]]);
    const roles = viewData(trace, { tracePath: 'm.trace' }).lanes[2]!.roles;
    const drawnAt = Math.round(removedMs! * 1000) / 1000; // the lanes keep microseconds
    expect(roles.slice(-3)).toEqual([drawnAt, ROLE_REMOVED, roles.at(-1)]);
    expect(roles.filter((_, i) => i % 3 === 0 && roles[i]! > drawnAt)).toEqual([]);
  });
});

describe('the page', () => {
  it('is one self-contained file: nothing fetched, the script parses, the sizes are reported', () => {
    const view = renderView(failing, { tracePath: 'f.trace' });
    expect(view.html).not.toMatch(/<(script|img|iframe|link)[^>]+(src|href)=/i);
    expect(view.html).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);
    expect(view.html).not.toMatch(/\bfetch\(|XMLHttpRequest|import\(/);
    const scripts = [...view.html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(() => new Script(scripts[0]!)).not.toThrow();
    expect(view.bytes).toBe(Buffer.byteLength(view.html));
    expect(view.html).toContain(`page ${(view.bytes / 1e6).toFixed(2)} MB`);
    // The checker's own report for the failing key is embedded, not re-implemented.
    expect(view.html).toContain('<iframe title="linearizability report" srcdoc="');
    expect(renderView(healthy, { tracePath: 'h.trace' }).html).not.toContain('<iframe');
  });

  it('embeds data that cannot close its <script> element, whatever the keys and values are', () => {
    const hostile = '</script><script>alert(1)</script><!--';
    const f = failing.end.failure!;
    const named = new Set([f.blocked, ...f.linearized, ...f.window]);
    const victim = failing.end.operations.find((op) => !named.has(op.id))!;
    const ops = failing.end.operations.map((op) => (op === victim ? { ...op, key: hostile } : op));
    const view = renderView({ ...failing, end: { ...failing.end, operations: ops } }, { tracePath: hostile });
    const json = /<script id="trace-data" type="application\/json">([\s\S]*?)<\/script>/.exec(view.html)![1]!;
    expect(json).not.toContain('<');
    const data = JSON.parse(json) as { keys: string[]; replay: string };
    expect(data.keys).toContain(hostile);
    expect(data.replay).toBe(`raftsim replay ${hostile}`);
    expect(view.html).not.toContain('<script>alert(1)');
  });

  it('draws a trace whose failure names operations it does not hold, without the report', () => {
    const end = { ...failing.end, operations: failing.end.operations.filter((op) => op.id !== failing.end.failure!.blocked) };
    const view = renderView({ ...failing, end }, { tracePath: 'f.trace' });
    expect(view.data.failure?.blockedLabel).toBe(`#${failing.end.failure!.blocked}`);
    expect(view.html).not.toContain('<iframe');
  });
});
