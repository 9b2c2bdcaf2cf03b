// bench/zoo.ts refuses bad flags with one line and exit code 2, never a stack trace and never a half-run bench.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

it.each([
  [['--workers', '0'], 'bench/zoo: --workers must be a positive integer, got 0'],
  [['--seeds', 'many'], 'bench/zoo: --seeds must be a positive integer, got many'],
  [['--bugs', 'no-such-bug'], /^bench\/zoo: --bugs: no zoo bug named no-such-bug \(known: /],
  [['--catch-budget', 'soon'], /^bench\/zoo: --catch-budget takes a duration/],
  [['--fast'], /^bench\/zoo: unknown argument --fast \(usage: /],
  [['--seeds'], /^bench\/zoo: --seeds needs a value/],
])('bench/zoo %j is bad usage', (args, message) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/zoo.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  expect(run.status).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  if (typeof message === 'string') expect(lines[0]).toBe(message);
  else expect(lines[0]).toMatch(message);
});
