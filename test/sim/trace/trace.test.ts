// Traces: a run written as a trace reads back whole, replays event for event, and any damage to the file or
// any nondeterminism in the run is named rather than crashing or passing silently.
import { gzipSync } from 'node:zlib';
import { encode } from '@msgpack/msgpack';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeTrace, encodeTrace, TraceError, type Trace } from '../../../sim/trace/format.ts';
import { completeConfig, recordTrace, replayTrace } from '../../../sim/trace/record.ts';
import { runSimulation } from '../../../sim/run.ts';
import { materialize, type Mutant } from '../../../sim/mutants/mutate.ts';
import type { PartialRunConfig } from '../../../sim/config.ts';

/** Short, but with every fault family on so the trace holds crashes, partitions and clock jumps. */
export const SHORT: PartialRunConfig = {
  name: 'trace-test',
  durationMs: 3000,
  settleMs: 1000,
  nemesis: { kind: 'generated', meanGapMs: 400, meanFaultMs: 500, weights: { partition: 2, crash: 2, clock: 1, network: 1, pause: 1, disk: 1 }, maxClockJumpMs: 1500, events: [] },
  workload: { clients: 4 },
};

let trace: Trace;
let bytes: Uint8Array;

beforeAll(async () => {
  trace = (await recordTrace({ scenario: 'default', seed: 11, config: SHORT, expect: { kind: 'pass' } })).trace;
  bytes = encodeTrace(trace);
});

describe('recording', () => {
  it('writes the fault schedule out, so the recorded run is the very run the seed gives', () => {
    expect(trace.header.config.nemesis.kind).toBe('schedule');
    expect(trace.header.config.nemesis.events.length).toBeGreaterThan(3);
    const plain = runSimulation({ seed: 11, config: SHORT });
    expect(trace.end.hash).toBe(plain.hash);
    expect(trace.end.events).toBe(trace.events.length);
    expect(trace.events.at(-1)!.hash).toBe(plain.hash);
  });

  it('carries what a viewer draws: node lanes, operations and verdicts', () => {
    expect(trace.end.nodes).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(trace.end.changes.some((c) => c.role === 'leader')).toBe(true);
    expect(trace.end.operations.length).toBeGreaterThan(20);
    expect(trace.end.verdicts.map((v) => v.checker)).toContain('linearizability');
  });

  it('is the same bytes every time the same run is written', async () => {
    const again = encodeTrace((await recordTrace({ scenario: 'default', seed: 11, config: SHORT, expect: { kind: 'pass' } })).trace);
    expect(Buffer.compare(Buffer.from(again), Buffer.from(bytes))).toBe(0);
  });
});

describe('reading', () => {
  it('round-trips', () => {
    const back = decodeTrace(bytes);
    expect(back.header).toEqual(trace.header);
    expect(back.events).toEqual(trace.events);
    expect(back.end).toEqual(trace.end);
  });

  it('refuses every truncation and every flipped byte with a TraceError, never a crash or a wrong trace', () => {
    const cuts = [0, 1, 2, 10, 100, bytes.length >> 2, bytes.length >> 1, bytes.length - 9, bytes.length - 1];
    for (const cut of cuts) expect(() => decodeTrace(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(TraceError);
    for (let i = 0; i < 200; i++) {
      const at = Math.floor((i * 7919) % bytes.length);
      const bad = Uint8Array.from(bytes);
      bad[at] ^= 1 << (i % 8);
      let decoded: Trace | null = null;
      try {
        decoded = decodeTrace(bad);
      } catch (err) {
        expect(err, `flip at ${at}`).toBeInstanceOf(TraceError);
      }
      // gzip's CRC guards the content: a flip that still decodes must have decoded to the same trace.
      if (decoded !== null) expect(decoded.end.hash).toBe(trace.end.hash);
    }
  });

  it('reads a trace written before the search budget was counted in steps, and replays it', async () => {
    const { linearizabilityMaxSteps: _new, ...checks } = trace.header.config.checks;
    const older: Trace = { ...trace, header: { ...trace.header, config: { ...trace.header.config, checks: { ...checks, linearizabilityTimeoutMs: 60_000 } as never } } };
    const read = decodeTrace(encodeTrace(older));
    expect(read.header.config.checks).toEqual({ ...trace.header.config.checks, linearizabilityMaxSteps: 50_000_000 });
    expect(read.header.config.checks).not.toHaveProperty('linearizabilityTimeoutMs');
    const outcome = await replayTrace(read);
    expect(outcome.divergence).toBeNull();
    expect(outcome.replayedEvents).toBe(trace.events.length);
  });

  it('names what is wrong with a well-compressed file that is not a good trace', () => {
    const pack = (...values: unknown[]) => gzipSync(Buffer.concat(values.map((v) => encode(v))));
    const header = { type: 'header', ...trace.header };
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(), /empty/],
      [Buffer.from('{"not": "a trace"}'), /not a raftsim trace/],
      [pack({ hello: 1 }), /does not start with a raftsim trace header/],
      [pack({ ...header, version: 99 }), /trace version 1, the file is version 99/],
      [pack({ ...header, seed: -1 }), /header.seed/],
      [pack({ ...header, config: { ...trace.header.config, nodes: 0 } }), /header.config: nodes/],
      [pack({ ...header, config: { ...trace.header.config, nemesis: { ...trace.header.config.nemesis, events: [{ atMs: 1, kind: 'crash', node: 'n9' }] } } }), /header.config: nemesis.events: nemesis event #0/],
      [pack({ ...header, expect: { kind: 'maybe' } }), /header.expect/],
      [pack(header), /truncated: 0 events and no end record/],
      [pack(header, { type: 'events', from: 5, times: new Uint8Array(), hashes: new Uint8Array(), texts: [] }), /expected event 0, got 5/],
      [pack(header, { type: 'events', from: 0, times: new Uint8Array(3), hashes: new Uint8Array(8), texts: ['x'] }), /times: expected 8 bytes/],
      [pack(header, { type: 'end', ...trace.end }), /the file holds 0 events, its end record says/],
    ];
    for (const [input, message] of cases) {
      expect(() => decodeTrace(input)).toThrow(TraceError);
      expect(() => decodeTrace(input)).toThrow(message);
    }
  });
});

describe('replay', () => {
  it('reproduces the trace event for event', async () => {
    const outcome = await replayTrace(decodeTrace(bytes));
    expect(outcome.divergence).toBeNull();
    expect(outcome.replayedEvents).toBe(trace.events.length);
    expect(outcome.result!.verdicts.map((v) => v.ok)).toEqual(trace.end.verdicts.map((v) => v.ok));
  });

  it('names the first event whose recorded hash differs', async () => {
    const k = Math.floor(trace.events.length / 3);
    const tampered: Trace = { ...trace, events: trace.events.map((e, i) => (i === k ? { ...e, hash: '0123456789abcdef' } : e)) };
    const outcome = await replayTrace(tampered);
    expect(outcome.divergence?.index).toBe(k);
    expect(outcome.divergence?.replayed?.text).toBe(trace.events[k]!.text);
    expect(outcome.replayedEvents).toBe(k);
  });

  it('notices a run that ends early or late', async () => {
    const longer = await replayTrace({ ...trace, events: [...trace.events, { time: 1e9, text: 'extra', hash: '0000000000000000' }] });
    expect(longer.divergence).toMatchObject({ index: trace.events.length, replayed: null });
    const shorter = await replayTrace({ ...trace, events: trace.events.slice(0, -5) });
    expect(shorter.divergence).toMatchObject({ index: trace.events.length - 5, recorded: null });
  });

  it('catches nondeterminism: a network that consults Math.random diverges on replay, and the event is named', async () => {
    const nondeterministic: Mutant = {
      name: 'network-uses-math-random',
      description: 'message latency gets a jitter from Math.random, outside the seeded streams',
      edits: [{ file: 'sim/world/network.ts', find: '    let at = now + latency;', replace: '    let at = now + latency + Math.random();' }],
    };
    const copy = materialize(nondeterministic);
    try {
      const mod = await copy.import<{ recordTrace: typeof recordTrace; replayTrace: typeof replayTrace }>('sim/trace/record.ts');
      const recorded = (await mod.recordTrace({ scenario: 'calm', seed: 2, config: { ...SHORT, durationMs: 1000, settleMs: 0 }, expect: { kind: 'pass' } })).trace;
      const outcome = await mod.replayTrace(recorded);
      expect(outcome.divergence).not.toBeNull();
      expect(outcome.divergence!.index).toBeGreaterThan(0);
      expect(outcome.divergence!.recorded?.text).toMatch(/deliver/);
    } finally {
      copy.remove();
    }
  });

  it('replays a run of a named mutant with that mutant', async () => {
    const config = completeConfig({ ...SHORT, durationMs: 1500 }, 3);
    const recorded = (await recordTrace({ scenario: 'default', seed: 3, config, expect: { kind: 'pass' }, mutant: 'apply-before-commit' })).trace;
    expect(recorded.header.mutant).toBe('apply-before-commit');
    expect((await replayTrace(recorded)).divergence).toBeNull();
    await expect(replayTrace({ ...recorded, header: { ...recorded.header, mutant: 'no-such-bug' } })).rejects.toThrow(/unknown mutant 'no-such-bug'/);
  });
});
