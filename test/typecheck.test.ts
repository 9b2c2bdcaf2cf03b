import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

// Strict types are part of the build: a type error anywhere in the tree fails the suite.
it('the whole tree type-checks under strict TypeScript', () => {
  const root = resolve(import.meta.dirname, '..');
  let output = '';
  try {
    execFileSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root], {
      cwd: root,
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || String(err);
  }
  expect(output).toBe('');
}, 300_000);
