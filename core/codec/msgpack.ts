// msgpack for everything core encodes: peer and Raft messages, log entries, WAL records, snapshots.
//
// The simulator encodes every message it sends and decodes every message it delivers, so this is one of its
// hottest paths. @msgpack/msgpack is general (extensions, options, streaming) and its `encode`/`decode` build a
// new Encoder (with a fresh 2 KiB buffer) or Decoder per call. Here a lean encoder and decoder handle the values
// core actually produces (plain objects, arrays, ASCII strings, numbers, booleans, null, Uint8Array) into one
// reused buffer, and hand anything else (a non-ASCII string, a Date, a truncated or hostile input, ...) to the
// package, whose result or error is then the answer. The lean path gives exactly the package's bytes and values,
// so the wire format is the package's; test/core/codec/msgpack.test.ts checks both directions against it.
import { Decoder, Encoder } from '@msgpack/msgpack';

/** Thrown inside the lean paths to hand the whole value to the package. */
const FALLBACK = Symbol('msgpack: use the package');

// The package refuses to encode deeper than 100 levels (the root is level 1); the lean encoder leaves such values
// to it, and the lean decoder leaves deep input to the package's non-recursive decoder.
const MAX_DEPTH = 100;

/** An encoder buffer that grew past this (a large snapshot) is dropped rather than kept holding the memory. */
const MAX_KEPT_BUFFER = 1 << 20;

let packageEncoder: Encoder | null = null;
let packageDecoder: Decoder | null = null;

// ------------------------------------------------------------------------------------------------ encoding

let out = new Uint8Array(4096);
let outView = new DataView(out.buffer);
let pos = 0;

function reserve(n: number): void {
  if (pos + n <= out.length) return;
  let size = out.length * 2;
  while (size < pos + n) size *= 2;
  const next = new Uint8Array(size);
  next.set(out.subarray(0, pos));
  out = next;
  outView = new DataView(out.buffer);
}

function writeNumber(x: number): void {
  reserve(9);
  if (Number.isSafeInteger(x)) {
    if (x >= 0) {
      if (x < 0x80) out[pos++] = x;
      else if (x < 0x100) {
        out[pos++] = 0xcc;
        out[pos++] = x;
      } else if (x < 0x10000) {
        out[pos++] = 0xcd;
        outView.setUint16(pos, x);
        pos += 2;
      } else if (x < 0x100000000) {
        out[pos++] = 0xce;
        outView.setUint32(pos, x);
        pos += 4;
      } else {
        out[pos++] = 0xcf;
        outView.setUint32(pos, x / 0x100000000);
        outView.setUint32(pos + 4, x);
        pos += 8;
      }
    } else if (x >= -0x20) out[pos++] = 0xe0 | (x + 0x20);
    else if (x >= -0x80) {
      out[pos++] = 0xd0;
      outView.setInt8(pos++, x);
    } else if (x >= -0x8000) {
      out[pos++] = 0xd1;
      outView.setInt16(pos, x);
      pos += 2;
    } else if (x >= -0x80000000) {
      out[pos++] = 0xd2;
      outView.setInt32(pos, x);
      pos += 4;
    } else {
      out[pos++] = 0xd3;
      outView.setUint32(pos, Math.floor(x / 0x100000000));
      outView.setUint32(pos + 4, x);
      pos += 8;
    }
    return;
  }
  out[pos++] = 0xcb;
  outView.setFloat64(pos, x);
  pos += 8;
}

function writeString(s: string): void {
  const n = s.length;
  reserve(n + 5);
  // ASCII only: then the UTF-8 byte length is the string's length (anything else goes to the package).
  if (n < 32) out[pos++] = 0xa0 + n;
  else if (n < 0x100) {
    out[pos++] = 0xd9;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = 0xda;
    outView.setUint16(pos, n);
    pos += 2;
  } else {
    out[pos++] = 0xdb;
    outView.setUint32(pos, n);
    pos += 4;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) throw FALLBACK;
    out[pos++] = c;
  }
}

function writeHeader(size: number, fix: number, fixLimit: number, code16: number): void {
  reserve(5);
  if (size < fixLimit) out[pos++] = fix + size;
  else if (size < 0x10000) {
    out[pos++] = code16;
    outView.setUint16(pos, size);
    pos += 2;
  } else {
    out[pos++] = code16 + 1;
    outView.setUint32(pos, size);
    pos += 4;
  }
}

function writeValue(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'number':
      return writeNumber(v);
    case 'string':
      return writeString(v);
    case 'boolean':
      reserve(1);
      out[pos++] = v ? 0xc3 : 0xc2;
      return;
    case 'undefined':
      reserve(1);
      out[pos++] = 0xc0;
      return;
    case 'object':
      break;
    default:
      throw FALLBACK;
  }
  if (v === null) {
    reserve(1);
    out[pos++] = 0xc0;
    return;
  }
  // Well short of the package's limit: a value near it is the package's to accept or refuse.
  if (depth >= MAX_DEPTH - 2) throw FALLBACK;
  if (Array.isArray(v)) {
    writeHeader(v.length, 0x90, 16, 0xdc);
    for (let i = 0; i < v.length; i++) writeValue(v[i], depth + 1);
    return;
  }
  if (v instanceof Uint8Array) {
    const n = v.length;
    reserve(n + 5);
    if (n < 0x100) {
      out[pos++] = 0xc4;
      out[pos++] = n;
    } else if (n < 0x10000) {
      out[pos++] = 0xc5;
      outView.setUint16(pos, n);
      pos += 2;
    } else {
      out[pos++] = 0xc6;
      outView.setUint32(pos, n);
      pos += 4;
    }
    out.set(v, pos);
    pos += n;
    return;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) throw FALLBACK;
  const record = v as Record<string, unknown>;
  let size = 0;
  for (const _ in record) size++;
  writeHeader(size, 0x80, 16, 0xde);
  for (const key in record) {
    writeString(key);
    writeValue(record[key], depth + 1);
  }
}

/** The msgpack bytes of `value`, exactly as @msgpack/msgpack's `encode` writes them (a fresh copy). */
export function encode(value: unknown): Uint8Array {
  pos = 0;
  let bytes: Uint8Array;
  try {
    writeValue(value, 0);
    bytes = out.slice(0, pos);
  } catch (e) {
    if (e !== FALLBACK) throw e;
    bytes = (packageEncoder ??= new Encoder()).encode(value);
  }
  if (out.length > MAX_KEPT_BUFFER) {
    out = new Uint8Array(4096);
    outView = new DataView(out.buffer);
  }
  return bytes;
}

// Messages are many and short-lived: their bytes are cut from shared slabs, since a typed array of its own is an
// allocation outside the JS heap for anything over 64 bytes (several times the cost of encoding a small message).
const SLAB_BYTES = 64 * 1024;
const MAX_SLABBED = 4096;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

function fromSlab(n: number): Uint8Array {
  if (n > MAX_SLABBED) return out.slice(0, n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  if (n <= 32) for (let i = 0; i < n; i++) slab[slabUsed + i] = out[i]!;
  else slab.set(out.subarray(0, n), slabUsed);
  const bytes = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += n;
  return bytes;
}

/**
 * The bytes of `encode({ ...envelope, [innerKey]: encode(envelope[innerKey]) })` (a message carrying another
 * message's encoding, as peer messages carry Raft messages), written in one pass. The result is a view into a
 * shared slab: meant for bytes that travel and are dropped, it keeps the slab alive while it lives.
 */
export function encodeEnvelope(envelope: Record<string, unknown>, innerKey: string): Uint8Array {
  pos = 0;
  try {
    let size = 0;
    for (const _ in envelope) size++;
    writeHeader(size, 0x80, 16, 0xde);
    for (const key in envelope) {
      writeString(key);
      if (key !== innerKey) {
        writeValue(envelope[key], 1);
        continue;
      }
      // The inner value goes after room for a bin 8 header (messages are mostly short), and moves forward when
      // it needs a longer one.
      reserve(2);
      const headerAt = pos;
      pos += 2;
      writeValue(envelope[key], 0);
      const n = pos - headerAt - 2;
      const header = n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
      if (header > 2) {
        reserve(header - 2);
        out.copyWithin(headerAt + header, headerAt + 2, pos);
        pos += header - 2;
      }
      if (header === 2) {
        out[headerAt] = 0xc4;
        out[headerAt + 1] = n;
      } else if (header === 3) {
        out[headerAt] = 0xc5;
        outView.setUint16(headerAt + 1, n);
      } else {
        out[headerAt] = 0xc6;
        outView.setUint32(headerAt + 1, n);
      }
    }
  } catch (e) {
    if (e !== FALLBACK) throw e;
    return encode({ ...envelope, [innerKey]: encode(envelope[innerKey]) });
  }
  const bytes = fromSlab(pos);
  if (out.length > MAX_KEPT_BUFFER) {
    out = new Uint8Array(4096);
    outView = new DataView(out.buffer);
  }
  return bytes;
}

// ------------------------------------------------------------------------------------------------ decoding

const EMPTY: Uint8Array = new Uint8Array(0);
let input: Uint8Array = EMPTY;
let at = 0;
// Floats are read by copying their bytes here (a DataView over each input would be an allocation per call).
const floatBytes = new Uint8Array(8);
const floatView = new DataView(floatBytes.buffer);

function need(n: number): void {
  if (at + n > input.length) throw FALLBACK;
}

function u16(): number {
  need(2);
  const v = (input[at]! << 8) | input[at + 1]!;
  at += 2;
  return v;
}

function u32(): number {
  need(4);
  const v = input[at]! * 0x1000000 + ((input[at + 1]! << 16) | (input[at + 2]! << 8) | input[at + 3]!);
  at += 4;
  return v;
}

function float(n: 4 | 8): number {
  need(n);
  for (let i = 0; i < n; i++) floatBytes[i] = input[at + i]!;
  at += n;
  return n === 4 ? floatView.getFloat32(0) : floatView.getFloat64(0);
}

// Short ASCII strings (map keys, node ids, message types) come back from a small cache rather than being
// rebuilt each time: a direct-mapped table checked character by character.
const CACHE_SLOTS = 4096;
const MAX_CACHED_LENGTH = 24;
const cache: Array<string | undefined> = new Array<string | undefined>(CACHE_SLOTS);


function readString(n: number): string {
  need(n);
  const start = at;
  at += n;
  if (n <= MAX_CACHED_LENGTH) {
    let h = n;
    for (let i = start; i < start + n; i++) {
      const c = input[i]!;
      if (c >= 0x80) throw FALLBACK;
      h = Math.imul(h ^ c, 0x01000193);
    }
    const slot = (h ^ (h >>> 15)) & (CACHE_SLOTS - 1);
    const cached = cache[slot];
    if (cached !== undefined && cached.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (cached.charCodeAt(i) !== input[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return cached;
    }
    let s = '';
    for (let i = start; i < start + n; i++) s += String.fromCharCode(input[i]!);
    cache[slot] = s;
    return s;
  }
  let s = '';
  for (let chunk = start; chunk < start + n; chunk += 4096) {
    const end = Math.min(start + n, chunk + 4096);
    for (let i = chunk; i < end; i++) if (input[i]! >= 0x80) throw FALLBACK;
    s += String.fromCharCode.apply(null, input.subarray(chunk, end) as unknown as number[]);
  }
  return s;
}

function readBinary(n: number): Uint8Array {
  need(n);
  const start = at;
  at += n;
  return input.subarray(start, start + n);
}

function readArray(n: number, depth: number): unknown[] {
  // Every item takes at least a byte: a larger count is a truncated or hostile input.
  if (n > input.length - at || depth >= MAX_DEPTH) throw FALLBACK;
  const items = new Array<unknown>(n);
  for (let i = 0; i < n; i++) items[i] = readValue(depth + 1);
  return items;
}

function readMap(n: number, depth: number): Record<string, unknown> {
  if (2 * n > input.length - at || depth >= MAX_DEPTH) throw FALLBACK;
  const record: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const key = readValue(depth + 1);
    if (typeof key !== 'string' || key === '__proto__') throw FALLBACK;
    record[key] = readValue(depth + 1);
  }
  return record;
}

function readValue(depth: number): unknown {
  need(1);
  const b = input[at++]!;
  if (b < 0x80) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b < 0x90) return readMap(b - 0x80, depth);
  if (b < 0xa0) return readArray(b - 0x90, depth);
  if (b < 0xc0) return readString(b - 0xa0);
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      need(1);
      return readBinary(input[at++]!);
    case 0xc5:
      return readBinary(u16());
    case 0xc6:
      return readBinary(u32());
    case 0xca:
      return float(4);
    case 0xcb:
      return float(8);
    case 0xcc:
      need(1);
      return input[at++]!;
    case 0xcd:
      return u16();
    case 0xce:
      return u32();
    case 0xcf:
      return u32() * 0x100000000 + u32();
    case 0xd0:
      need(1);
      return (input[at++]! << 24) >> 24;
    case 0xd1:
      return (u16() << 16) >> 16;
    case 0xd2:
      return u32() | 0;
    case 0xd3:
      return (u32() | 0) * 0x100000000 + u32();
    case 0xd9:
      need(1);
      return readString(input[at++]!);
    case 0xda:
      return readString(u16());
    case 0xdb:
      return readString(u32());
    case 0xdc:
      return readArray(u16(), depth);
    case 0xdd:
      return readArray(u32(), depth);
    case 0xde:
      return readMap(u16(), depth);
    case 0xdf:
      return readMap(u32(), depth);
    default:
      // Extensions and the unused type byte 0xc1: the package decides.
      throw FALLBACK;
  }
}

// ------------------------------------------------------------------------------------- shape-directed reading
// A decoder that knows the shape it expects (core/codec's messages and entries) reads keys as raw bytes and
// builds each object as a literal, several times faster than the generic path (which makes every key a string
// and sets properties one by one). Anything unexpected makes it give up, and the caller decodes generically:
// the generic path stays the one that decides what the bytes mean.

/** A key as its msgpack bytes, for `expectKey`. ASCII only. */
export function keyBytes(key: string): Uint8Array {
  pos = 0;
  writeString(key);
  return out.slice(0, pos);
}

/** Runs `read` over `bytes`; undefined when the bytes are not what `read` expects or not one whole value. */
export function readShaped<T>(bytes: Uint8Array, read: () => T): T | undefined {
  input = bytes;
  at = 0;
  try {
    const value = read();
    return at === bytes.length ? value : undefined;
  } catch (e) {
    if (e !== FALLBACK) throw e;
    return undefined;
  } finally {
    input = EMPTY;
  }
}

/** Inside `readShaped`: give up (the caller decodes generically). */
export function notShaped(): never {
  throw FALLBACK;
}

/** Inside `readShaped`: the size of the map that comes next (gives up if it is not a map). */
export function readMapSize(): number {
  need(1);
  const b = input[at]!;
  if (b >= 0x80 && b < 0x90) {
    at++;
    return b - 0x80;
  }
  if (b === 0xde) {
    at++;
    return u16();
  }
  throw FALLBACK;
}

/** Inside `readShaped`: the length of the array that comes next (gives up if it is not an array). */
export function readArraySize(): number {
  need(1);
  const b = input[at]!;
  if (b >= 0x90 && b < 0xa0) {
    at++;
    return b - 0x90;
  }
  if (b === 0xdc) {
    at++;
    return u16();
  }
  throw FALLBACK;
}

/** Inside `readShaped`: steps over the next key, which must be exactly `key` (from `keyBytes`). */
export function expectKey(key: Uint8Array): void {
  const n = key.length;
  need(n);
  for (let i = 0; i < n; i++) if (input[at + i] !== key[i]) throw FALLBACK;
  at += n;
}

/** Inside `readShaped`: the next value, read generically. */
export function readAny(): unknown {
  return readValue(1);
}

/** The value in `bytes`, exactly as @msgpack/msgpack's `decode` gives it (binary values are views into
 * `bytes`); throws the package's error for anything that is not one whole msgpack value. */
export function decode(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) return (packageDecoder ??= new Decoder()).decode(bytes);
  input = bytes;
  at = 0;
  try {
    const value = readValue(0);
    if (at !== bytes.length) throw FALLBACK;
    return value;
  } catch (e) {
    if (e !== FALLBACK) throw e;
    return (packageDecoder ??= new Decoder()).decode(bytes);
  } finally {
    // Drop the reference so a large input can be collected.
    input = EMPTY;
  }
}
