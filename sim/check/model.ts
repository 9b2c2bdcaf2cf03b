// The model interface the linearizability search runs against: a sequential specification of one object.
// States are immutable values; `step` returns the next state, or `undefined` when the operation cannot have
// produced that output from that state. `output === null` means the output is unknown (an `info` operation),
// and the step must then accept whatever the operation could have done.

export interface Model<S, I, O> {
  name: string;
  init(): S;
  step(state: S, input: I, output: O | null): S | undefined;
  equal(a: S, b: S): boolean;
  /** Any 32-bit integer; equal states must hash equal. */
  hash(state: S): number;
  /** An operation that cannot change the state: when its output is unknown it constrains nothing and is dropped. */
  readOnly(input: I): boolean;
  /** Whether the operation is promised to be linearizable at all (etcd v2's non-quorum reads are not). */
  checked?(input: I): boolean;
  /**
   * Optional ordering evidence from the outputs themselves (etcd's modifiedIndex). An operation with rank r may
   * be linearized only after every state-changing (not `readOnly`) operation of smaller rank on the same key.
   * Sound only when the ranks come from the system's own total order; it both prunes the search and makes the
   * check stronger.
   */
  rank?(input: I, output: O | null): number | undefined;
  describeOperation(input: I, output: O | null): string;
  describeState(state: S): string;
}

// FNV-1a over UTF-16 code units: states hash by content, cheaply, without allocating.
export function hashString(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function mixHash(a: number, b: number): number {
  let h = Math.imul(a ^ (b + 0x9e3779b9 + (a << 6) + (a >>> 2)), 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
