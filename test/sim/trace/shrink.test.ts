// Shrinking: a failing trace comes out smaller, still failing the same check, and replays event for event; a run
// with nothing failing is refused; and a shrinker that accepts a candidate failing some other check is caught.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PartialRunConfig } from '../../../sim/config.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { zooBugNamed, zooConfig } from '../../../sim/mutants/zoo.ts';
import { decodeTrace, encodeTrace, writeTraceFile, type Trace } from '../../../sim/trace/format.ts';
import { runSimulation } from '../../../sim/run.ts';
import { completeConfig, recordTrace, replayTrace } from '../../../sim/trace/record.ts';
import { faultUnits, NothingToShrink, shrinkTrace, withNodes, type ShrinkResult } from '../../../sim/trace/shrink.ts';
import { raftsim } from '../../bin/helpers.ts';

/** Quorum reads under partitions and crashes: with reads served locally, the 2014 stale read. */
const STALE_READS: PartialRunConfig = {
  name: 'shrink-test',
  nodes: 3,
  durationMs: 2000,
  settleMs: 1000,
  workload: { kind: 'register', clients: 4, quorumReads: 1 },
  nemesis: { meanGapMs: 400, meanFaultMs: 300, weights: { partition: 3, crash: 2 } },
};
const MUTANT = 'replica-quorum-read-served-locally';

const dir = mkdtempSync(join(tmpdir(), 'raftsim-shrink-'));
let failing: Trace;
let shrunk: ShrinkResult;

function failingCheckers(trace: Trace): string[] {
  return trace.end.verdicts.filter((v) => !v.ok).map((v) => v.checker);
}

beforeAll(async () => {
  // The first seed whose run shows the stale read (most do; which ones moves with the simulator's timing).
  for (let seed = 1; seed <= 20; seed++) {
    failing = (await recordTrace({ scenario: 'quorum-only', seed, config: STALE_READS, expect: { kind: 'pass' }, mutant: MUTANT })).trace;
    if (failingCheckers(failing).includes('linearizability')) break;
  }
  shrunk = await shrinkTrace(failing, { maxRuns: 80 });
}, 300_000);

describe('shrinking a failing trace', () => {
  it('the input fails linearizability, with faults and hundreds of operations', () => {
    expect(failingCheckers(failing)).toContain('linearizability');
    expect(failing.header.config.nemesis.events.length).toBeGreaterThan(2);
    expect(shrunk.before.requests).toBeGreaterThan(100);
  });

  it('comes out smaller by every measure and still fails the same check', () => {
    expect(shrunk.target.checker).toBe('linearizability');
    expect(failingCheckers(shrunk.trace)).toContain('linearizability');
    expect(shrunk.after.size).toBeLessThan(shrunk.before.size);
    expect(shrunk.after.size).toBeLessThan(50);
    expect(shrunk.after.events).toBeLessThan(shrunk.before.events);
    expect(shrunk.after.simulatedMs).toBeLessThan(shrunk.before.simulatedMs);
    expect(shrunk.after.bytes).toBeLessThan(shrunk.before.bytes);
    expect(shrunk.after.faults).toBeLessThanOrEqual(shrunk.before.faults);
    // The header says what made it: the same seed and mutant, a complete config with the schedule written out.
    expect(shrunk.trace.header.seed).toBe(failing.header.seed);
    expect(shrunk.trace.header.mutant).toBe(MUTANT);
    expect(shrunk.trace.header.config.nemesis.kind).toBe('schedule');
    expect(shrunk.steps.length).toBeGreaterThan(0);
    expect(shrunk.runs).toBeLessThanOrEqual(80);
  });

  it('is a valid trace that replays event for event and fails the same check again', async () => {
    const back = decodeTrace(encodeTrace(shrunk.trace));
    const replay = await replayTrace(back);
    expect(replay.divergence).toBeNull();
    expect(replay.result!.verdicts.find((v) => v.checker === 'linearizability')!.ok).toBe(false);
  });

  it('stops at its run budget and still returns a failing run', async () => {
    const early = await shrinkTrace(failing, { maxRuns: 3 });
    expect(early.stoppedBy).toBe('max-runs');
    expect(early.runs).toBe(3);
    expect(failingCheckers(early.trace)).toContain('linearizability');
  });
});

describe('nothing to shrink', () => {
  it('refuses a trace whose run holds every check', async () => {
    const passing = (await recordTrace({ scenario: 'calm', seed: 1, config: { ...STALE_READS, durationMs: 500, nemesis: { kind: 'none' } }, expect: { kind: 'pass' } })).trace;
    await expect(shrinkTrace(passing)).rejects.toThrow(NothingToShrink);
    await expect(shrinkTrace(passing)).rejects.toThrow(/nothing to shrink: every check holds/);
  });

  it('refuses a violation-expecting trace whose violation the run does not show, naming it', async () => {
    const passing = (await recordTrace({ scenario: 'stale-read-2014', seed: 1, config: { ...STALE_READS, durationMs: 500, nemesis: { kind: 'none' } }, expect: { kind: 'violation', checker: 'linearizability' } })).trace;
    await expect(shrinkTrace(passing)).rejects.toThrow(/does not fail the linearizability check \(every check holds\)/);
  });

  it('refuses a check the run does not fail', async () => {
    await expect(shrinkTrace(failing, { checker: 'watch' })).rejects.toThrow(/does not fail the watch check \(it fails linearizability\)/);
  });
});

describe('the per-client operation cap shrinking uses', () => {
  it('changes nothing unless a client reaches it, and stops each client at it when one does', () => {
    const config: PartialRunConfig = { ...STALE_READS, durationMs: 1000, nemesis: { kind: 'none' } };
    const free = runSimulation({ seed: 3, config });
    const loose = runSimulation({ seed: 3, config: { ...config, workload: { ...config.workload, maxOpsPerClient: free.summary.clients.requests + 1 } } });
    expect(loose.hash).toBe(free.hash);
    const capped = runSimulation({ seed: 3, config: { ...config, workload: { ...config.workload, maxOpsPerClient: 2 } } });
    expect(capped.summary.clients.requests - capped.summary.clients.retries).toBe(2 * capped.summary.clients.workers);
    expect(capped.summary.clients.requests).toBeLessThan(free.summary.clients.requests);
  });
});

describe('schedule editing', () => {
  it('pairs each fault with the recovery that undoes it, and links cut at one instant go together', () => {
    const events = [
      { atMs: 10, kind: 'crash', node: 'n1' },
      { atMs: 20, kind: 'isolate', node: 'n2' },
      { atMs: 30, kind: 'link', from: 'n3', to: '*', config: { loss: 0.5 } },
      { atMs: 30, kind: 'link', from: '*', to: 'n3', config: { loss: 0.5 } },
      { atMs: 40, kind: 'restart', node: 'n1' },
      { atMs: 50, kind: 'heal' },
      { atMs: 60, kind: 'link-reset', from: 'n3', to: '*' },
      { atMs: 60, kind: 'link-reset', from: '*', to: 'n3' },
      { atMs: 70, kind: 'clock-jump', node: 'n1', deltaMs: 500 },
    ] as const;
    expect(faultUnits(events as never)).toEqual([[0, 4], [1, 5], [2, 3, 6, 7], [8]]);
  });

  it('dropping members drops the faults that name them and shrinks the groups that list them', () => {
    const config = completeConfig({ nodes: 5, nemesis: { kind: 'schedule', events: [
      { atMs: 1, kind: 'crash', node: 'n5' },
      { atMs: 2, kind: 'split', groups: [['n1', 'n4'], ['n2', 'n3', 'n5']] },
      { atMs: 3, kind: 'split', groups: [['n4', 'n5'], ['n1', 'n2', 'n3']] },
      { atMs: 4, kind: 'bridge', left: ['n1'], right: ['n2', 'n4'], via: 'n3' },
      { atMs: 5, kind: 'heal' },
    ] } }, 1);
    expect(withNodes(config, 3).nemesis.events).toEqual([
      { atMs: 2, kind: 'split', groups: [['n1'], ['n2', 'n3']] },
      { atMs: 4, kind: 'bridge', left: ['n1'], right: ['n2'], via: 'n3' },
      { atMs: 5, kind: 'heal' },
    ]);
  });
});

// The shrinker's own planted bug: any failing check will do, not the target one. A failing run that also
// fails a second, sturdier check lets it drift to a candidate where only that one fails.
const anyFailureWillDo: Mutant = {
  name: 'shrink-accepts-any-failing-check',
  description: 'a candidate is kept when any check fails, not only the target check',
  edits: [{ file: 'sim/trace/shrink.ts', find: 'v.checker === target.checker && !v.ok', replace: '!v.ok' }],
};

describe('the shrinker is checked by a mutant of itself', () => {
  it('a shrinker that keeps candidates failing a different check hands back a trace where the target passes', async () => {
    // apply-before-commit makes members apply entries a new leader overwrites: Raft safety and store agreement
    // fail together; shrinking for store agreement must keep it failing, while raft-safety outlives it.
    const config = zooConfig(zooBugNamed('apply-before-commit')!);
    const both = (await recordTrace({ scenario: 'zoo/apply-before-commit', seed: 1, config, expect: { kind: 'pass' }, mutant: 'apply-before-commit' })).trace;
    expect(failingCheckers(both)).toEqual(['raft-safety', 'store-agreement']);
    const real = await shrinkTrace(both, { checker: 'store-agreement', maxRuns: 60 });
    expect(failingCheckers(real.trace)).toContain('store-agreement');
    const broken = await withMutant(anyFailureWillDo, 'sim/trace/shrink.ts', (mod: typeof import('../../../sim/trace/shrink.ts')) =>
      mod.shrinkTrace(both, { checker: 'store-agreement', maxRuns: 60 }),
    );
    expect(failingCheckers(broken.trace)).not.toContain('store-agreement');
  }, 300_000);
});

describe('raftsim shrink on the command line', () => {
  let file: string;
  beforeAll(() => {
    file = join(dir, 'failing.trace');
    writeTraceFile(file, failing);
  });

  it('writes the shrunk trace, prints before and after, and the replay command', () => {
    const out = join(dir, 'small.trace');
    const r = raftsim(['shrink', file, '--out', out, '--max-runs', '25']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^shrunk: linearizability still fails; 25 runs, \d+ accepted/m);
    expect(r.stdout).toMatch(/^size \(faults \+ requests\) +\d+ +\d+$/m);
    for (const row of ['fault events', 'client workers', 'client requests', 'history operations', 'nodes', 'simulated', 'world events', 'file bytes']) expect(r.stdout).toContain(row);
    expect(r.stdout).toContain(`raftsim replay ${out}`);
    const replay = raftsim(['replay', out]);
    expect(replay.stdout).toMatch(/^identical: \d+ events/m);
    expect(replay.status).toBe(1);
  });

  it('--json prints one line of figures', () => {
    const out = join(dir, 'json.trace');
    const r = raftsim(['shrink', file, '--out', out, '--max-runs', '3', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const figures = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(figures).toMatchObject({ trace: out, checker: 'linearizability', runs: 3, stoppedBy: 'max-runs' });
    expect((figures.after as { size: number }).size).toBeLessThanOrEqual((figures.before as { size: number }).size);
  });

  it('bad input is one line and exit 2', () => {
    const junk = join(dir, 'junk.trace');
    writeFileSync(junk, 'not a trace');
    const cut = join(dir, 'cut.trace');
    writeFileSync(cut, readFileSync(file).subarray(0, 200));
    const cases: Array<[string[], RegExp]> = [
      [['shrink'], /expected one trace file, got 0/],
      [['shrink', join(dir, 'missing.trace')], /no such file/],
      [['shrink', junk], /not a raftsim trace/],
      [['shrink', cut], /truncated/],
      [['shrink', file, '--max-runs', '0'], /--max-runs must be an integer >= 1/],
      [['shrink', file, '--budget', 'soon'], /--budget takes a duration/],
      [['shrink', file, '--checker', 'nope'], /unknown --checker 'nope'/],
      [['shrink', file, '--checker', 'watch'], /nothing to shrink: the run does not fail the watch check/],
    ];
    for (const [args, message] of cases) {
      const r = raftsim(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
