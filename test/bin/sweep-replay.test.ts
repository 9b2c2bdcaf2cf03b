// Issue 6's promise: every trace a sweep over all scenarios writes replays event for event, with the verdicts
// the sweep saw. Short runs (3 s of faults and clients) keep it to a couple of minutes of CPU.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scenarios } from '../../scenarios/index.ts';
import { readTraceFile } from '../../sim/trace/format.ts';
import { replayTrace } from '../../sim/trace/record.ts';
import { raftsim } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'raftsim-sweep-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a sweep over all scenarios', () => {
  it('writes traces that all replay bit for bit with the same verdicts', async () => {
    const r = raftsim(['sweep', '--all', '--seeds', '1', '--duration', '3s', '--trace-all', '--workers', '2', '--out', dir]);
    expect(r.stdout).toMatch(new RegExp(`^${scenarios.length} runs in `, 'm'));
    const files = readdirSync(dir).filter((f) => f.endsWith('.trace')).sort();
    expect(files.map((f) => f.replace(/-seed1\.trace$/, '')).sort()).toEqual(scenarios.map((s) => s.name).sort());
    for (const file of files) {
      const trace = readTraceFile(join(dir, file));
      const outcome = await replayTrace(trace);
      expect(outcome.divergence, `${file}: ${JSON.stringify(outcome.divergence)}`).toBeNull();
      expect(outcome.replayedEvents, file).toBe(trace.end.events);
      expect(outcome.result!.verdicts.map((v) => [v.checker, v.ok]), file).toEqual(trace.end.verdicts.map((v) => [v.checker, v.ok]));
    }
  }, 600_000);
});
