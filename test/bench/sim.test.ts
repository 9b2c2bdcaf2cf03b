// bench/sim.ts refuses bad flags with one line and exit code 2 (bad usage), never a stack trace or a long run.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function bench(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'bench/sim.ts', ...args], { cwd: root, encoding: 'utf8' });
}

it.each([
  [['--rounds', '0'], 'bench/sim: --rounds must be a positive integer, got 0'],
  [['--rounds', 'many'], 'bench/sim: --rounds must be a positive integer, got many'],
  [['--idle-duration', '-5'], 'bench/sim: --idle-duration must be a positive integer, got -5'],
  [['--loaded-duration'], 'bench/sim: --loaded-duration must be a positive integer, got nothing'],
  [['--only', 'busy'], 'bench/sim: --only takes idle or loaded, got busy'],
  [['--fast'], 'bench/sim: unknown argument --fast (usage: bench/sim.ts [--rounds N] [--only idle|loaded] [--idle-duration SECONDS] [--loaded-duration SECONDS] [--seed N])'],
])('bench/sim %j is bad usage', (args, message) => {
  const run = bench(...args);
  expect(run.status).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr.trim().split('\n')).toEqual([message]);
});
