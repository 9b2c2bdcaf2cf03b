import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

// core/ must be a pure function of its inputs. This scanner is the test's own: it reads source text and
// reports every reach for ambient time, randomness, timers, I/O, Node modules or code outside core/.
const root = resolve(import.meta.dirname, '../..');
const coreDir = join(root, 'core');

const AMBIENT: Array<[RegExp, string]> = [
  [/\bDate\.now\b/, 'wall clock (Date.now)'],
  [/\bnew Date\b/, 'wall clock (new Date)'],
  [/\bDate\(\s*\)/, 'wall clock (Date())'],
  [/\bperformance\b/, 'wall clock (performance)'],
  [/\bprocess\b\s*\./, 'process'],
  [/\bMath\.random\b/, 'ambient randomness (Math.random)'],
  [/\bcrypto\b\s*\./, 'ambient randomness or I/O (crypto)'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval)\b/, 'timers'],
  [/\b(fetch|XMLHttpRequest|WebSocket)\s*\(/, 'network I/O'],
  [/\bconsole\s*\./, 'I/O (console)'],
  [/\brequire\s*\(/, 'dynamic require'],
  [/\bimport\s*\(/, 'dynamic import'],
  [/\b(globalThis|global)\s*[.[]/, 'ambient global state'],
];

// The one package core may use: msgpack, for the codec (a pure encoder/decoder).
const ALLOWED_PACKAGES = new Set(['@msgpack/msgpack']);

export interface Impurity {
  file: string;
  line: number;
  reason: string;
  text: string;
}

function stripComments(source: string): string {
  // Keep line structure so line numbers stay right; blank out block and line comments.
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`])\/\/.*$/gm, (_m, p1: string) => p1);
}

export function findImpurities(file: string, source: string, coreRoot: string): Impurity[] {
  const found: Impurity[] = [];
  const lines = stripComments(source).split('\n');
  lines.forEach((text, i) => {
    for (const [pattern, reason] of AMBIENT) {
      if (pattern.test(text)) found.push({ file, line: i + 1, reason, text: text.trim() });
    }
    for (const m of text.matchAll(/\b(?:from|import)\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (relative(coreRoot, target).startsWith('..')) {
          found.push({ file, line: i + 1, reason: `import from outside core/ (${spec})`, text: text.trim() });
        }
      } else if (!ALLOWED_PACKAGES.has(spec)) {
        found.push({ file, line: i + 1, reason: `import of a module core may not use (${spec})`, text: text.trim() });
      }
    }
  });
  return found;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listTs(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

describe('core/ purity', () => {
  it('no file under core/ reaches for time, randomness, timers, I/O or outside modules', () => {
    const files = listTs(coreDir);
    const impurities = files.flatMap((f) => findImpurities(f, readFileSync(f, 'utf8'), coreDir));
    const report = impurities.map((x) => `${relative(root, x.file)}:${x.line}: ${x.reason}: ${x.text}`).join('\n');
    expect(report).toBe('');
  });

  // The scanner is only trusted because it catches planted impurities.
  const planted: Array<[string, string]> = [
    ['const t = Date.now();', 'wall clock'],
    ['const d = new Date();', 'wall clock'],
    ['const r = Math.random();', 'randomness'],
    ['setTimeout(() => 0, 5);', 'timers'],
    ["import { readFileSync } from 'node:fs';", 'core may not use (node:fs)'],
    ["import fs from 'fs';", 'core may not use (fs)'],
    ["import { x } from '../../sim/world.ts';", 'outside core/'],
    ['const e = process.env.HOME;', 'process'],
    ['const m = await import("./x.ts");', 'dynamic import'],
    ['console.log("hi");', 'console'],
  ];
  for (const [snippet, reason] of planted) {
    it(`catches a planted impurity: ${snippet}`, () => {
      const hits = findImpurities(join(coreDir, 'raft', 'planted.ts'), `// header\n${snippet}\n`, coreDir);
      expect(hits.map((h) => h.reason).join(';')).toContain(reason);
      expect(hits[0]!.line).toBe(2);
    });
  }

  it('accepts pure code, comments that mention Date.now, and imports within core', () => {
    const source = [
      "import { encode } from '@msgpack/msgpack';",
      "import type { Entry } from '../raft/types.ts';",
      '// the driver, not core, reads Date.now()',
      '/* Math.random is forbidden here */',
      'export const f = (now: number) => now + 1;',
    ].join('\n');
    expect(findImpurities(join(coreDir, 'kv', 'ok.ts'), source, coreDir)).toEqual([]);
  });
});
