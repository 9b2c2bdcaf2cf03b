// The run hash: every event the world processes is folded into a 64-bit FNV-1a hash, so two runs can be
// compared event for event with one string. The 64-bit state is kept as two unsigned 32-bit halves because
// BigInt arithmetic would dominate the simulator's hot path.

const FLOAT_VIEW = new Float64Array(1);
const FLOAT_WORDS = new Uint32Array(FLOAT_VIEW.buffer);

// FNV-1a 64-bit offset basis 0xcbf29ce484222325, prime 0x100000001b3 = 2^40 + 0x1b3.
const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;

export class RunHash {
  private hi = OFFSET_HI;
  private lo = OFFSET_LO;

  /** Folds one byte (the low 8 bits of `b`). */
  byte(b: number): void {
    const lo = (this.lo ^ (b & 0xff)) >>> 0;
    // (hi:lo) * (2^40 + 0x1b3) mod 2^64: the 2^40 term only moves lo's low 24 bits into hi.
    const loProduct = lo * 0x1b3;
    const carry = Math.floor(loProduct / 0x100000000);
    this.lo = loProduct >>> 0;
    this.hi = (this.hi * 0x1b3 + carry + ((lo << 8) >>> 0)) >>> 0;
  }

  /** Folds a 32-bit integer (signed or unsigned), little-endian. */
  word(w: number): void {
    this.byte(w);
    this.byte(w >>> 8);
    this.byte(w >>> 16);
    this.byte(w >>> 24);
  }

  /** Folds any number exactly (its IEEE-754 bits), so 0.1 + 0.2 and 0.3 hash differently, as they should. */
  number(x: number): void {
    if (Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff) {
      this.byte(0);
      this.word(x);
      return;
    }
    FLOAT_VIEW[0] = x;
    this.byte(1);
    this.word(FLOAT_WORDS[0]!);
    this.word(FLOAT_WORDS[1]!);
  }

  /** Folds a string's UTF-16 code units, length-prefixed so that ('ab','c') differs from ('a','bc'). */
  string(s: string): void {
    this.word(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      this.byte(c);
      if (c > 0xff) this.byte(c >>> 8);
    }
  }

  /** Folds bytes, length-prefixed. */
  bytes(b: Uint8Array): void {
    this.word(b.length);
    for (let i = 0; i < b.length; i++) this.byte(b[i]!);
  }

  /** The hash so far as 16 hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}

/** 64-bit FNV-1a of a byte string as 16 hex digits (the standard function; test vectors apply). */
export function fnv1a64(bytes: Uint8Array): string {
  const h = new RunHash();
  for (let i = 0; i < bytes.length; i++) h.byte(bytes[i]!);
  return h.hex();
}

/** A cheap 32-bit FNV-1a of bytes: a message's fingerprint, computed once when it is sent. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}
