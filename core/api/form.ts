// Go's net/url and mime parsing as etcd's HTTP layer sees it: percent-decoding, query and form bodies
// with repeated keys, and the media-type check. Errors carry Go's messages because etcd puts them in the
// `cause` of its 210 "Invalid POST form" error.

/** Form values by key, in arrival order; etcd reads the first value of each key. */
export type FormValues = Map<string, string[]>;

const utf8Encoder = new TextEncoder();

/** The lone surrogate standing for an invalid byte; see decodeUtf8Lossless. */
export const INVALID_BYTE_BASE = 0xdc00;

/**
 * UTF-8 bytes to a string, keeping invalid bytes recoverable: each byte Go's utf8 decoder would reject
 * (one at a time, as Go does) becomes the lone surrogate U+DC00+byte. Two values differ exactly when their
 * bytes differ, and the JSON writer prints each such byte as Go does ("\ufffd").
 */
export function decodeUtf8Lossless(bytes: Uint8Array): string {
  // Valid UTF-8 (nearly every request) decodes natively; a body of megabytes built one character at a time
  // spent most of its time in the garbage collector.
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return decodeUtf8Slowly(bytes);
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8Slowly(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    }
    let cp = need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
    let ok = need > 0 && i + need < bytes.length;
    for (let k = 1; ok && k <= need; k++) {
      const c = bytes[i + k]!;
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (c < min || c > max) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    if (ok) {
      out += String.fromCodePoint(cp);
      i += need + 1;
    } else {
      out += String.fromCharCode(INVALID_BYTE_BASE + b);
      i++;
    }
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Go's strconv.Quote for the short strings that appear in error messages. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

export type Unescaped = { ok: true; text: string } | { ok: false; error: string };

/**
 * Go's url unescape. `plusIsSpace` is query mode ('+' means a space). Bytes are decoded with
 * decodeUtf8Lossless, so invalid UTF-8 survives into the store as etcd keeps it (raw bytes).
 */
export function unescape(s: string, plusIsSpace: boolean): Unescaped {
  if (!s.includes('%') && !(plusIsSpace && s.includes('+'))) return { ok: true, text: s };
  const bytes = utf8Encoder.encode(s);
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 37) {
      const hi = i + 1 < bytes.length ? hexValue(bytes[i + 1]!) : -1;
      const lo = i + 2 < bytes.length ? hexValue(bytes[i + 2]!) : -1;
      if (hi < 0 || lo < 0) {
        const bad = decodeUtf8Lossless(bytes.subarray(i, Math.min(i + 3, bytes.length)));
        return { ok: false, error: `invalid URL escape ${goQuote(bad)}` };
      }
      out[n++] = hi * 16 + lo;
      i += 2;
    } else if (b === 43 && plusIsSpace) {
      out[n++] = 32;
    } else {
      out[n++] = b;
    }
  }
  return { ok: true, text: decodeUtf8Lossless(out.subarray(0, n)) };
}

/** Go's url.ParseQuery: every well-formed pair is kept; the first error is reported as well. */
export function parseQuery(query: string, into: FormValues = new Map()): { values: FormValues; error: string | null } {
  let error: string | null = null;
  for (const pair of query.split('&')) {
    if (pair.includes(';')) {
      error ??= 'invalid semicolon separator in query';
      continue;
    }
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = unescape(eq < 0 ? pair : pair.slice(0, eq), true);
    if (!key.ok) {
      error ??= key.error;
      continue;
    }
    const value = unescape(eq < 0 ? '' : pair.slice(eq + 1), true);
    if (!value.ok) {
      error ??= value.error;
      continue;
    }
    const list = into.get(key.text);
    if (list === undefined) into.set(key.text, [value.text]);
    else list.push(value.text);
  }
  return { values: into, error };
}

function isTokenChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code > 0x20 && code < 0x7f && !'()<>@,;:\\"/[]?='.includes(c);
}

function consumeToken(s: string): [string, string] {
  let i = 0;
  while (i < s.length && isTokenChar(s[i]!)) i++;
  return [s.slice(0, i), s.slice(i)];
}

/** Go's mime.ParseMediaType, reduced to what decides form parsing: the lower-cased media type, or
 * Go's error message. Parameters are checked for shape only. */
export function parseMediaType(contentType: string): { mediaType: string } | { error: string } {
  const semicolon = contentType.indexOf(';');
  const base = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  const [first, rest] = consumeToken(base);
  if (first === '') return { error: 'mime: no media type' };
  if (rest !== '') {
    if (rest[0] !== '/') return { error: 'mime: expected slash after first token' };
    const [sub, after] = consumeToken(rest.slice(1));
    if (sub === '') return { error: 'mime: expected token after slash' };
    if (after !== '') return { error: 'mime: unexpected content after media subtype' };
  }
  if (semicolon >= 0) {
    const seen = new Set<string>();
    for (const raw of contentType.slice(semicolon + 1).split(';')) {
      const param = raw.trim();
      if (param === '') continue;
      const eq = param.indexOf('=');
      const name = eq < 0 ? '' : param.slice(0, eq).trim().toLowerCase();
      const value = eq < 0 ? '' : param.slice(eq + 1).trim();
      const quoted = value.length >= 2 && value.startsWith('"') && value.endsWith('"');
      if (name === '' || consumeToken(name)[1] !== '' || (!quoted && (value === '' || consumeToken(value)[1] !== ''))) {
        return { error: 'mime: invalid media parameter' };
      }
      if (seen.has(name)) return { error: 'mime: duplicate parameter name' };
      seen.add(name);
    }
  }
  return { mediaType: base };
}

/** Go's Request.ParseForm: body values (POST and PUT with a form content type) come before query values. */
export function parseForm(method: string, query: string, body: string, contentType: string | null): { values: FormValues; error: string | null } {
  const values: FormValues = new Map();
  let error: string | null = null;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const media = parseMediaType(contentType === null || contentType === '' ? 'application/octet-stream' : contentType);
    if ('error' in media) error = media.error;
    else if (media.mediaType === 'application/x-www-form-urlencoded') error = parseQuery(body, values).error;
  }
  const fromQuery = parseQuery(query, values);
  return { values, error: error ?? fromQuery.error };
}
