// msgpack through one reused encoder and decoder. @msgpack/msgpack's encode() and decode() build a new Encoder or
// Decoder for every call, and a new Encoder's 2 KiB buffer stays alive behind the bytes it returns: in the real
// server's profile that was a large share of the cost of every peer message (bench/net.ts, docs/PERFORMANCE.md).
// The bytes are the same as encode()'s; only allocation differs.
import { Decoder, Encoder } from '@msgpack/msgpack';

/** After encoding something larger (a snapshot), the encoder is replaced rather than kept that large. */
const KEEP_ENCODER_BYTES = 1 << 20;
let encoder = new Encoder();
const decoder = new Decoder();

export function encode(value: unknown): Uint8Array {
  const bytes = encoder.encode(value);
  if (bytes.length > KEEP_ENCODER_BYTES) encoder = new Encoder();
  return bytes;
}

export function decode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
