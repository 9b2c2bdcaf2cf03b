// The TTL queue: a binary min-heap of (expireAtMs, path, createdIndex) held as a plain array so the
// store stays plain data. Entries are never removed eagerly; a stale entry (node gone, replaced, or its
// TTL changed) is skipped when it reaches the top, and the heap is rebuilt when stale entries dominate.
import type { TtlEntry } from './types.ts';

function less(a: TtlEntry, b: TtlEntry): boolean {
  if (a.expireAtMs !== b.expireAtMs) return a.expireAtMs < b.expireAtMs;
  if (a.path !== b.path) return a.path < b.path;
  return a.createdIndex < b.createdIndex;
}

export function heapPush(heap: TtlEntry[], entry: TtlEntry): void {
  heap.push(entry);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!less(heap[i]!, heap[parent]!)) break;
    [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
    i = parent;
  }
}

export function heapPop(heap: TtlEntry[]): TtlEntry | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  heap[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let smallest = i;
    if (l < heap.length && less(heap[l]!, heap[smallest]!)) smallest = l;
    if (r < heap.length && less(heap[r]!, heap[smallest]!)) smallest = r;
    if (smallest === i) break;
    [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
    i = smallest;
  }
  return top;
}

export function heapify(entries: TtlEntry[]): TtlEntry[] {
  const heap: TtlEntry[] = [];
  for (const e of entries) heapPush(heap, e);
  return heap;
}
