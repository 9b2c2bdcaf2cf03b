// Peer frames: a 4-byte big-endian payload length, then a msgpack payload. The length is checked against a
// maximum before any byte of the payload is buffered, so a hostile or confused peer cannot make us allocate.
import { decode, encode } from '@msgpack/msgpack';

export const FRAME_HEADER_BYTES = 4;

/** What travels between members. `body` of a message is opaque bytes (the server's codec owns it). */
export type Envelope =
  | { k: 'hello'; v: number; cluster: string; from: string; to: string }
  | { k: 'welcome' }
  | { k: 'refuse'; reason: string }
  | { k: 'msg'; body: Uint8Array }
  | { k: 'ping'; id: number }
  | { k: 'pong'; id: number };

export const PROTOCOL_VERSION = 1;

export function encodeFrame(envelope: Envelope): Uint8Array {
  const payload = encode(envelope);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length, false);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Checks the shape of a decoded payload; anything else is a malformed frame. */
export function toEnvelope(value: unknown): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FrameError('malformed frame: payload is not a map');
  const v = value as Record<string, unknown>;
  switch (v.k) {
    case 'hello':
      if (isCount(v.v) && isString(v.cluster) && isString(v.from) && isString(v.to)) return { k: 'hello', v: v.v, cluster: v.cluster, from: v.from, to: v.to };
      break;
    case 'welcome':
      return { k: 'welcome' };
    case 'refuse':
      if (isString(v.reason)) return { k: 'refuse', reason: v.reason };
      break;
    case 'msg':
      // Copied out: the decoded bytes are a view into the socket's chunk, which must not be pinned or reused.
      if (v.body instanceof Uint8Array) return { k: 'msg', body: new Uint8Array(v.body) };
      break;
    case 'ping':
    case 'pong':
      if (isCount(v.id)) return { k: v.k, id: v.id };
      break;
  }
  throw new FrameError(`malformed frame: not a valid ${isString(v.k) ? `'${v.k.slice(0, 20)}'` : 'peer'} envelope`);
}

/** Reassembles frames from a byte stream; throws FrameError on an oversized or undecodable frame. */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds bytes; returns every envelope now complete, in order. */
  push(chunk: Uint8Array): Envelope[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Envelope[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) return out;
      const header = this.peek(FRAME_HEADER_BYTES);
      const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0, false);
      if (length > this.maxFrameBytes) throw new FrameError(`frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes}`);
      if (length === 0) throw new FrameError('malformed frame: empty payload');
      if (this.buffered < FRAME_HEADER_BYTES + length) return out;
      const frame = this.take(FRAME_HEADER_BYTES + length);
      let decoded: unknown;
      try {
        decoded = decode(frame.subarray(FRAME_HEADER_BYTES));
      } catch (err) {
        throw new FrameError(`malformed frame: ${(err as Error).message.split('\n')[0]}`);
      }
      out.push(toEnvelope(decoded));
    }
  }

  private peek(n: number): Uint8Array {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  private take(n: number): Uint8Array {
    if (this.chunks[0]!.length < n) this.chunks = [concat(this.chunks, this.buffered)];
    const first = this.chunks[0]!;
    const taken = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return taken;
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
