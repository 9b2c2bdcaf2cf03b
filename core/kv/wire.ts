// Strings that msgpack cannot carry as they are. Keys and values may hold lone UTF-16 surrogates (each
// stands for a byte that was not valid UTF-8, see core/api/form.ts), and @msgpack/msgpack encodes strings
// longer than 50 units with TextEncoder, which replaces lone surrogates by U+FFFD: a checkpoint would
// silently change the data. Before encoding, every lone surrogate and every U+FFFF become U+FFFF
// followed by a private-use character; the mapping is reversible, and strings without either are left
// untouched (the common case costs one regular-expression test).

const NEEDS_ESCAPE = /\uffff|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const NEEDS_ESCAPE_ALL = new RegExp(NEEDS_ESCAPE.source, 'g');
const ESCAPED = /\uffff([\s\S])/g;
const MARK = 0xffff;
// A lone surrogate 0xD800+k is written as MARK, 0xE000+k (k < 0x800); MARK itself as MARK, 0xE800.
const LITERAL_MARK = 0xe800;

export function escapeLoneSurrogates(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(NEEDS_ESCAPE_ALL, (ch) => {
    const c = ch.charCodeAt(0);
    return String.fromCharCode(MARK, c === MARK ? LITERAL_MARK : 0xe000 + (c - 0xd800));
  });
}

export function unescapeLoneSurrogates(s: string): string {
  if (!s.includes('\uffff')) return s;
  return s.replace(ESCAPED, (_m, next: string) => {
    const c = next.charCodeAt(0);
    return String.fromCharCode(c === LITERAL_MARK ? MARK : 0xd800 + (c - 0xe000));
  });
}

/**
 * Plain data with every string (object keys included) passed through `f`. Parts in which `f` changes nothing are
 * returned as they are, not copied: a whole store checkpoints without a copy unless a string needs escaping.
 */
export function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const mapped = mapStrings(item, f);
      if (copy === null && mapped !== item) copy = value.slice(0, i);
      if (copy !== null) copy.push(mapped);
    }
    return copy ?? value;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    let copy: Record<string, unknown> | null = null;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const mappedKey = f(key);
      const mapped = mapStrings(record[key], f);
      if (copy === null && (mappedKey !== key || mapped !== record[key])) {
        copy = Object.getPrototypeOf(value) === null ? (Object.create(null) as Record<string, unknown>) : {};
        for (let j = 0; j < i; j++) copy[keys[j]!] = record[keys[j]!];
      }
      if (copy !== null) copy[mappedKey] = mapped;
    }
    return copy ?? value;
  }
  return value;
}

/** Plain data made safe for msgpack (see the header); `fromMsgpackSafe` undoes it. */
export function toMsgpackSafe<T>(value: T): T {
  return mapStrings(value, escapeLoneSurrogates) as T;
}

export function fromMsgpackSafe<T>(value: T): T {
  return mapStrings(value, unescapeLoneSurrogates) as T;
}
