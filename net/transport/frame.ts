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
  if (envelope.k === 'msg' && envelope.body instanceof Uint8Array) return encodeMessageFrame(envelope.body);
  const payload = encode(envelope);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length, false);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

// A 'msg' envelope, {k: 'msg', body: <bin>}, is the frame of nearly every message: its msgpack bytes are written
// and recognised directly (the same bytes msgpack makes, a test checks), which saves an encode, a decode and two
// copies of each message.
const MSG_PREFIX = Uint8Array.of(0x82, 0xa1, 0x6b, 0xa3, 0x6d, 0x73, 0x67, 0xa4, 0x62, 0x6f, 0x64, 0x79); // {k:'msg', body:

function binHeaderBytes(length: number): number {
  return length <= 0xff ? 2 : length <= 0xffff ? 3 : 5;
}

function encodeMessageFrame(body: Uint8Array): Uint8Array {
  const header = binHeaderBytes(body.length);
  const payloadLength = MSG_PREFIX.length + header + body.length;
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payloadLength);
  const view = new DataView(frame.buffer);
  view.setUint32(0, payloadLength, false);
  frame.set(MSG_PREFIX, FRAME_HEADER_BYTES);
  const at = FRAME_HEADER_BYTES + MSG_PREFIX.length;
  if (header === 2) {
    frame[at] = 0xc4;
    frame[at + 1] = body.length;
  } else if (header === 3) {
    frame[at] = 0xc5;
    view.setUint16(at + 1, body.length, false);
  } else {
    frame[at] = 0xc6;
    view.setUint32(at + 1, body.length, false);
  }
  frame.set(body, at + header);
  return frame;
}

/** The body of a payload that is exactly a 'msg' envelope in the form encodeMessageFrame writes, else null. */
function messageBody(payload: Uint8Array): Uint8Array | null {
  const n = MSG_PREFIX.length;
  if (payload.length < n + 2) return null;
  for (let i = 0; i < n; i++) if (payload[i] !== MSG_PREFIX[i]) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const tag = payload[n];
  const [header, length] = tag === 0xc4 ? [2, payload[n + 1]!] : tag === 0xc5 && payload.length >= n + 3 ? [3, view.getUint16(n + 1, false)] : tag === 0xc6 && payload.length >= n + 5 ? [5, view.getUint32(n + 1, false)] : [0, -1];
  if (header === 0 || n + header + length !== payload.length) return null;
  // Copied out: the payload is a view into the socket's chunk, which must not be pinned or reused.
  return new Uint8Array(payload.subarray(n + header));
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
      const body = messageBody(frame.subarray(FRAME_HEADER_BYTES));
      if (body !== null) {
        out.push({ k: 'msg', body });
        continue;
      }
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
