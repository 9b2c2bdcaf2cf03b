// Mutants: deliberately broken variants of the code, used to prove that tests and checkers can fail.
// A mutant is a named set of textual edits. It is applied to a fresh copy of the source tree under
// `.mutants/`, never to the tree itself, and the copy is imported like any other module. Each edit must
// match exactly once, so a mutant that no longer applies after a refactor fails loudly instead of
// silently testing the unbroken code.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';

export interface MutantEdit {
  /** Path relative to the tree root, e.g. `core/raft/node.ts`. */
  file: string;
  /** Text (or pattern) that must occur exactly once in the file. */
  find: string | RegExp;
  replace: string;
}

export interface Mutant {
  /** Stable kebab-case name, e.g. `vote-twice-in-a-term`. */
  name: string;
  /** What is broken, in one sentence a reviewer can check against the edit. */
  description: string;
  edits: MutantEdit[];
}

export interface MaterializeOptions {
  /** Root of the tree to copy; defaults to the repository root. */
  root?: string;
  /** Top-level folders to copy; defaults to the source folders a run can import. */
  dirs?: string[];
}

const repoRoot = resolve(import.meta.dirname, '../..');
const DEFAULT_DIRS = ['core', 'sim', 'scenarios', 'net'];
let counter = 0;

function countMatches(text: string, find: string | RegExp): number {
  if (typeof find === 'string') return find.length === 0 ? 0 : text.split(find).length - 1;
  const flags = find.flags.includes('g') ? find.flags : find.flags + 'g';
  return [...text.matchAll(new RegExp(find.source, flags))].length;
}

/** Applies the edits to `source` text of one file; throws unless each edit matches exactly once. */
export function applyEdits(mutant: Mutant, file: string, source: string): string {
  let text = source;
  for (const edit of mutant.edits.filter((e) => e.file === file)) {
    const n = countMatches(text, edit.find);
    if (n !== 1) {
      throw new Error(`mutant '${mutant.name}': edit of ${file} matches ${n} times (must be exactly once): ${String(edit.find)}`);
    }
    text = typeof edit.find === 'string' ? text.replace(edit.find, () => edit.replace) : text.replace(edit.find, edit.replace);
  }
  return text;
}

export interface MaterializedMutant {
  /** Root of the mutated copy; the same relative paths as the original tree. */
  dir: string;
  /** Imports a module of the mutated copy by its path relative to the tree root. */
  import<T = Record<string, unknown>>(relativePath: string): Promise<T>;
  remove(): void;
}

/** Copies the tree into `.mutants/<name>-<pid>-<n>/` with the mutant's edits applied. */
export function materialize(mutant: Mutant, options: MaterializeOptions = {}): MaterializedMutant {
  const root = options.root ?? repoRoot;
  const dirs = options.dirs ?? DEFAULT_DIRS;
  // Worker threads share the pid and each has its own counter: the thread id keeps their copies apart.
  const dir = join(root, '.mutants', `${mutant.name}-${process.pid}-${threadId}-${counter++}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const d of dirs) {
    if (existsSync(join(root, d))) cpSync(join(root, d), join(dir, d), { recursive: true });
  }
  const files = [...new Set(mutant.edits.map((e) => e.file))];
  for (const file of files) {
    const target = join(dir, file);
    if (!existsSync(target)) throw new Error(`mutant '${mutant.name}': no file ${file} in the copied tree`);
    writeFileSync(target, applyEdits(mutant, file, readFileSync(target, 'utf8')));
  }
  return {
    dir,
    import: <T>(relativePath: string) => import(pathToFileURL(join(dir, relativePath)).href) as Promise<T>,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Materializes, imports one module, runs `body` against it, and removes the copy afterwards. */
export async function withMutant<M, R>(
  mutant: Mutant,
  modulePath: string,
  body: (mod: M) => Promise<R> | R,
  options: MaterializeOptions = {},
): Promise<R> {
  const copy = materialize(mutant, options);
  try {
    return await body(await copy.import<M>(modulePath));
  } finally {
    copy.remove();
  }
}
