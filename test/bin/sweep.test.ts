// raftsim sweep: jobs split exactly across shards, runs on worker threads, a table per scenario, and a trace for
// every run that missed its expectation, each replaying event for event.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSeeds, parseShard, sweepJobs } from '../../bin/sweep.ts';
import { raftsim } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'raftsim-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sweep jobs and shards', () => {
  it('shards 1..N of a sweep are disjoint and together are the whole sweep', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 7 }), (scenarios, seeds, n) => {
        const names = Array.from({ length: scenarios }, (_, i) => `s${i}`);
        const rest = { mutant: null, outDir: null, traceAll: false };
        const whole = sweepJobs(names, { from: 1, to: seeds }, { k: 1, n: 1 }, rest).map((j) => `${j.scenario}/${j.seed}`);
        const parts = Array.from({ length: n }, (_, k) => sweepJobs(names, { from: 1, to: seeds }, { k: k + 1, n }, rest).map((j) => `${j.scenario}/${j.seed}`));
        expect(parts.flat().sort()).toEqual([...whole].sort());
        expect(new Set(parts.flat()).size).toBe(whole.length);
        // Shards are balanced to within one job.
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('parses seeds and shards, refusing nonsense', () => {
    expect(parseSeeds(undefined)).toEqual({ from: 1, to: 5 });
    expect(parseSeeds('7')).toEqual({ from: 7, to: 7 });
    expect(parseSeeds('3..9')).toEqual({ from: 3, to: 9 });
    for (const bad of ['9..3', 'a..b', '1..', '-1..3', '1..99999999999']) expect(() => parseSeeds(bad), bad).toThrow(/--seeds/);
    expect(parseShard('2/3')).toEqual({ k: 2, n: 3 });
    for (const bad of ['0/3', '4/3', '1/0', '1', 'a/b']) expect(() => parseShard(bad), bad).toThrow(/--shard/);
  });
});

describe('raftsim sweep end to end', () => {
  it('a healthy sweep exits 0, prints its table and writes no trace', () => {
    const out = join(dir, 'healthy');
    const r = raftsim(['sweep', 'calm', 'quorum-only', '--seeds', '1..2', '--duration', '1s', '--workers', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^calm +2 +2 +0 +all checks hold/m);
    expect(r.stdout).toMatch(/^quorum-only +2 +2 +0 +all checks hold/m);
    expect(r.stdout).toMatch(/4 runs in \d+:\d\d: 4 as expected, 0 unexpected/);
    expect(r.stderr).toMatch(/\[#+\] 4\/4 runs, 0 unexpected, elapsed \d+:\d\d, ETA/);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('runs that miss their expectation exit 1 with a trace each, and every trace replays identically', () => {
    const out = join(dir, 'broken');
    const r = raftsim(['sweep', 'quorum-only', '--seeds', '1..2', '--duration', '2s', '--workers', '2', '--mutant', 'replica-quorum-read-served-locally', '--out', out]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/UNEXPECTED quorum-only seed \d: linearizability: non-linearizable/);
    const traces = readdirSync(out);
    expect(traces.length).toBeGreaterThan(0);
    for (const t of traces) {
      expect(r.stdout).toContain(`raftsim replay ${join(out, t)}`);
      const replay = raftsim(['replay', join(out, t)]);
      expect(replay.stdout, t).toMatch(/^identical: \d+ events/m);
      expect(replay.stdout, t).toContain('verdicts the same as the original run');
      expect(replay.status, t).toBe(1);
    }
  });

  it('bad flags are one-line usage errors with exit 2', () => {
    for (const args of [['sweep', 'nope'], ['sweep', '--all', 'calm'], ['sweep', '--seeds', '5..1'], ['sweep', '--shard', '3/2'], ['sweep', '--workers', '0'], ['sweep', '--mutant', 'nope'], ['sweep', '--duration', 'x']]) {
      const r = raftsim(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
