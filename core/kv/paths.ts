// Lexical path handling with Go's path.Clean rules, because etcd cleans every key with it and the
// cleaned form is what replies, errors and watch matching show.

/** Go's path.Clean: collapse slashes, drop "." and resolve ".." lexically; "" becomes ".". */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  if (isClean(p)) return p;
  const rooted = p.charCodeAt(0) === 47;
  const parts = p.split('/');
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

// The hot path: keys from the API are almost always clean already. One pass: rooted, no empty, "." or
// ".." element, no trailing slash.
function isClean(p: string): boolean {
  const n = p.length;
  if (n === 0 || p.charCodeAt(0) !== 47) return false;
  if (n === 1) return true;
  let elementStart = 1;
  for (let i = 1; i <= n; i++) {
    if (i < n && p.charCodeAt(i) !== 47) continue;
    const len = i - elementStart;
    if (len === 0) return false;
    if (p.charCodeAt(elementStart) === 46 && (len === 1 || (len === 2 && p.charCodeAt(elementStart + 1) === 46))) return false;
    elementStart = i + 1;
  }
  return true;
}

/** The store path of a key: rooted and cleaned, as etcd's path.Clean(path.Join("/", p)). */
export function storePath(p: string): string {
  return p.charCodeAt(0) === 47 && isClean(p) ? p : cleanPath('/' + p);
}

/** Joins a directory path and a child name. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? '/' + name : parent + '/' + name;
}

/** The last element of a cleaned path ("" for the root). */
export function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** The parent directory of a cleaned, non-root path. */
export function parentPath(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/**
 * etcd's isHidden(watchPath, keyPath): whether keyPath, seen from a watch at watchPath, passes through a
 * name starting with "_". A watch deeper than the key (a deleted directory's child) never hides it.
 */
export function isHiddenFrom(watchPath: string, keyPath: string): boolean {
  if (watchPath.length > keyPath.length) return false;
  const rest = keyPath.slice(watchPath.length);
  // Keys are clean and a watch path is one of their prefixes, so the rest needs no cleaning unless it is
  // something unusual; then do exactly what etcd does.
  if (rest === '' || rest.charCodeAt(0) === 47 || watchPath === '/') return ('/' + rest).includes('/_');
  return cleanPath('/' + rest).includes('/_');
}
