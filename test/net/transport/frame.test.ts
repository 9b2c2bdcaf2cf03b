import { encode as msgpackEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { BoundedFrameQueue, FrameDecoder, backoffDelay, encodeFrame, type Envelope } from '../../../net/transport/index.ts';

type TransportModule = typeof import('../../../net/transport/index.ts');

const envelopeArb: fc.Arbitrary<Envelope> = fc.oneof(
  fc.record({ k: fc.constant('msg' as const), body: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({ k: fc.constant('ping' as const), id: fc.nat() }),
  fc.record({ k: fc.constant('hello' as const), v: fc.nat(3), cluster: fc.string(), from: fc.string(), to: fc.string() }),
  fc.record({ k: fc.constant('refuse' as const), reason: fc.string() }),
);

/** Does splitting a stream of frames at arbitrary points still yield the same envelopes in order? */
function chunkingProperty(mod: TransportModule): fc.IAsyncProperty<[Envelope[], number[]]> | fc.IProperty<[Envelope[], number[]]> {
  return fc.property(fc.array(envelopeArb, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }), (envelopes, cuts) => {
    const stream = Buffer.concat(envelopes.map((e) => mod.encodeFrame(e)));
    const decoder = new mod.FrameDecoder(1 << 20);
    const out: Envelope[] = [];
    let at = 0;
    for (const size of cuts) {
      if (at >= stream.length) break;
      out.push(...decoder.push(stream.subarray(at, at + size)));
      at += size;
    }
    if (at < stream.length) out.push(...decoder.push(stream.subarray(at)));
    expect(out).toEqual(envelopes);
  });
}

describe('peer frames', () => {
  it('any split of a frame stream decodes to the same envelopes', async () => {
    fc.assert(chunkingProperty(await import('../../../net/transport/index.ts')) as fc.IProperty<[Envelope[], number[]]>, { numRuns: 300 });
  });

  it('catches a decoder that mishandles frames split across chunks (mutant)', async () => {
    const mutant: Mutant = {
      name: 'frame-split-dropped',
      description: 'the decoder takes a frame from the first chunk only, ignoring the rest of a frame split across chunks',
      edits: [{ file: 'net/transport/frame.ts', find: 'if (this.chunks[0]!.length < n) this.chunks = [concat(this.chunks, this.buffered)];', replace: '' }],
    };
    const failed = await withMutant(
      mutant,
      'net/transport/index.ts',
      (mod: TransportModule) => fc.check(chunkingProperty(mod) as fc.IProperty<[Envelope[], number[]]>, { numRuns: 300, seed: 7 }).failed,
      { dirs: ['net', 'core/codec'] },
    );
    expect(failed).toBe(true);
  });

  it("writes a 'msg' frame as exactly the bytes msgpack makes of its envelope, and reads msgpack's the same", () => {
    const sizes = fc.oneof(fc.constantFrom(0, 1, 255, 256, 65_535, 65_536, 70_000), fc.nat({ max: 70_000 }));
    fc.assert(
      fc.property(sizes, fc.nat(255), (size, fill) => {
        const body = new Uint8Array(size).fill(fill);
        const payload = msgpackEncode({ k: 'msg', body });
        const viaMsgpack = new Uint8Array(4 + payload.length);
        new DataView(viaMsgpack.buffer).setUint32(0, payload.length, false);
        viaMsgpack.set(payload, 4);
        expect(Buffer.from(encodeFrame({ k: 'msg', body })).equals(Buffer.from(viaMsgpack))).toBe(true);
        const decoded = new FrameDecoder(1 << 20).push(viaMsgpack);
        expect(decoded.length === 1 && decoded[0]!.k === 'msg' && Buffer.from(decoded[0]!.body).equals(Buffer.from(body))).toBe(true);
      }),
      { numRuns: 60 },
    );
    // A 'msg' payload with anything after its body is not taken for a message by the shortcut: msgpack refuses it.
    const extra = msgpackEncode({ k: 'msg', body: new Uint8Array(3) });
    const padded = Uint8Array.from([0, 0, 0, extra.length + 1, ...extra, 0]);
    expect(() => new FrameDecoder(1024).push(padded)).toThrow(/^malformed frame: /);
  });

  it('refuses an oversized frame from its header alone, and malformed payloads, with a reason', () => {
    expect(() => new FrameDecoder(1024).push(Uint8Array.from([0, 0, 4, 1]))).toThrow('frame of 1025 bytes exceeds the maximum of 1024');
    expect(() => new FrameDecoder(1024).push(Uint8Array.from([0, 0, 0, 0]))).toThrow('malformed frame: empty payload');
    expect(() => new FrameDecoder(1024).push(Uint8Array.from([0, 0, 0, 1, 0xc1]))).toThrow(/^malformed frame: /);
    expect(() => new FrameDecoder(1024).push(encodeFrame({ k: 'nope' } as unknown as Envelope))).toThrow("malformed frame: not a valid 'nope' envelope");
    expect(() => new FrameDecoder(1024).push(encodeFrame([1, 2] as unknown as Envelope))).toThrow('malformed frame: payload is not a map');
    expect(() => new FrameDecoder(1024).push(encodeFrame({ k: 'msg', body: 'text' } as unknown as Envelope))).toThrow("not a valid 'msg' envelope");
  });
});

describe('bounded queue and backoff', () => {
  it('drops the oldest droppable message when full and never exceeds its bounds', async () => {
    fc.assert(queueProperty(await import('../../../net/transport/index.ts')), { numRuns: 300 });
  });

  it('catches a queue that discards undroppable messages (mutant)', async () => {
    const mutant: Mutant = {
      name: 'queue-drops-anything',
      description: 'on overflow the queue discards its oldest message even when it must not be dropped',
      edits: [{ file: 'net/transport/queue.ts', find: 'this.items.findIndex((q) => q.droppable)', replace: 'this.items.findIndex(() => true)' }],
    };
    const failed = await withMutant(mutant, 'net/transport/index.ts', (mod: TransportModule) => fc.check(queueProperty(mod), { numRuns: 300, seed: 11 }).failed, {
      dirs: ['net', 'core/codec'],
    });
    expect(failed).toBe(true);
  });

  it('keeps the newest messages: after overflow the queue holds the latest ones in order', () => {
    const queue = new BoundedFrameQueue({ maxMessages: 3, maxBytes: 1000 });
    for (let i = 0; i < 10; i++) queue.push({ frame: Uint8Array.of(i), droppable: true });
    expect(queue.dropped).toBe(7);
    expect([queue.shift(), queue.shift(), queue.shift()].map((q) => q!.frame[0])).toEqual([7, 8, 9]);
  });

  it('backoff grows, stays within bounds, and takes its jitter from the injected source', () => {
    expect(backoffDelay(0, 10, 1000, () => 0)).toBe(5);
    expect(backoffDelay(0, 10, 1000, () => 1)).toBe(10);
    expect(backoffDelay(3, 10, 1000, () => 0.5)).toBe(60);
    for (let attempt = 0; attempt < 100; attempt++) {
      const d = backoffDelay(attempt, 10, 1000, () => 0.999);
      expect(d).toBeLessThanOrEqual(1000);
      expect(d).toBeGreaterThanOrEqual(5);
    }
  });
});

/** The queue's contract: bounded in count and bytes, and a queued undroppable message is never discarded. */
function queueProperty(mod: TransportModule) {
  return fc.property(fc.array(fc.record({ size: fc.integer({ min: 1, max: 50 }), droppable: fc.boolean(), shift: fc.boolean() }), { maxLength: 200 }), (ops) => {
    const queue = new mod.BoundedFrameQueue({ maxMessages: 10, maxBytes: 200 });
    let pushedUndroppable = 0;
    let shiftedUndroppable = 0;
    for (const op of ops) {
      if (op.shift) {
        const item = queue.shift();
        if (item && !item.droppable) shiftedUndroppable++;
      } else if (queue.push({ frame: new Uint8Array(op.size), droppable: op.droppable }) && !op.droppable) {
        pushedUndroppable++;
      }
      expect(queue.length).toBeLessThanOrEqual(10);
      expect(queue.byteLength).toBeLessThanOrEqual(200);
    }
    let remainingUndroppable = 0;
    for (let item = queue.shift(); item; item = queue.shift()) if (!item.droppable) remainingUndroppable++;
    expect(shiftedUndroppable + remainingUndroppable).toBe(pushedUndroppable);
  });
}
