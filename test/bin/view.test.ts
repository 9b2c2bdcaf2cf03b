// raftsim view on the command line: a page written where asked (or next to the trace), and every kind of bad
// input (no trace, a missing, foreign or cut-short file, an --out that cannot be written, a bad flag) is one
// line on stderr with exit code 2.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTraceFile } from '../../sim/trace/format.ts';
import { recordTrace } from '../../sim/trace/record.ts';
import { defaultOutput, run } from '../../bin/view.ts';
import { UsageError } from '../../bin/usage.ts';
import { raftsim } from './helpers.ts';

let dir: string;
let trace: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raftsim-view-cli-'));
  trace = join(dir, 'calm.trace');
  const recorded = await recordTrace({ scenario: 'calm', seed: 4, config: { name: 'calm', durationMs: 600, settleMs: 100, workload: { clients: 2 }, nemesis: { kind: 'none', meanGapMs: 1, meanFaultMs: 1, weights: {}, maxClockJumpMs: 0, events: [] } }, expect: { kind: 'pass' } });
  writeTraceFile(trace, recorded.trace);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('raftsim view', () => {
  it('writes the page next to the trace by default and says how big it is', () => {
    const r = raftsim(['view', trace]);
    expect(r.status, r.stderr).toBe(0);
    const out = join(dir, 'calm.html');
    expect(r.stdout).toMatch(new RegExp(`^wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\d+\\.\\d\\d MB \\(data \\d+\\.\\d\\d MB: 5 node lanes, 0 faults, \\d+ messages, \\d+ operations\\)`));
    expect(readFileSync(out, 'utf8')).toMatch(/^<!doctype html>/);
    expect(defaultOutput('runs/x.trace')).toBe('runs/x.html');
    expect(defaultOutput('x.bin')).toBe('x.bin.html');
  });

  it('writes to --out, creating missing directories, and honours --max-messages', () => {
    const out = join(dir, 'new', 'deeper', 'page.html');
    const r = raftsim(['view', trace, '--out', out, '--max-messages', '10']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/10 of \d+ messages \(--max-messages\)/);
    expect(existsSync(out)).toBe(true);
  });

  it('refuses bad input with one line and exit code 2', async () => {
    const garbage = join(dir, 'garbage.trace');
    writeFileSync(garbage, 'this is not a trace');
    const cut = join(dir, 'cut.trace');
    const bytes = readFileSync(trace);
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    const aFile = join(dir, 'plain-file');
    writeFileSync(aFile, 'x');
    mkdirSync(join(dir, 'a-directory.html'), { recursive: true });
    const cases: Array<[string[], RegExp]> = [
      [[], /^expected one trace file, got 0/],
      [[trace, trace], /^expected one trace file, got 2/],
      [[join(dir, 'missing.trace')], /^cannot read .*missing\.trace: no such file$/],
      [[garbage], /^.*garbage\.trace: trace: not a raftsim trace/],
      [[cut], /^.*cut\.trace: trace: truncated/],
      [[trace, '--out', join(dir, 'a-directory.html')], /^cannot write .*a-directory\.html: it is a directory$/],
      [[trace, '--out', join(aFile, 'page.html')], /^cannot write .*page\.html: a parent of it is a file$/],
      [[trace, '--out', ''], /^--out needs a file name$/],
      [[trace, '--out', trace], /is the trace itself; name another file$/],
      [[trace, '--max-messages', 'lots'], /^--max-messages takes a whole number/],
      [[trace, '--colour'], /^Unknown option '--colour'/],
    ];
    // In process, each is a UsageError (main.ts prints it as one line and exits 2)...
    for (const [args, message] of cases) {
      const error = await run(args).then(() => null, (err: unknown) => err);
      expect(error, args.join(' ')).toBeInstanceOf(UsageError);
      expect((error as Error).message, args.join(' ')).toMatch(message);
      expect((error as Error).message, args.join(' ')).not.toContain('\n');
    }
    // ... and through the real command line, for a few of them.
    for (const [args, message] of [cases[2]!, cases[4]!, cases[5]!]) {
      const r = raftsim(['view', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr.trim().replace(/^raftsim view: /, ''), args.join(' ')).toMatch(message);
    }
  });
});
