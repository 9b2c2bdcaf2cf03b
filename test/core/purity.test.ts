import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// core/ must be a pure function of its inputs. This scanner is the test's own: it parses each file with the
// TypeScript parser and reports every free name that is not on a short list of pure built-ins (so Date,
// performance, process, timers, console, globalThis, eval and anything not foreseen are out however they are
// spelled: Date['now'], const D = Date, globalThis.Date), Math used for anything but a named pure function,
// dynamic import and require, and imports of Node modules or of code outside core/.
const root = resolve(import.meta.dirname, '../..');
const coreDir = join(root, 'core');

/** Built-ins with no ambient state: values, constructors and functions that compute only from their arguments. */
const PURE_GLOBALS = new Set([
  'undefined', 'NaN', 'Infinity', 'Number', 'String', 'Boolean', 'BigInt', 'Symbol', 'Array', 'Object', 'Map', 'Set',
  'WeakMap', 'WeakSet', 'JSON', 'RegExp', 'Error', 'RangeError', 'TypeError', 'SyntaxError', 'ArrayBuffer', 'DataView',
  'Uint8Array', 'Uint16Array', 'Uint32Array', 'Int8Array', 'Int16Array', 'Int32Array', 'Float32Array', 'Float64Array',
  'BigInt64Array', 'BigUint64Array', 'TextEncoder', 'TextDecoder', 'isFinite', 'isNaN', 'parseInt', 'parseFloat',
  'encodeURIComponent', 'decodeURIComponent', 'Math',
]);

/** Why a known ambient name is forbidden; any other free name that is not pure is reported as ambient state. */
const AMBIENT_REASONS: Record<string, string> = {
  Date: 'wall clock (Date)',
  performance: 'wall clock (performance)',
  process: 'process',
  crypto: 'ambient randomness or I/O (crypto)',
  setTimeout: 'timers', setInterval: 'timers', setImmediate: 'timers', queueMicrotask: 'timers', clearTimeout: 'timers', clearInterval: 'timers',
  fetch: 'network I/O', XMLHttpRequest: 'network I/O', WebSocket: 'network I/O',
  console: 'I/O (console)',
  require: 'dynamic require',
  globalThis: 'ambient global state', global: 'ambient global state', window: 'ambient global state',
  eval: 'code from strings (eval)', Function: 'code from strings (Function)',
};

// The one package core may use: msgpack, for the codec (a pure encoder/decoder).
const ALLOWED_PACKAGES = new Set(['@msgpack/msgpack']);

export interface Impurity {
  file: string;
  line: number;
  reason: string;
  text: string;
}

/** Is this identifier a use of a name (not a declaration, a property name, a label or part of a type)? */
function isReference(id: ts.Identifier): boolean {
  const p = id.parent;
  if ((ts.isPropertyAccessExpression(p) && p.name === id) || (ts.isQualifiedName(p) && p.right === id)) return false;
  if ((ts.isPropertyAssignment(p) || ts.isMethodDeclaration(p) || ts.isPropertyDeclaration(p) || ts.isGetAccessor(p) || ts.isSetAccessor(p) || ts.isEnumMember(p) || ts.isPropertySignature(p) || ts.isMethodSignature(p)) && p.name === id) return false;
  if ((ts.isBindingElement(p) || ts.isImportSpecifier(p)) && p.propertyName === id) return false;
  if (ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return false;
  // `export { a as b }` uses the local a; `export { a } from './m'` uses nothing of this file.
  if (ts.isExportSpecifier(p)) return p.parent.parent.moduleSpecifier === undefined && id === (p.propertyName ?? p.name);
  return !isDeclarationName(id);
}

/** Is this identifier the name a declaration binds (a variable, parameter, function, class, import...)? */
function isDeclarationName(id: ts.Identifier): boolean {
  const p = id.parent;
  return (ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isFunctionDeclaration(p) || ts.isFunctionExpression(p) || ts.isClassDeclaration(p) || ts.isClassExpression(p) ||
    ts.isImportClause(p) || ts.isImportSpecifier(p) || ts.isNamespaceImport(p) || ts.isEnumDeclaration(p) || ts.isModuleDeclaration(p) || ts.isTypeParameterDeclaration(p) ||
    ts.isBindingElement(p) || ts.isInterfaceDeclaration(p) || ts.isTypeAliasDeclaration(p) || ts.isImportEqualsDeclaration(p)) && (p as { name?: ts.Node }).name === id;
}

export function findImpurities(file: string, source: string, coreRoot: string): Impurity[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Impurity[] = [];
  const report = (node: ts.Node, reason: string): void => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
    found.push({ file, line: line + 1, reason, text: source.split('\n')[line]!.trim() });
  };
  const checkModule = (node: ts.Node, spec: string): void => {
    if (spec.startsWith('.')) {
      if (relative(coreRoot, resolve(dirname(file), spec)).startsWith('..')) report(node, `import from outside core/ (${spec})`);
    } else if (!ALLOWED_PACKAGES.has(spec)) {
      report(node, `import of a module core may not use (${spec})`);
    }
  };

  // Every name the file binds, in any scope: a free name is one used but bound nowhere.
  const declared = new Set<string>();
  const references: ts.Identifier[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isTypeNode(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) {
      if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) declared.add(node.name.text);
      return; // types vanish at run time
    }
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) checkModule(node, node.moduleSpecifier.text);
    if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) checkModule(node, node.moduleReference.expression.text);
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) report(node, 'dynamic import');
    if (ts.isIdentifier(node)) {
      if (isDeclarationName(node)) declared.add(node.text);
      else if (isReference(node)) references.push(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);

  for (const id of references) {
    const name = id.text;
    if (declared.has(name)) continue;
    if (name === 'Math') {
      // Math's functions are pure except random; anything but Math.<pure name> could reach it.
      const p = id.parent;
      const member = ts.isPropertyAccessExpression(p) && p.expression === id ? p.name.text : null;
      if (member === 'random') report(id, 'ambient randomness (Math.random)');
      else if (member === null) report(id, 'Math used other than as Math.<function> (could reach Math.random)');
      continue;
    }
    if (PURE_GLOBALS.has(name)) continue;
    report(id, AMBIENT_REASONS[name] ?? `ambient global state (${name})`);
  }
  return found.sort((a, b) => a.line - b.line);
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
    // Spellings a text pattern misses.
    ["const t = Date['now']();", 'wall clock (Date)'],
    ['const D = Date; const t = D.now();', 'wall clock (Date)'],
    ['const t = globalThis.Date.now();', 'ambient global state'],
    ["const r = Math['random']();", 'Math used other than'],
    ['const { random } = Math;', 'Math used other than'],
    ["const f = eval('Date.now');", 'eval'],
    ["const f = new Function('return Date.now()');", 'Function'],
    ['const p = structuredClone(navigator);', 'ambient global state (navigator)'],
    ["import fs = require('fs');", 'core may not use (fs)'],
    ['const o = { Date: 1 }; const t = Date.now() + o.Date;', 'wall clock (Date)'],
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
      // Names that shadow nothing ambient, properties named like globals, and types.
      'const o = { Date: 1, process: 2 }; const d = o.Date + o.process;',
      'export function g(random: number, xs: readonly Uint8Array[]): number { return Math.floor(random) + Math.max(...xs.map((x) => x.length)); }',
      'type Clock = { now(): number }; interface T { at: Date }',
      'label: for (const k of new Map<string, number>().keys()) { if (k) break label; }',
    ].join('\n');
    expect(findImpurities(join(coreDir, 'kv', 'ok.ts'), source, coreDir)).toEqual([]);
  });
});
