// A tiny deterministic generator for election-timeout jitter, carried as one uint32 inside the node state
// (mulberry32-style mixing: a Weyl increment followed by multiply-xorshift rounds).

/** Advances `state` and returns [nextState, value in [0, 2^32)]. */
export function nextRandom(state: number): [number, number] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [next, (t ^ (t >>> 14)) >>> 0];
}

/** Mixes a seed with a node id (FNV-1a over UTF-16 code units) so nodes given the same seed still differ. */
export function seedFor(seed: number, id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash ^ (seed >>> 0)) >>> 0;
}
