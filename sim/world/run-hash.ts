// The run hash: every event the world processes is folded into a 64-bit FNV-1a hash, so two runs can be
// compared event for event with one string. BigInt arithmetic would dominate the simulator's hot path, so the
// 64-bit state is kept in small integers.

const FLOAT_VIEW = new Float64Array(1);
const FLOAT_WORDS = new Uint32Array(FLOAT_VIEW.buffer);

// FNV-1a 64-bit offset basis 0xcbf29ce484222325, prime 0x100000001b3 = 2^40 + 0x1b3. The state is kept as four
// 16-bit limbs so that multiplying by the prime is a handful of small-integer operations (products stay below
// 2^27) with no floating-point division: the hash is folded over every event the simulator processes.

export class RunHash {
  private a0 = 0x2325;
  private a1 = 0x8422;
  private a2 = 0x9ce4;
  private a3 = 0xcbf2;

  /** Folds one byte (the low 8 bits of `b`). */
  byte(b: number): void {
    const a0 = this.a0 ^ (b & 0xff);
    // (a3:a2:a1:a0) * (0x100 << 32 | 0x1b3) mod 2^64, limb by limb: 0x1b3 times every limb, 0x100 times the
    // limbs two places down.
    const t0 = a0 * 0x1b3;
    const t1 = this.a1 * 0x1b3 + (t0 >>> 16);
    const t2 = this.a2 * 0x1b3 + a0 * 0x100 + (t1 >>> 16);
    const t3 = this.a3 * 0x1b3 + this.a1 * 0x100 + (t2 >>> 16);
    this.a0 = t0 & 0xffff;
    this.a1 = t1 & 0xffff;
    this.a2 = t2 & 0xffff;
    this.a3 = t3 & 0xffff;
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
    const hi = ((this.a3 << 16) | this.a2) >>> 0;
    const lo = ((this.a1 << 16) | this.a0) >>> 0;
    return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
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
