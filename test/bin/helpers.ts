import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/raftsim', import.meta.url));

/** Runs the raftsim command line and waits for it (bounded: two minutes). */
export function raftsim(args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 120_000, cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
