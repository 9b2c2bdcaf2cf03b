// bench/raft.ts refuses a bad --entries with one line and exit code 2 (bad usage), never a stack trace.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

it.each([['nope'], ['0'], ['-5'], ['1.5']])('bench/raft --entries %s is bad usage', (value) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/raft.ts', '--entries', value], { cwd: root, encoding: 'utf8' });
  expect(run.status).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr.trim().split('\n')).toEqual([`bench/raft: --entries must be a positive integer, got ${value}`]);
});

it('bench/raft --entries with no value is bad usage', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/raft.ts', '--entries'], { cwd: root, encoding: 'utf8' });
  expect(run.status).toBe(2);
  expect(run.stderr.trim()).toBe('bench/raft: --entries must be a positive integer, got nothing');
});

it('bench/raft refuses an unknown argument', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/raft.ts', '--fast'], { cwd: root, encoding: 'utf8' });
  expect(run.status).toBe(2);
  expect(run.stderr.trim()).toBe('bench/raft: unknown argument --fast (usage: bench/raft.ts [--entries N])');
});
