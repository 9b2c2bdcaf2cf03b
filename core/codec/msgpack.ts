// msgpack through one long-lived encoder and decoder. The package's `encode` and `decode` build a fresh
// Encoder (with a new 2 KiB buffer) or Decoder on every call; at a simulator's message rate that allocation and
// the garbage it leaves were a tenth of a run. The output is the same bytes: `encode` returns a copy sized to
// the value, and the package itself hands a re-entered call (an encode inside an encode) to a fresh instance.
import { Decoder, Encoder } from '@msgpack/msgpack';

/** An encoder that grew past this (a large snapshot) is dropped rather than kept holding the memory. */
const MAX_KEPT_BUFFER = 1 << 20;

let encoder = new Encoder();
const decoder = new Decoder();

export function encode(value: unknown): Uint8Array {
  const bytes = encoder.encode(value);
  if (bytes.length > MAX_KEPT_BUFFER) encoder = new Encoder();
  return bytes;
}

export function decode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
