import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEntry } from '../../../net/storage/index.ts';

const made: string[] = [];

/** A fresh temp dir, removed by `removeTempDirs` (call it in afterEach/afterAll). */
export function tempDir(prefix = 'raftsim-wal-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function copyDir(from: string): string {
  const to = tempDir('raftsim-wal-copy-');
  cpSync(from, to, { recursive: true });
  return to;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The payload an entry at `index` of `term` carries in tests, so recovered data can be checked byte for byte. */
export function payload(index: number, term: number, size = 24): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (index * 31 + term * 7 + i) & 0xff;
  return bytes;
}

export function entries(from: number, to: number, term: number, size = 24): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, data: payload(i, term, size) });
  return out;
}

/** Collects log lines instead of printing them. */
export function logSink(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}
