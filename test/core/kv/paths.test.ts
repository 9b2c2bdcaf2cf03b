import { describe, expect, it } from 'vitest';
import { cleanPath, isHiddenFrom, storePath } from '../../../core/kv/paths.ts';

describe('paths as Go cleans them', () => {
  it('cleanPath follows path.Clean', () => {
    const cases: Array<[string, string]> = [
      ['', '.'], ['/', '/'], ['//', '/'], ['/a/', '/a'], ['/a//b', '/a/b'], ['/a/./b', '/a/b'], ['/a/../b', '/b'],
      ['/..', '/'], ['/../a', '/a'], ['a/..', '.'], ['../a', '../a'], ['/a/.', '/a'], ['/a/..', '/'], ['/.a/..b/...', '/.a/..b/...'],
    ];
    for (const [input, want] of cases) expect([input, cleanPath(input)]).toEqual([input, want]);
  });

  it('storePath roots and cleans, keeping already-clean keys as they are', () => {
    expect(['a', '/a/b/', '/a/.hidden', '/', '/x/../y'].map(storePath)).toEqual(['/a', '/a/b', '/a/.hidden', '/', '/y']);
  });

  it('isHiddenFrom looks only below the watched path', () => {
    expect(isHiddenFrom('/', '/_a')).toBe(true);
    expect(isHiddenFrom('/', '/a/_b/c')).toBe(true);
    expect(isHiddenFrom('/_a', '/_a/b')).toBe(false);
    expect(isHiddenFrom('/a', '/a/b')).toBe(false);
    expect(isHiddenFrom('/a/b/c', '/a')).toBe(false);
  });
});
