// Parsing an HTTP request to etcd's v2 keys API into a KeysRequest, exactly as etcd 3.4 does it: Go's
// ServeMux path cleaning and routing, the method check, Go's form parsing, then etcd's own field checks
// in etcd's order (the first failing check decides the error).
import { ErrorCode, requestError } from '../kv/errors.ts';
import { cleanPath } from '../kv/paths.ts';
import type { KeysRequest } from '../kv/types.ts';
import { parseForm, unescape, type FormValues } from './form.ts';
import type { KeysReply } from './response.ts';

export interface HttpRequestInput {
  method: string;
  /** Raw path as sent, may contain %-escapes, e.g. "/v2/keys/dir/foo". */
  path: string;
  /** Raw query string without '?', may be "". */
  query: string;
  body: string;
  contentType: string | null;
}

export type ParsedKeysRequest = { ok: true; request: KeysRequest } | { ok: false; reply: KeysReply };

export const KEYS_PREFIX = '/v2/keys';
const ALLOWED_METHODS = ['HEAD', 'GET', 'PUT', 'POST', 'DELETE'] as const;
const TEXT_PLAIN = 'text/plain; charset=utf-8';

function plain(status: number, text: string, extra: Record<string, string> = {}): ParsedKeysRequest {
  return {
    ok: false,
    reply: { type: 'http', status, headers: { 'content-type': TEXT_PLAIN, 'x-content-type-options': 'nosniff', ...extra }, body: text + '\n' },
  };
}

function invalid(errorCode: number, cause: string): ParsedKeysRequest {
  return { ok: false, reply: { type: 'error', error: requestError(errorCode, cause) } };
}

// Go's ServeMux cleanPath: path.Clean, keeping a trailing slash.
function muxCleanPath(p: string): string {
  if (p === '') return '/';
  if (p[0] !== '/') p = '/' + p;
  let cleaned = cleanPath(p);
  if (p.endsWith('/') && cleaned !== '/') cleaned += '/';
  return cleaned;
}

// Go's url escaping of a path (encodePath mode), for the Location of a redirect.
function escapePath(p: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(p)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~$&+,/:;=@]/.test(c)) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function redirect(method: string, location: string): ParsedKeysRequest {
  const headers: Record<string, string> = { location };
  let body = '';
  if (method === 'GET' || method === 'HEAD') headers['content-type'] = 'text/html; charset=utf-8';
  if (method === 'GET') body = `<a href="${location.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;')}">Moved Permanently</a>.\n\n`;
  return { ok: false, reply: { type: 'http', status: 301, headers, body } };
}

/** strconv.ParseBool. */
function parseGoBool(s: string): boolean | null {
  switch (s) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false;
    default:
      return null;
  }
}

const MAX_UINT64 = 18446744073709551615n;

/** strconv.ParseUint(s, 10, 64): digits only, no sign, at most 2^64-1. Values past 2^53 lose precision. */
function parseGoUint(s: string): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  if (s.length > 15 && BigInt(s) > MAX_UINT64) return null;
  return Number(s);
}

/** The largest TTL whose nanoseconds fit Go's int64 time.Duration (about 292 years). */
const MAX_EXACT_TTL_SECONDS = 9_223_372_036;

/**
 * What etcd makes of a valid ttl: `time.Duration(ttl) * time.Second`, int64 nanoseconds that wrap past 2^63 (a
 * TTL of 2^64-1 is -1 s, one of 2^63 is 0). etcd turns it into an expiry time at parse time, so the wrapped
 * duration is what the request means; it is carried in seconds, exact up to MAX_EXACT_TTL_SECONDS and to the
 * nearest microsecond beyond (where it may be negative or fractional).
 */
function goDurationSeconds(digits: string): number {
  const seconds = BigInt(digits);
  if (seconds <= BigInt(MAX_EXACT_TTL_SECONDS)) return Number(seconds);
  return Number(BigInt.asIntN(64, seconds * 1_000_000_000n)) / 1e9;
}

type Field<T> = { ok: true; value: T } | { ok: false };

function boolField(form: FormValues, key: string): Field<boolean> {
  const vals = form.get(key);
  if (vals === undefined) return { ok: true, value: false };
  const b = parseGoBool(vals[0]!);
  return b === null ? { ok: false } : { ok: true, value: b };
}

function uintField(form: FormValues, key: string): Field<number> {
  const vals = form.get(key);
  if (vals === undefined) return { ok: true, value: 0 };
  const n = parseGoUint(vals[0]!);
  return n === null ? { ok: false } : { ok: true, value: n };
}

function first(form: FormValues, key: string): string {
  return form.get(key)?.[0] ?? '';
}

/** Parses one HTTP request to the keys API: a KeysRequest, or the reply etcd gives to a bad request. */
export function parseKeysRequest(input: HttpRequestInput): ParsedKeysRequest {
  // Go's server refuses a path it cannot decode before any handler runs.
  const decodedPath = unescape(input.path, false);
  if (!decodedPath.ok) return { ok: false, reply: { type: 'http', status: 400, headers: { 'content-type': TEXT_PLAIN, connection: 'close' }, body: '400 Bad Request' } };
  // etcd's CORS layer wraps the router and answers OPTIONS itself, whatever the path.
  if (input.method === 'OPTIONS') return { ok: false, reply: { type: 'http', status: 200, headers: {}, body: '' } };
  const urlPath = decodedPath.text;
  const cleaned = muxCleanPath(urlPath);
  if (cleaned !== urlPath) return redirect(input.method, escapePath(cleaned) + (input.query === '' ? '' : '?' + input.query));
  if (urlPath !== KEYS_PREFIX && !urlPath.startsWith(KEYS_PREFIX + '/')) return plain(404, '404 page not found');
  if (!(ALLOWED_METHODS as readonly string[]).includes(input.method)) {
    return plain(405, 'Method Not Allowed', { allow: ALLOWED_METHODS.join(',') });
  }
  const method = input.method as KeysRequest['method'];

  const { values: form, error: formError } = parseForm(method, input.query, input.body, input.contentType);
  if (formError !== null) return invalid(ErrorCode.InvalidForm, formError);

  const rest = urlPath.slice(KEYS_PREFIX.length);
  const path = cleanPath(rest.startsWith('/') ? rest : '/' + rest);

  const prevIndex = uintField(form, 'prevIndex');
  if (!prevIndex.ok) return invalid(ErrorCode.IndexNaN, 'invalid value for "prevIndex"');
  const waitIndex = uintField(form, 'waitIndex');
  if (!waitIndex.ok) return invalid(ErrorCode.IndexNaN, 'invalid value for "waitIndex"');

  const flags: Record<string, boolean> = {};
  for (const name of ['recursive', 'sorted', 'wait', 'dir', 'quorum', 'stream']) {
    const field = boolField(form, name);
    if (!field.ok) return invalid(ErrorCode.InvalidField, `invalid value for "${name}"`);
    flags[name] = field.value;
  }
  if (flags.wait && method !== 'GET') return invalid(ErrorCode.InvalidField, '"wait" can only be used with GET requests');

  const prevValue = first(form, 'prevValue');
  if (form.has('prevValue') && prevValue === '') return invalid(ErrorCode.PrevValueRequired, '"prevValue" cannot be empty');

  const noValueOnSuccess = boolField(form, 'noValueOnSuccess');
  if (!noValueOnSuccess.ok) return invalid(ErrorCode.InvalidField, 'invalid value for "noValueOnSuccess"');

  // An empty ttl means "no TTL", which on an update removes the node's TTL.
  let ttlSeconds: number | null = null;
  if (first(form, 'ttl') !== '') {
    const ttl = uintField(form, 'ttl');
    if (!ttl.ok) return invalid(ErrorCode.TtlNaN, 'invalid value for "ttl"');
    ttlSeconds = goDurationSeconds(first(form, 'ttl'));
  }

  let prevExist: boolean | null = null;
  if (form.has('prevExist')) {
    const field = boolField(form, 'prevExist');
    if (!field.ok) return invalid(ErrorCode.InvalidField, 'invalid value for prevExist');
    prevExist = field.value;
  }

  let refresh = false;
  if (form.has('refresh')) {
    const field = boolField(form, 'refresh');
    if (!field.ok) return invalid(ErrorCode.InvalidField, 'invalid value for refresh');
    refresh = field.value;
    if (refresh) {
      if (form.has('value') && first(form, 'value') !== '') return invalid(ErrorCode.RefreshValue, 'A value was provided on a refresh');
      if (ttlSeconds === null) return invalid(ErrorCode.RefreshTtlRequired, 'No TTL value set');
    }
  }

  return {
    ok: true,
    request: {
      method,
      path,
      value: first(form, 'value'),
      dir: flags.dir!,
      prevValue,
      prevIndex: prevIndex.value,
      prevExist,
      ttlSeconds,
      refresh,
      wait: flags.wait!,
      waitIndex: waitIndex.value,
      recursive: flags.recursive!,
      sorted: flags.sorted!,
      quorum: flags.quorum!,
      stream: flags.stream!,
      noValueOnSuccess: noValueOnSuccess.value,
    },
  };
}

/** A KeysRequest with every field at its default; handy for building requests in code. */
export function keysRequest(method: KeysRequest['method'], path: string, fields: Partial<KeysRequest> = {}): KeysRequest {
  return {
    method,
    path: cleanPath('/' + path),
    value: '',
    dir: false,
    prevValue: '',
    prevIndex: 0,
    prevExist: null,
    ttlSeconds: null,
    refresh: false,
    wait: false,
    waitIndex: 0,
    recursive: false,
    sorted: false,
    quorum: false,
    stream: false,
    noValueOnSuccess: false,
    ...fields,
  };
}
