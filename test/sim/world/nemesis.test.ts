import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateNemesis, validateNemesis, validateRunNemesis, describeNemesis, describeRunNemesis, needsRun, parseNodeRef, type NemesisEvent, type RunNemesisEvent } from '../../../sim/world/nemesis.ts';
import { RandomStreams } from '../../../sim/world/random.ts';

const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
const generate = (seed: number, endMs = 60_000): NemesisEvent[] =>
  generateNemesis(new RandomStreams(seed).stream('nemesis'), { nodes, endMs, meanGapMs: 1000, meanFaultMs: 800 });

describe('nemesis schedules', () => {
  it('a generated schedule is a function of the nemesis stream alone', () => {
    expect(generate(3)).toEqual(generate(3));
    expect(generate(3)).not.toEqual(generate(4));
  });

  it('is sorted, valid, covers every fault family, and undoes every fault by the end', () => {
    const events = generate(11);
    expect(validateNemesis(events, nodes)).toEqual([]);
    for (let i = 1; i < events.length; i++) expect(events[i]!.atMs).toBeGreaterThanOrEqual(events[i - 1]!.atMs);
    expect(events.every((e) => e.atMs <= 60_000)).toBe(true);
    const kinds = new Set(events.map((e) => e.kind));
    for (const k of ['isolate', 'split', 'bridge', 'one-way', 'heal', 'crash', 'restart', 'pause', 'resume', 'clock-jump', 'clock-drift', 'disk-slow', 'disk-faults', 'link', 'link-reset']) {
      expect(kinds, k).toContain(k);
    }
    // Replay the schedule's bookkeeping: nothing may be left broken at the end.
    const crashed = new Set<string>();
    const paused = new Set<string>();
    let cuts = 0;
    const degraded = new Set<string>();
    for (const e of events) {
      if (e.kind === 'link') degraded.add(`${e.from}->${e.to}`);
      if (e.kind === 'link-reset') degraded.delete(`${e.from}->${e.to}`);
      if (e.kind === 'crash') crashed.add(e.node);
      if (e.kind === 'restart') crashed.delete(e.node);
      if (e.kind === 'pause') paused.add(e.node);
      if (e.kind === 'resume') paused.delete(e.node);
      if (['isolate', 'split', 'bridge', 'one-way'].includes(e.kind)) cuts++;
      if (e.kind === 'heal') cuts = 0;
    }
    expect([...crashed, ...paused, ...degraded]).toEqual([]);
    expect(cuts).toBe(0);
  });

  it('weights select fault families', () => {
    const only = generateNemesis(new RandomStreams(1).stream('nemesis'), { nodes, endMs: 20_000, meanGapMs: 500, meanFaultMs: 100, weights: { crash: 1 } });
    expect(new Set(only.map((e) => e.kind))).toEqual(new Set(['crash', 'restart']));
    expect(() => generateNemesis(new RandomStreams(1).stream('n'), { nodes, endMs: 1, meanGapMs: 1, meanFaultMs: 1, weights: {} })).toThrow(/every fault family has weight 0/);
  });

  it('a written schedule with mistakes gets one line per problem', () => {
    const problems = validateNemesis(
      [
        { atMs: 10, kind: 'crash', node: 'n9' },
        { atMs: -1, kind: 'heal' },
        { atMs: 5, kind: 'explode' },
        { atMs: 5, kind: 'clock-drift', node: 'n1', ppm: 'fast' },
        { atMs: 5, kind: 'split', groups: [['n1'], ['nope']] },
        'crash n1',
      ],
      nodes,
    );
    expect(problems).toEqual([
      'nemesis event #0 (crash): node "n9" is not a node',
      'nemesis event #1: atMs must be a finite number >= 0, got -1',
      expect.stringMatching(/^nemesis event #2: unknown kind "explode" \(known: isolate, split/),
      'nemesis event #3 (clock-drift): ppm must be within ±500000, got "fast"',
      'nemesis event #4 (split): "nope" is not a node',
      'nemesis event #5: not an object',
    ]);
  });

  it('describes every action on one line', () => {
    for (const e of generate(11)) expect(describeNemesis(e)).toMatch(/^[a-z-]+( |$)/);
    expect(describeNemesis({ kind: 'bridge', left: ['n1'], right: ['n2'], via: 'n3' })).toBe('bridge [n1] <n3> [n2]');
  });
});

describe('nemesis link events', () => {
  it('a link change with bad settings is reported before the run', () => {
    expect(
      validateNemesis(
        [
          { atMs: 1, kind: 'link', from: 'n1', to: '*', config: { loss: 0.2, latency: { kind: 'pareto', minMs: 1, shape: 1.5, maxMs: 100 } } },
          { atMs: 1, kind: 'link', from: '*', to: 'n2', config: { loss: 2, jitter: 5 } },
          { atMs: 1, kind: 'link', from: 'n1', to: 'n2', config: { latency: { kind: 'fixed' } } },
          { atMs: 1, kind: 'link', from: 'n7', to: 'n2', config: 'fast' },
          { atMs: 1, kind: 'link-reset', from: '*', to: 'n8' },
        ],
        nodes,
      ),
    ).toEqual([
      'nemesis event #1 (link): loss must be a probability in [0, 1], got 2',
      "nemesis event #1 (link): unknown link setting 'jitter' (known: latency, loss, duplicate, reorder)",
      'nemesis event #2 (link): invalid fixed latency: ms must be a finite number >= 0, got undefined',
      'nemesis event #3 (link): from "n7" is not a node',
      'nemesis event #3 (link): config must be an object',
      'nemesis event #4 (link-reset): to "n8" is not a node',
    ]);
  });
});

describe('nemesis validation of arbitrary input', () => {
  // Seen failing (TypeError on null) with the not-an-object guard removed.
  it('never throws, and every problem is one line (property)', () => {
    const eventish = fc.oneof(
      fc.anything(),
      fc.record({ atMs: fc.oneof(fc.double(), fc.anything()), kind: fc.constantFrom('crash', 'split', 'bridge', 'link', 'link-reset', 'clock-drift', 'disk-faults', 'nope'), node: fc.oneof(fc.constantFrom(...nodes), fc.anything()), groups: fc.anything(), left: fc.anything(), right: fc.anything(), via: fc.anything(), from: fc.anything(), to: fc.anything(), config: fc.anything(), ppm: fc.anything(), on: fc.anything() }, { requiredKeys: ['kind'] }),
    );
    fc.assert(
      fc.property(fc.array(eventish, { maxLength: 5 }), (events) => {
        const problems = validateNemesis(events, nodes);
        for (const p of problems) expect(p).not.toContain('\n');
      }),
      { numRuns: 300 },
    );
  });
});

describe('run schedules: targets, bound names and run-only actions', () => {
  it('parses node references', () => {
    expect(parseNodeRef('n3')).toEqual({ id: 'n3' });
    expect(parseNodeRef('@leader')).toEqual({ role: 'leader' });
    expect(parseNodeRef('@follower=laggard')).toEqual({ role: 'follower', bind: 'laggard' });
    expect(parseNodeRef('@laggard')).toEqual({ name: 'laggard' });
  });

  it('accepts targets, names bound earlier, and membership and instance actions; knows which schedules need a run', () => {
    const events: RunNemesisEvent[] = [
      { atMs: 1000, kind: 'split', groups: [['@leader=old', '@follower'], ['@others']] },
      { atMs: 1500, kind: 'one-way', from: '@others', to: '@old' },
      { atMs: 2000, kind: 'member-add', node: 'n6' },
      { atMs: 2500, kind: 'crash', node: 'n6', restartAfterMs: 10 },
      { atMs: 3000, kind: 'member-remove', node: '@old' },
      { atMs: 3500, when: 'uncommitted', kind: 'crash', node: '@leader' },
      { atMs: 4000, kind: 'instance-crash', instance: 2, restartAfterMs: 500 },
      { atMs: 4500, kind: 'heal' },
    ];
    expect(validateRunNemesis(events, nodes)).toEqual([]);
    expect(needsRun(events)).toBe(true);
    expect(needsRun([{ atMs: 1, kind: 'isolate', node: 'n1' }, { atMs: 2, kind: 'heal' }])).toBe(false);
    expect(events.map((e) => describeRunNemesis(e))).toEqual([
      'split [@leader=old,@follower] | [@others]',
      'cut @others->@old',
      'member-add n6',
      'crash n6 (restart after 10ms)',
      'member-remove @old',
      'crash @leader when uncommitted',
      'instance-crash 2 (restart after 500ms)',
      'heal',
    ]);
  });

  it('a schedule with mistakes gets one line per problem', () => {
    expect(
      validateRunNemesis(
        [
          { atMs: 10, kind: 'isolate', node: '@old' },
          { atMs: 20, kind: 'isolate', node: '@others' },
          { atMs: 30, kind: 'crash', node: '@leader=leader' },
          { atMs: 40, kind: 'pause', node: '@follower=Bad Name' },
          { atMs: 50, kind: 'member-add', node: 'n2' },
          { atMs: 60, kind: 'member-remove', node: 'n9' },
          { atMs: 70, kind: 'instance-crash', instance: -1, restartAfterMs: 'soon' },
          { atMs: 80, when: 'later', kind: 'crash', node: 'n1' },
          { atMs: 90, kind: 'crash', node: 'n7' },
        ],
        nodes,
      ),
    ).toEqual([
      'nemesis event #0 (isolate): @old names no node bound by an earlier event (roles: @leader, @follower, @others; bind with @leader=name)',
      'nemesis event #1 (isolate): @others names several nodes; use it in a node list or a one-way cut',
      'nemesis event #2 (crash): "leader" is a role, not a name to bind',
      'nemesis event #3 (pause): bound name "Bad Name" must be lower-case letters, digits and dashes',
      'nemesis event #4 (member-add): n2 already exists',
      'nemesis event #5 (member-remove): node "n9" is not a node',
      'nemesis event #6 (instance-crash): instance must be an integer >= 0, got -1',
      'nemesis event #6 (instance-crash): restartAfterMs must be a finite number >= 0, got "soon"',
      "nemesis event #7: when must be 'uncommitted', got \"later\"",
      'nemesis event #8 (crash): node "n7" is not a node',
    ]);
    // The world itself refuses targets with a pointer to what resolves them.
    expect(validateNemesis([{ atMs: 1, kind: 'isolate', node: '@leader' }], nodes)).toEqual([
      'nemesis event #0 (isolate): node "@leader" is a target, which only a run resolves (sim/run.ts); the world takes node ids',
    ]);
  });

  it('never throws on arbitrary input, and every problem is one line (property)', () => {
    const ref = fc.oneof(fc.constantFrom(...nodes, '@leader', '@follower=x', '@x', '@others', '@', '@=', '*'), fc.anything());
    const eventish = fc.oneof(
      fc.anything(),
      fc.record(
        { atMs: fc.oneof(fc.double(), fc.anything()), when: fc.anything(), kind: fc.constantFrom('crash', 'split', 'bridge', 'one-way', 'member-add', 'member-remove', 'instance-crash', 'nope'), node: ref, groups: fc.oneof(fc.array(fc.array(ref)), fc.anything()), left: fc.oneof(fc.array(ref), fc.anything()), right: fc.anything(), via: ref, from: ref, to: ref, instance: fc.anything(), restartAfterMs: fc.anything() },
        { requiredKeys: ['kind'] },
      ),
    );
    fc.assert(
      fc.property(fc.array(eventish, { maxLength: 5 }), (events) => {
        for (const p of validateRunNemesis(events, nodes)) expect(p).not.toContain('\n');
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
